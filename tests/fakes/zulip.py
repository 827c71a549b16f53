"""A local Zulip server that the real `zulip` client talks to.

`ZulipEmulator` answers `/api/v1/...` like a Zulip server, so a test runs the real
`zulip.Client(email=..., api_key=..., site=emulator.url)` against it. Answers use Zulip's
envelope (`{"result": "success", "msg": "", ...}` / `{"result": "error", "msg": ..., "code": ...}`)
and the shapes of Zulip's API documentation (zulip.com/api).

Emulated, for one organization whose bot is `email`:
- `GET server_settings` (no authentication, as on Zulip); every other endpoint checks HTTP
  Basic authentication (401 `UNAUTHORIZED` otherwise);
- `POST register` (queue id, `last_event_id` -1, `event_queue_longpoll_timeout_seconds`,
  `max_message_id` and `realm_users` when those data are fetched), `GET events` (long polls
  that answer as soon as an event is queued, or with a `heartbeat` after `heartbeat_seconds`;
  `last_event_id` confirms and prunes events; `dont_block`), `DELETE events` (deregister, which
  ends a waiting poll), and `BAD_EVENT_QUEUE_ID` (400) for an unknown, deleted or expired
  queue: queues expire after `queue_timeout_seconds` without a poll, or when a test says;
- `POST user_uploads`: one file as `multipart/form-data` (400 without one or with several,
  and over `max_upload_mib`), answered with its `url` (from feature level 272) and `uri`;
  `upload_linked` reads back the file a message links to;
- `POST messages` (`type` private, direct (from feature level 174), stream or channel; `to` as
  user ids or emails; "Invalid user ID", empty content, truncation beyond 10,000 characters),
  `GET messages` (`anchor`, `num_before`, `num_after`; narrows `is:dm`, `is:private`,
  `is:mentioned`, `channel`/`stream`, `sender`), `GET users/me`, `GET users/{id}`;
- every queue receives every event it registered for, the bot's own messages included;
- rate limits per user on every endpoint but `/events` (which Zulip's Tornado serves): the
  `X-RateLimit-Limit`, `-Remaining` and `-Reset` headers, and 429 `RATE_LIMIT_HIT` with
  `retry-after` and a `Retry-After` header; `Faults`;
- the organization's side: `add_user`, `user_joins` (a `realm_user` add event), `dm_from`,
  `group_dm_from`, `stream_message` (mentioning the bot by default), `upload_from`, `poll_from`,
  `redeliver`, `queue_event` (any shape), and outgoing webhooks (`outgoing_webhook_payload`,
  and `deliver_webhook`, which then posts the bot's answer, or "Failure! …", as Zulip does).

Not emulated: other endpoints (404), streams' subscriptions and permissions (the bot sees every
stream), message edits, reactions, downloading uploads, presence, and Markdown rendering
(`apply_markdown` is ignored: content is kept as sent).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import itertools
import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import (
    FakeServer,
    Fault,
    Faults,
    RateLimiter,
    Recorded,
    Upload,
    multipart_form,
)

JSON = dict[str, Any]
Limit = tuple[int, float]  # (requests, per seconds)

DEFAULT_EMAIL = "onramp-bot@zulip.example.org"
DEFAULT_API_KEY = "QxKEc1YsBqwL7mZu4TfoHZ8b2vq5aN0j"  # 32 characters, as Zulip makes them
FEATURE_LEVEL = 334  # Zulip 10.0
MAX_MESSAGE_LENGTH = 10_000
ROLE_MEMBER = 400
_WILDCARDS = ("all", "everyone", "channel", "stream", "topic")


class ZulipError(Exception):
    """An error answer in Zulip's envelope."""

    def __init__(self, status: int, msg: str, code: str = "BAD_REQUEST", **extra: Any) -> None:
        super().__init__(msg)
        self.status, self.msg, self.code, self.extra = status, msg, code, extra

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        body = {"result": "error", "msg": self.msg, "code": self.code, **self.extra}
        return JSONResponse(body, status_code=self.status, headers=headers)


def _bad(msg: str, code: str = "BAD_REQUEST", **extra: Any) -> ZulipError:
    return ZulipError(400, msg, code, **extra)


class _Window(RateLimiter):
    """The emulator's rate limit, which also says what Zulip's headers say."""

    def state(self, key: str, now: float) -> tuple[int, float]:
        """(requests left in the window, Unix time at which the window is empty again)."""
        with self._lock:
            hits = [hit for hit in self._hits[key] if now - hit < self.per]
            last = hits[-1] if hits else now - self.per
        return max(0, self.limit - len(hits)), time.time() + (last + self.per - now)


@dataclass
class _Queue:
    """One registered event queue and the polls waiting on it."""

    id: str
    event_types: frozenset[str] | None  # None: every type
    events: list[JSON] = field(default_factory=list)
    next_id: int = 0
    polled_at: float = field(default_factory=time.monotonic)
    waiters: list[_Waiter] = field(default_factory=list)
    deleted: bool = False

    def wants(self, kind: str) -> bool:
        return self.event_types is None or kind in self.event_types

    def add(self, event: JSON) -> None:
        self.events.append({**event, "id": self.next_id})
        self.next_id += 1
        for waiter in self.waiters:
            waiter.wake()


class _Waiter:
    """A long poll waiting on the server's loop; other threads wake it."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()

    def wake(self) -> None:
        with contextlib.suppress(RuntimeError):  # the server's loop has closed
            self.loop.call_soon_threadsafe(self.event.set)


class ZulipEmulator:
    """A Zulip organization and its bot, served on loopback; use as a context manager."""

    def __init__(
        self,
        email: str = DEFAULT_EMAIL,
        api_key: str = DEFAULT_API_KEY,
        *,
        bot_full_name: str = "Onramp",
        bot_user_id: int = 9,
        rate_limit: Limit | None = (200, 60.0),
        heartbeat_seconds: float = 50.0,
        queue_timeout_seconds: float = 600.0,
        longpoll_timeout_seconds: int = 90,
        feature_level: int = FEATURE_LEVEL,
        realm_name: str = "Open Health Commons",
        max_upload_mib: int = 25,
    ) -> None:
        self.email = email
        self.api_key = api_key
        self.rate_limit = _Window(*rate_limit) if rate_limit else None
        self.heartbeat_seconds = heartbeat_seconds
        self.queue_timeout_seconds = queue_timeout_seconds
        self.longpoll_timeout_seconds = longpoll_timeout_seconds
        self.feature_level = feature_level
        self.realm_name = realm_name
        self.max_upload_mib = max_upload_mib
        self.uploads: dict[str, Upload] = {}  # /user_uploads/… path -> the file uploaded
        self.faults = Faults()
        self.requests: list[Recorded] = []
        self.throttled: list[str] = []  # the paths of requests refused with 429
        self._lock = threading.Lock()
        self._user_ids = itertools.count(1001)
        self._message_ids = itertools.count(3001)
        self._users: dict[int, JSON] = {}
        self._messages: list[JSON] = []  # every message the bot can see, oldest first
        self._streams: dict[str, int] = {}
        self._queues: dict[str, _Queue] = {}
        self.bot = self._new_user(bot_full_name, email, user_id=bot_user_id, is_bot=True)
        routes = [
            Route("/api/v1/server_settings", self._server_settings, methods=["GET"]),
            Route("/api/v1/{path:path}", self._endpoint, methods=["GET", "POST", "DELETE"]),
        ]
        self.server = FakeServer(Starlette(routes=routes))
        self.url = self.server.url

    def start(self) -> ZulipEmulator:
        self.server.start()
        return self

    def stop(self) -> None:
        self.expire_queues()  # ends waiting polls
        self.server.stop()

    def __enter__(self) -> ZulipEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # What the bot did.

    def calls(self, path: str, method: str | None = None) -> list[JSON]:
        """The decoded parameters of every request to `/api/v1/<path>`, answered or not."""
        with self._lock:
            return [
                r.params
                for r in self.requests
                if r.path == f"/api/v1/{path}" and method in (None, r.method)
            ]

    def messages_to(self, user: JSON | int) -> list[JSON]:
        """The direct messages the bot sent to `user` alone, oldest first."""
        user_id = user if isinstance(user, int) else user["user_id"]
        with self._lock:
            return [
                copy.deepcopy(m)
                for m in self._messages
                if m["sender_id"] == self.bot["user_id"]
                and m["type"] == "private"
                and {r["id"] for r in m["display_recipient"]} == {user_id, self.bot["user_id"]}
            ]

    def upload_linked(self, message: JSON) -> Upload:
        """The file the bot uploaded that `message` (one of `messages_to`) links to."""
        found = re.search(r"\((/user_uploads/[^)\s]+)\)", message["content"])
        assert found is not None, f"no upload linked in {message['content']!r}"
        with self._lock:
            return self.uploads[found[1]]

    def sent(self) -> list[JSON]:
        """Every message the bot sent, oldest first."""
        with self._lock:
            return [
                copy.deepcopy(m) for m in self._messages if m["sender_id"] == self.bot["user_id"]
            ]

    @property
    def queue_ids(self) -> list[str]:
        with self._lock:
            return [q.id for q in self._queues.values() if not q.deleted]

    @property
    def long_polls(self) -> int:
        """How many `GET events` requests are waiting now."""
        with self._lock:
            return sum(len(q.waiters) for q in self._queues.values())

    def expire_queues(self, *queue_ids: str) -> None:
        """Garbage-collect these queues (all, if none is named), as Zulip does after 10 minutes
        without a poll; a poll waiting on one gets BAD_EVENT_QUEUE_ID."""
        with self._lock:
            for queue in list(self._queues.values()):
                if not queue_ids or queue.id in queue_ids:
                    self._delete_queue(queue)

    def fail(self, path: str, status: int, *, times: int = 1, body: JSON | None = None) -> None:
        """Answer the next `times` requests to `/api/v1/<path>` with `status`."""
        error = body or {"result": "error", "msg": "Internal server error", "code": "BAD_REQUEST"}
        self.faults.add(Fault(status=status, body=error, times=times, path=f"/api/v1/{path}"))

    # The organization's side.

    def add_user(
        self,
        full_name: str,
        *,
        email: str | None = None,
        user_id: int | None = None,
        timezone: str = "",
        date_joined: datetime | None = None,
    ) -> JSON:
        """A member of the organization, quietly (no event)."""
        with self._lock:
            return copy.deepcopy(
                self._new_user(full_name, email, user_id, timezone=timezone, joined=date_joined)
            )

    def user_joins(self, full_name: str, **details: Any) -> JSON:
        """Someone joins the organization: every queue that wants `realm_user` gets an `add`."""
        user = self.add_user(full_name, **details)
        self._publish("realm_user", {"type": "realm_user", "op": "add", "person": user})
        return user

    def dm_from(self, user: JSON, content: str) -> JSON:
        """`user` writes to the bot in a direct message; returns the message."""
        return self._post_message(user, "private", [user["user_id"], self.bot["user_id"]], content)

    def group_dm_from(self, user: JSON, others: Iterable[JSON], content: str) -> JSON:
        """A direct message from `user` to the bot and `others` together."""
        ids = [user["user_id"], self.bot["user_id"], *(o["user_id"] for o in others)]
        return self._post_message(user, "private", ids, content)

    def stream_message(
        self, user: JSON, stream: str, topic: str, content: str, *, mention_bot: bool = True
    ) -> JSON:
        """`user` writes in `stream` > `topic`, by default after an @-mention of the bot."""
        text = f"{self.mention()} {content}" if mention_bot else content
        return self._post_message(user, "stream", stream, text, topic=topic)

    def upload_from(self, user: JSON, filename: str, caption: str = "") -> JSON:
        """A direct message carrying an uploaded file, as Zulip's composebox writes it."""
        link = f"[{filename}](/user_uploads/2/4f/{uuid.uuid4().hex[:24]}/{filename})"
        return self.dm_from(user, f"{caption}\n{link}".strip())

    def poll_from(self, user: JSON, question: str) -> JSON:
        """A direct message that is a poll (`/poll`), whose widget travels as a submessage."""
        widget = {"widget_type": "poll", "extra_data": {"question": question, "options": []}}
        with self._lock:
            ids = [user["user_id"], self.bot["user_id"]]
            sender = self._users[user["user_id"]]
            message = self._store(sender, "private", ids, f"/poll {question}", "")
            message["submessages"] = [
                {
                    "id": message["id"] * 10,
                    "message_id": message["id"],
                    "sender_id": user["user_id"],
                    "msg_type": "widget",
                    "content": json.dumps(widget),
                }
            ]
        self._publish("message", None, message)
        return self._without_flags(message)

    def queue_event(self, event: JSON) -> None:
        """Any event, of any shape, in every queue that registered for its `type` (or for
        every type): for tests of what a bot does with the unexpected."""
        kind = str(event.get("type"))
        with self._lock:
            for queue in self._queues.values():
                if queue.event_types is None or kind in queue.event_types:
                    queue.add(copy.deepcopy(event))

    def redeliver(self, message: JSON) -> None:
        """The same message again in every queue (a second delivery of one message id)."""
        with self._lock:
            stored = next(m for m in self._messages if m["id"] == message["id"])
            event = {"type": "message", "message": self._without_flags(stored)}
            event["flags"] = stored["flags"]
            for queue in self._queues.values():
                if queue.wants("message"):
                    queue.add(copy.deepcopy(event))

    def mention(self, user: JSON | None = None) -> str:
        """How the composebox writes an @-mention of `user` (the bot by default)."""
        return f"@**{(user or self.bot)['full_name']}**"

    def outgoing_webhook_payload(
        self, message: JSON, token: str, *, trigger: str | None = None
    ) -> JSON:
        """What Zulip POSTs to an outgoing-webhook bot for `message` (Zulip format)."""
        if trigger is None:
            trigger = "direct_message" if message["type"] == "private" else "mention"
        return {
            "bot_email": self.bot["email"],
            "bot_full_name": self.bot["full_name"],
            "data": message["content"],
            "message": self._without_flags(message) | {"rendered_content": ""},
            "token": token,
            "trigger": trigger,
        }

    def deliver_webhook(
        self, url: str, payload: JSON | bytes, content_type: str | None = "application/json"
    ) -> httpx.Response:
        """POST an outgoing-webhook payload to the bot (10 s timeout), and then do what Zulip
        does with the answer: post its `content` as the bot where the message was (a 2xx), or
        tell the sender "Failure! Third party responded with N" (any other status). Call it
        from a thread when the bot serves on the caller's loop."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"User-Agent": "ZulipOutgoingWebhook/10.0"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        with httpx.Client(timeout=10) as client:
            response = client.post(url, content=body, headers=headers)
        message = payload.get("message") if isinstance(payload, dict) else None
        if isinstance(message, dict) and message.get("id") in self._message_id_set():
            content = _answer_content(response)
            if content:
                self._reply_to(message, content)
        return response

    def _message_id_set(self) -> set[int]:
        with self._lock:
            return {m["id"] for m in self._messages}

    def _reply_to(self, message: JSON, content: str) -> None:
        """The bot posts `content` to the conversation of `message`."""
        with self._lock:
            if message["type"] == "private":
                ids = [r["id"] for r in message["display_recipient"]]
                posted = self._store(self.bot, "private", ids, content, "")
            else:
                stream, topic = message["display_recipient"], message["subject"]
                posted = self._store(self.bot, "stream", stream, content, topic)
        self._publish("message", None, posted)

    # Shared state; callers hold self._lock.

    def _new_user(
        self,
        full_name: str,
        email: str | None,
        user_id: int | None = None,
        *,
        is_bot: bool = False,
        timezone: str = "",
        joined: datetime | None = None,
    ) -> JSON:
        user_id = user_id if user_id is not None else next(self._user_ids)
        slug = re.sub(r"[^a-z0-9]+", ".", full_name.lower()).strip(".") or "user"
        user = {
            "user_id": user_id,
            "email": email or f"{slug}.{user_id}@zulip.example.org",
            "full_name": full_name,
            "avatar_url": None,
            "is_active": True,
            "is_bot": is_bot,
            "is_admin": False,
            "is_owner": False,
            "is_guest": False,
            "role": ROLE_MEMBER,
            "timezone": timezone,
            "date_joined": (joined or datetime.now(UTC)).isoformat(),
            "delivery_email": None,
            "profile_data": {},
        }
        if is_bot:
            user |= {"bot_type": 1, "bot_owner_id": None}
        self._users[user_id] = user
        return user

    def _post_message(
        self, sender: JSON, kind: str, to: Any, content: str, *, topic: str = ""
    ) -> JSON:
        with self._lock:
            message = self._store(self._users[sender["user_id"]], kind, to, content, topic)
        self._publish("message", None, message)
        return self._without_flags(message)

    def _store(self, sender: JSON, kind: str, to: Any, content: str, topic: str) -> JSON:
        message: JSON = {
            "id": next(self._message_ids),
            "sender_id": sender["user_id"],
            "sender_email": sender["email"],
            "sender_full_name": sender["full_name"],
            "sender_realm_str": "zulip",
            "avatar_url": None,
            "client": "website",
            "content": content,
            "content_type": "text/x-markdown",
            "is_me_message": content.startswith("/me "),
            "reactions": [],
            "submessages": [],
            "topic_links": [],
            "timestamp": int(time.time()),
        }
        if kind == "private":
            members = sorted(set(to), key=lambda user_id: user_id)
            message |= {
                "type": "private",
                "display_recipient": [self._recipient(user_id) for user_id in members],
                "recipient_id": 50_000 + sum(members) % 10_000,
                "subject": "",
            }
        else:
            stream_id = self._streams.setdefault(to, 20 + len(self._streams))
            message |= {
                "type": "stream",
                "display_recipient": to,
                "stream_id": stream_id,
                "recipient_id": 40_000 + stream_id,
                "subject": topic,
            }
        message["flags"] = self._flags(message)
        self._messages.append(message)
        return message

    def _recipient(self, user_id: int) -> JSON:
        user = self._users[user_id]
        return {
            "id": user_id,
            "email": user["email"],
            "full_name": user["full_name"],
            "is_mirror_dummy": False,
        }

    def _flags(self, message: JSON) -> list[str]:
        """The bot's flags on `message`."""
        if message["sender_id"] == self.bot["user_id"]:
            return ["read"]
        name = re.escape(self.bot["full_name"])
        flags = []
        if re.search(rf"@\*\*{name}(\|{self.bot['user_id']})?\*\*", message["content"]):
            flags.append("mentioned")
        if re.search(rf"@\*\*({'|'.join(_WILDCARDS)})\*\*", message["content"]):
            flags.append("wildcard_mentioned")
        return flags

    @staticmethod
    def _without_flags(message: JSON) -> JSON:
        return {k: copy.deepcopy(v) for k, v in message.items() if k != "flags"}

    def _publish(self, kind: str, event: JSON | None, message: JSON | None = None) -> None:
        with self._lock:
            for queue in self._queues.values():
                if not queue.wants(kind):
                    continue
                if message is not None:
                    event = {
                        "type": "message",
                        "message": self._without_flags(message),
                        "flags": list(message["flags"]),
                    }
                assert event is not None
                queue.add(copy.deepcopy(event))

    def _delete_queue(self, queue: _Queue) -> None:
        queue.deleted = True
        self._queues.pop(queue.id, None)
        for waiter in queue.waiters:
            waiter.wake()

    def _expire_idle_queues(self) -> None:
        now = time.monotonic()
        for queue in list(self._queues.values()):
            if not queue.waiters and now - queue.polled_at > self.queue_timeout_seconds:
                self._delete_queue(queue)

    # HTTP.

    async def _server_settings(self, request: Request) -> Response:
        self._record(request, await request.body(), dict(request.query_params))
        return JSONResponse(
            {
                "result": "success",
                "msg": "",
                "zulip_version": "10.0",
                "zulip_feature_level": self.feature_level,
                "zulip_merge_base": "10.0",
                "push_notifications_enabled": False,
                "authentication_methods": {"password": True, "dev": False},
                "external_authentication_methods": [],
                "email_auth_enabled": True,
                "require_email_format_usernames": True,
                "realm_url": self.url,
                "realm_uri": self.url,
                "realm_name": self.realm_name,
                "realm_icon": f"{self.url}/static/images/logo/zulip-icon-128x128.png",
                "realm_description": "",
                "realm_web_public_access_enabled": False,
            }
        )

    def _record(self, request: Request, body: bytes, params: JSON) -> None:
        recorded = Recorded(request.method, request.url.path, dict(request.headers), body, params)
        with self._lock:
            self.requests.append(recorded)

    async def _endpoint(self, request: Request) -> Response:
        body = await request.body()
        content_type = request.headers.get("content-type") or ""
        params = {**request.query_params, **_form(content_type, body)}
        files = multipart_form(content_type, body)
        params |= {k: v for k, v in files.items() if isinstance(v, str)}
        uploads = [v for v in files.values() if isinstance(v, Upload)]
        if uploads:
            params["_files"] = uploads
        self._record(request, body, params)
        if fault := self.faults.take(request.url.path):
            await asyncio.sleep(fault.delay)
            if fault.status is not None:
                return JSONResponse(fault.body, fault.status, headers=fault.headers)
        path, method = request.path_params["path"].rstrip("/"), request.method
        headers: dict[str, str] = {}
        try:
            self._authenticate(request.headers.get("authorization", ""))
            if path != "events":  # Tornado serves /events, outside Django's rate limits
                headers = self._count_request()
            result = await self._dispatch(method, path, params)
        except _RateLimited as error:
            with self._lock:
                self.throttled.append(request.url.path)
            return error.response(error.headers)
        except ZulipError as error:
            return error.response(headers)
        return JSONResponse({"result": "success", "msg": "", **result}, headers=headers)

    def _authenticate(self, authorization: str) -> None:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            raise ZulipError(401, "Missing 'Authorization' header.", "UNAUTHORIZED")
        try:
            email, _, key = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            msg = "Invalid authorization header for basic auth"
            raise ZulipError(401, msg, "UNAUTHORIZED") from None
        if email.lower() != self.email.lower() or key != self.api_key:
            raise ZulipError(401, "Invalid API key", "UNAUTHORIZED")

    def _count_request(self) -> dict[str, str]:
        if self.rate_limit is None:
            return {}
        wait = self.rate_limit.hit(self.email)
        remaining, reset = self.rate_limit.state(self.email, time.monotonic())
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(math.ceil(reset)),
        }
        if wait is not None:
            raise _RateLimited(wait, headers | {"Retry-After": str(math.ceil(wait))})
        return headers

    async def _dispatch(self, method: str, path: str, params: JSON) -> JSON:
        handlers: dict[tuple[str, str], Callable[[JSON], Any]] = {
            ("POST", "register"): self._register,
            ("GET", "events"): self._get_events,
            ("DELETE", "events"): self._deregister,
            ("POST", "messages"): self._send_message,
            ("GET", "messages"): self._get_messages,
            ("GET", "users/me"): self._own_user,
            ("POST", "user_uploads"): self._upload,
        }
        handler = handlers.get((method, path))
        if handler is not None:
            result = handler(params)
            return await result if asyncio.iscoroutine(result) else result
        if method == "GET" and (found := re.fullmatch(r"users/(\d+)", path)):
            return self._user(int(found.group(1)))
        raise ZulipError(404, "Endpoint not found", "BAD_REQUEST")

    # Endpoints.

    def _register(self, params: JSON) -> JSON:
        event_types = _json_param(params, "event_types")
        fetch = _json_param(params, "fetch_event_types", event_types)
        queue = _Queue(
            id=str(uuid.uuid4()),
            event_types=frozenset(event_types) if event_types is not None else None,
        )
        result: JSON = {
            "queue_id": queue.id,
            "last_event_id": -1,
            "zulip_version": "10.0",
            "zulip_feature_level": self.feature_level,
            "zulip_merge_base": "10.0",
            "event_queue_longpoll_timeout_seconds": self.longpoll_timeout_seconds,
        }
        with self._lock:
            self._expire_idle_queues()
            self._queues[queue.id] = queue
            if fetch is None or "message" in fetch:
                result["max_message_id"] = max((m["id"] for m in self._messages), default=-1)
            if fetch is None or "realm_user" in fetch:
                result["realm_users"] = [
                    copy.deepcopy(u) for u in self._users.values() if u["is_active"]
                ]
        return result

    async def _get_events(self, params: JSON) -> JSON:
        queue_id = str(params.get("queue_id") or "")
        try:
            last_event_id = int(params.get("last_event_id", -1))
        except ValueError:
            raise _bad("Invalid last_event_id") from None
        with self._lock:
            self._expire_idle_queues()
            queue = self._live_queue(queue_id)
            queue.polled_at = time.monotonic()
            queue.events = [e for e in queue.events if e["id"] > last_event_id]
            if queue.events or _true(params.get("dont_block")):
                return {"events": copy.deepcopy(queue.events), "queue_id": queue.id}
            waiter = _Waiter()
            queue.waiters.append(waiter)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter.event.wait(), self.heartbeat_seconds)
        with self._lock:
            queue.waiters.remove(waiter)
            queue.polled_at = time.monotonic()
            queue = self._live_queue(queue_id)
            if not queue.events:
                queue.add({"type": "heartbeat"})
            return {"events": copy.deepcopy(queue.events), "queue_id": queue.id}

    def _live_queue(self, queue_id: str) -> _Queue:
        queue = self._queues.get(queue_id)
        if queue is None or queue.deleted:
            raise _bad(f"Bad event queue ID: {queue_id}", "BAD_EVENT_QUEUE_ID", queue_id=queue_id)
        return queue

    def _upload(self, params: JSON) -> JSON:
        files = params.get("_files") or []
        if not files:
            raise _bad("You must specify a file.")
        if len(files) > 1:
            raise _bad("You may only upload one file at a time.")
        upload: Upload = files[0]
        if len(upload.content) > self.max_upload_mib * 1024 * 1024:
            limit = f"({self.max_upload_mib} MiB)"
            raise _bad(f"File is larger than this server's configured maximum upload size {limit}.")
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", upload.filename) or "uploaded-file"
        path = f"/user_uploads/2/{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex[:24]}/{name}"
        with self._lock:
            self.uploads[path] = upload
        answer: JSON = {"uri": path, "filename": name}
        if self.feature_level >= 272:
            answer["url"] = path
        return answer

    def _deregister(self, params: JSON) -> JSON:
        with self._lock:
            self._delete_queue(self._live_queue(str(params.get("queue_id") or "")))
        return {}

    def _send_message(self, params: JSON) -> JSON:
        kind = str(params.get("type") or "")
        content = str(params.get("content") or "")
        if kind == "direct" and self.feature_level < 174:
            raise _bad("Invalid message type")
        if kind not in ("private", "direct", "stream", "channel"):
            raise _bad("Invalid message type")
        if not content.strip():
            raise _bad("Message must not be empty")
        if len(content) > MAX_MESSAGE_LENGTH:
            content = content[: MAX_MESSAGE_LENGTH - 20] + "\n[message truncated]"
        with self._lock:
            if kind in ("private", "direct"):
                ids = [self._user_id(to) for to in _recipients(params.get("to"))]
                if not ids:
                    raise _bad("Message must have recipients")
                message = self._store(self.bot, "private", [*ids, self.bot["user_id"]], content, "")
            else:
                stream = str(params.get("to") or "").strip('"')
                topic = str(params.get("topic") or params.get("subject") or "")
                if not stream:
                    raise _bad("Missing channel")
                message = self._store(self.bot, "stream", stream, content, topic)
        self._publish("message", None, message)
        return {"id": message["id"]}

    def _user_id(self, to: Any) -> int:
        if isinstance(to, int) and not isinstance(to, bool):
            if to in self._users and self._users[to]["is_active"]:
                return to
            raise _bad(f"Invalid user ID {to}")
        email = str(to).strip()
        for user in self._users.values():
            if user["email"].lower() == email.lower():
                return int(user["user_id"])
        raise _bad(f"Invalid email '{email}'")

    def _get_messages(self, params: JSON) -> JSON:
        anchor = params.get("anchor", "newest")
        try:
            before = int(params.get("num_before", 0))
            after = int(params.get("num_after", 0))
        except ValueError:
            raise _bad("Invalid num_before or num_after") from None
        narrow = _json_param(params, "narrow", []) or []
        with self._lock:
            found = [m for m in self._messages if all(self._matches(m, t) for t in narrow)]
            ids = [m["id"] for m in found]
            if anchor in ("newest", "first_unread"):
                pivot = len(found)
            elif anchor == "oldest":
                pivot = 0
            else:
                pivot = next((n for n, i in enumerate(ids) if i >= int(anchor)), len(found))
            at_anchor = pivot < len(found) and str(ids[pivot]) == str(anchor)
            chosen = found[max(0, pivot - before) : pivot + after + int(at_anchor)]
            return {
                "anchor": ids[-1] if anchor == "newest" and ids else anchor,
                "found_newest": pivot + after >= len(found),
                "found_oldest": pivot - before <= 0,
                "found_anchor": at_anchor,
                "history_limited": False,
                "messages": copy.deepcopy(chosen),
            }

    def _matches(self, message: JSON, term: Any) -> bool:
        if isinstance(term, list) and len(term) == 2:
            operator, operand, negated = term[0], term[1], False
        elif isinstance(term, dict):
            operator, operand = term.get("operator"), term.get("operand")
            negated = bool(term.get("negated"))
        else:
            raise _bad("Invalid narrow")
        match operator, operand:
            case "is", "dm" | "private":
                if operand == "dm" and self.feature_level < 177:
                    raise _bad("Invalid narrow operator: unknown 'is' operand")
                hit = message["type"] == "private"
            case "is", "mentioned":
                hit = "mentioned" in message["flags"] or "wildcard_mentioned" in message["flags"]
            case "channel" | "stream", _:
                hit = message["type"] == "stream" and message["display_recipient"] == operand
            case "sender", _:
                hit = operand in (message["sender_id"], message["sender_email"])
            case _:
                raise _bad(f"Invalid narrow operator: unknown operator {operator!r}")
        return hit != negated

    def _own_user(self, params: JSON) -> JSON:
        with self._lock:
            return copy.deepcopy(self.bot) | {"max_message_id": len(self._messages)}

    def _user(self, user_id: int) -> JSON:
        with self._lock:
            if user_id not in self._users:
                raise _bad("No such user")
            return {"user": copy.deepcopy(self._users[user_id])}


class _RateLimited(ZulipError):
    """429, with the rate-limit headers and Retry-After."""

    def __init__(self, wait: float, headers: dict[str, str]) -> None:
        extra = {"retry-after": wait}
        super().__init__(429, "API usage exceeded rate limit", "RATE_LIMIT_HIT", **extra)
        self.headers = headers


def _answer_content(response: httpx.Response) -> str | None:
    """What Zulip posts after an outgoing webhook's answer (zerver/lib/outgoing_webhook.py)."""
    if not response.is_success:
        return f"Failure! Third party responded with {response.status_code}"
    try:
        answer = response.json()
    except ValueError:
        return "Failure! Invalid JSON in response"
    if not isinstance(answer, dict) or answer.get("response_not_required"):
        return None
    content = answer.get("response_string", answer.get("content"))
    return str(content) if content is not None and str(content).strip() else None


def _form(content_type: str | None, body: bytes) -> JSON:
    if not body or (content_type or "").startswith("multipart/form-data"):
        return {}  # a multipart form's fields are read by `multipart_form`
    if (content_type or "").startswith("application/json"):
        value = json.loads(body)
        return value if isinstance(value, dict) else {}
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


def _json_param(params: JSON, name: str, default: Any = None) -> Any:
    """A parameter the client JSON-encodes (lists, booleans, numbers)."""
    if name not in params:
        return default
    value = params[name]
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise _bad(f"{name} is not valid JSON") from None


def _true(value: Any) -> bool:
    return str(value).lower() in ("true", "1")


def _recipients(value: Any) -> list[Any]:
    """`to` of a direct message: a JSON list of ids or emails, or comma-separated emails."""
    if isinstance(value, list):
        return value
    text = str(value or "").strip()
    if text.startswith("["):
        try:
            decoded = json.loads(text)
        except ValueError:
            raise _bad("Invalid recipients") from None
        return decoded if isinstance(decoded, list) else [decoded]
    return [part for part in text.split(",") if part.strip()]
