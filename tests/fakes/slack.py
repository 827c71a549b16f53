"""A local Slack that the real slack-sdk and slack-bolt talk to.

`SlackEmulator` serves, on loopback:

* the Web API at `POST|GET /api/<method>` (form or JSON bodies, token from `Authorization:
  Bearer` or the `token` parameter) for `auth.test`, `conversations.open`, `chat.postMessage`
  (with message `metadata`), `chat.update`, `chat.postEphemeral`, `conversations.history` (the
  latest messages, no cursor paging), `users.info`, `apps.connections.open`, and a file's
  upload: `files.getUploadURLExternal` (`filename`, `length`), the bytes POSTed to the URL it
  gives (raw or as `multipart/form-data`, as Slack takes either; the length must match), then
  `files.completeUploadExternal` (`files` as JSON, `channel_id`, `initial_comment`), which
  shares the file in the channel as a message with `files` (`file_of` reads it back); answering
  with
  the shapes and error codes of Slack's method reference (`not_authed`, `invalid_auth`,
  `not_allowed_token_type`, `unknown_method`, `channel_not_found`, `user_not_found`, `no_text`,
  `message_not_found`, `invalid_arguments`, `file_not_found`, `file_upload_size_restricted`);
* `chat.postMessage` rate limits: per channel (default 1 per second) and, optionally, per
  workspace; over the limit Slack answers HTTP 429, `Retry-After: <seconds>` and
  `{"ok": false, "error": "ratelimited"}`, and the message is not delivered;
* faults (`emulator.faults.add(Fault(status=503, path="chat.postMessage"))`): a delay, then a
  status with the fault's body as JSON (an empty body if it has none), like a failing proxy;
* Socket Mode: `apps.connections.open` hands out a single-use `ws://` URL of this server; on
  connect the emulator says `hello`, then the test `push`es envelopes and waits for acks.

Point the SDK at it with `AsyncWebClient(token=..., base_url=emulator.api_url)`.

The module's functions build what Slack sends to *our* app, from the examples in Slack's docs:
Events API callbacks, `url_verification`, slash commands and `block_actions`, each as an
`Inbound` that is both a Socket Mode payload and an HTTP body, and `signed_headers` to sign an
HTTP body with a signing secret.

Not emulated: other Web API methods, rate limits on methods other than `chat.postMessage`,
threads, history paging, `response_url` webhooks, OAuth and multiple workspaces,
Socket Mode `disconnect` messages and refreshes, and Slack's own retries of unacknowledged
events (push again with `retry_attempt` to imitate one).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import math
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.fakes.server import FakeServer, Faults, RateLimiter, Recorded, Upload, multipart_form

TEAM_ID = "T0ONRAMP01"
TEAM_DOMAIN = "onramp-test"
APP_ID = "A0ONRAMP01"
BOT_ID = "B0ONRAMP01"
BOT_USER_ID = "U0ONRAMPBOT"
VERIFICATION_TOKEN = "verification-token"  # deprecated by Slack but still sent in payloads

Params = dict[str, Any]
Limit = tuple[int, float]  # (requests, per seconds)
EnvelopeType = Literal["events_api", "slash_commands", "interactive"]
T = TypeVar("T")
WAIT_SECONDS = 5.0  # how long the wait_for_* helpers wait before failing the test


def dm_channel_id(*user_ids: str) -> str:
    """The id of the bot's conversation with these users: `D…` for one, `G…` for several."""
    digest = hashlib.sha1(",".join(sorted(user_ids)).encode()).hexdigest()[:10].upper()
    return ("D" if len(user_ids) == 1 else "G") + digest


def _ok(**fields: Any) -> Response:
    return JSONResponse({"ok": True, **fields})


def _fail(error: str, status: int = 200, **fields: Any) -> Response:
    return JSONResponse({"ok": False, "error": error, **fields}, status_code=status)


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true")


def _decode(content_type: str, body: bytes, query: Mapping[str, str]) -> Params:
    """Parameters as Slack reads them: the query, then a JSON or form body; JSON-in-form
    `blocks`/`attachments` become lists."""
    params: Params = dict(query)
    if content_type.startswith("application/json"):
        params.update(json.loads(body or b"{}"))
    else:
        params.update(parse_qsl(body.decode(), keep_blank_values=True))
    for key in ("blocks", "attachments", "metadata"):
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params


class SlackEmulator(FakeServer):
    """One Slack workspace with our app installed. Use as a context manager."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test",
        app_token: str = "xapp-test",
        channel_limit: Limit | None = (1, 1.0),
        workspace_limit: Limit | None = None,
        max_file_bytes: int = 1024**3,
    ) -> None:
        """`channel_limit` and `workspace_limit` cap `chat.postMessage`; None disables one.
        `max_file_bytes`: the largest file the workspace takes (Slack's is 1 GB)."""
        self.bot_token = bot_token
        self.app_token = app_token
        self.requests: list[Recorded] = []
        self.acks: list[dict[str, Any]] = []
        self.faults = Faults()
        self._channel_limit = RateLimiter(*channel_limit) if channel_limit else None
        self._workspace_limit = RateLimiter(*workspace_limit) if workspace_limit else None
        self._users: dict[str, dict[str, Any]] = {}
        self._locales: dict[str, str] = {}  # users.info shows them only with include_locale
        self._history: dict[str, list[dict[str, Any]]] = {}  # channel id -> messages in order
        self._last_ts = 0
        self._tickets: set[str] = set()
        self.max_file_bytes = max_file_bytes
        self.files: dict[str, Upload] = {}  # file id -> the bytes uploaded for it
        self.failing_uploads = 0  # the next this many POSTs to an upload URL answer 500
        self._pending_files: dict[str, tuple[str, int]] = {}  # file id -> (filename, length)
        self._sockets: list[WebSocket] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._methods: dict[str, Callable[[Params], Response]] = {
            "auth.test": self._auth_test,
            "conversations.open": self._conversations_open,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "conversations.history": self._conversations_history,
            "users.info": self._users_info,
            "apps.connections.open": self._connections_open,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }
        routes = [
            Route("/api/{method}", self._api, methods=["GET", "POST"]),
            Route("/upload/v1/{file_id}", self._upload, methods=["POST"]),
            WebSocketRoute("/link/", self._link),
        ]
        super().__init__(Starlette(routes=routes))
        self.api_url = f"{self.url}/api/"

    def __enter__(self) -> SlackEmulator:
        self.start()
        return self

    # The workspace

    def add_user(
        self,
        user_id: str,
        *,
        display_name: str = "",
        real_name: str = "",
        tz: str = "America/Los_Angeles",
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """Adds a member and returns their Slack user object (what `team_join` carries)."""
        offset = datetime.now(ZoneInfo(tz)).utcoffset()
        name = (display_name or real_name or user_id).lower().replace(" ", ".")
        user = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name,
            "deleted": False,
            "real_name": real_name,
            "tz": tz,
            "tz_offset": int(offset.total_seconds()) if offset else 0,
            "profile": {
                "display_name": display_name,
                "display_name_normalized": display_name,
                "real_name": real_name,
                "real_name_normalized": real_name,
                "team": TEAM_ID,
            },
            "is_bot": False,
            "is_app_user": False,
            "updated": int(time.time()),
        }
        self._users[user_id] = user
        self._locales[user_id] = locale
        return dict(user)

    def rename_user(
        self, user_id: str, *, display_name: str | None = None, real_name: str | None = None
    ) -> dict[str, Any]:
        """`user_id` edits the names in their profile; returns their user object, as the
        `user_change` event carries it."""
        user = self._users[user_id]
        profile = user["profile"]
        if display_name is not None:
            profile["display_name"] = profile["display_name_normalized"] = display_name
        if real_name is not None:
            user["real_name"] = profile["real_name"] = profile["real_name_normalized"] = real_name
        user["updated"] = int(time.time())
        return copy.deepcopy(user)

    def add_channel(self, channel_id: str) -> None:
        """Adds a channel the bot is a member of."""
        self._history.setdefault(channel_id, [])

    # What the app did

    def calls(self, method: str) -> list[Params]:
        """The decoded parameters of every request to `method`, rate-limited ones included."""
        return [r.params for r in self.requests if r.path == f"/api/{method}"]

    def messages_to(self, channel_or_user: str) -> list[dict[str, Any]]:
        """Messages delivered to a channel, or to the bot's DM with a user, oldest first."""
        if channel_or_user in self._users:
            channel_or_user = dm_channel_id(channel_or_user)
        return list(self._history.get(channel_or_user, []))

    def file_of(self, message: dict[str, Any]) -> Upload:
        """The file shared in `message` (one of `messages_to`), as the app uploaded it."""
        [shared] = message["files"]
        return self.files[shared["id"]]

    # Socket Mode

    async def wait_for_connection(self) -> None:
        await _eventually(lambda: self._sockets or None, "no Socket Mode connection")

    async def push(
        self,
        envelope_type: EnvelopeType,
        payload: Mapping[str, Any],
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Sends an envelope over the newest Socket Mode connection; returns its envelope id."""
        if not self._sockets or self._loop is None:
            raise RuntimeError("no Socket Mode connection; await wait_for_connection() first")
        envelope: dict[str, Any] = {
            "envelope_id": str(uuid.uuid4()),
            "payload": dict(payload),
            "type": envelope_type,
            "accepts_response_payload": envelope_type != "events_api",
        }
        if envelope_type == "events_api":  # only events are retried, so only they say so
            envelope |= {"retry_attempt": retry_attempt, "retry_reason": retry_reason}
        socket = self._sockets[-1]
        sent = asyncio.run_coroutine_threadsafe(socket.send_json(envelope), self._loop)
        await asyncio.wrap_future(sent)
        return str(envelope["envelope_id"])

    async def wait_for_ack(self, envelope_id: str) -> dict[str, Any]:
        """The app's ack (`{"envelope_id": …, "payload"?: …}`) once it has arrived."""

        def ack() -> dict[str, Any] | None:
            return next((a for a in self.acks if a.get("envelope_id") == envelope_id), None)

        return await _eventually(ack, f"envelope {envelope_id} was not acked")

    # The server side

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        body = await request.body()
        params = _decode(request.headers.get("content-type", ""), body, request.query_params)
        headers = dict(request.headers)
        self.requests.append(Recorded(request.method, request.url.path, headers, body, params))
        fault = self.faults.take(request.url.path)
        if fault is not None:
            await asyncio.sleep(fault.delay)
            if fault.status is not None:
                content = b"" if fault.body is None else json.dumps(fault.body).encode()
                kind = "application/json" if content else None
                return Response(content, fault.status, fault.headers, media_type=kind)
        handler = self._methods.get(method)
        if handler is None:
            return _fail("unknown_method", req_method=method)
        authorization = headers.get("authorization", "")
        token = authorization.removeprefix("Bearer ") or params.get("token")
        needed = self.app_token if method == "apps.connections.open" else self.bot_token
        if not token:
            return _fail("not_authed")
        if token != needed:
            known = token in (self.bot_token, self.app_token)
            return _fail("not_allowed_token_type" if known else "invalid_auth")
        return handler(params)

    def _auth_test(self, params: Params) -> Response:
        response = _ok(
            url=f"https://{TEAM_DOMAIN}.slack.com/",
            team="Onramp Test",
            user="onramp",
            team_id=TEAM_ID,
            user_id=BOT_USER_ID,
            bot_id=BOT_ID,
            is_enterprise_install=False,
        )
        response.headers["x-oauth-scopes"] = "chat:write,commands,files:write,im:write,users:read"
        return response

    def _conversations_open(self, params: Params) -> Response:
        if params.get("channel"):
            channel = params["channel"]
            if channel not in self._history:
                return _fail("channel_not_found")
            return _ok(channel={"id": channel})
        users = [u for u in str(params.get("users", "")).split(",") if u]
        if not users:
            return _fail("users_list_not_supplied")
        if any(u not in self._users for u in users):
            return _fail("user_not_found")
        channel = dm_channel_id(*users)
        if channel in self._history:
            return _ok(no_op=True, already_open=True, channel={"id": channel})
        self._history[channel] = []
        return _ok(channel={"id": channel})

    def _post_message(self, params: Params) -> Response:
        channel = self._resolve(params.get("channel", ""))
        if channel is None:
            return _fail("channel_not_found")
        if not (params.get("text") or params.get("blocks") or params.get("attachments")):
            return _fail("no_text")
        for limiter, key in ((self._workspace_limit, TEAM_ID), (self._channel_limit, channel)):
            wait = limiter.hit(key) if limiter else None
            if wait is not None:
                response = _fail("ratelimited", status=429)
                response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
                return response
        message = self._message(params)
        self._history[channel].append(message)
        return _ok(channel=channel, ts=message["ts"], message=message)

    def _get_upload_url(self, params: Params) -> Response:
        filename = str(params.get("filename") or "")
        try:
            length = int(params.get("length") or 0)
        except ValueError:
            return _fail("invalid_arguments")
        if not filename or length <= 0:
            return _fail("invalid_arguments")
        if length > self.max_file_bytes:
            return _fail("file_upload_size_restricted")
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        self._pending_files[file_id] = (filename, length)
        return _ok(upload_url=f"{self.url}/upload/v1/{file_id}", file_id=file_id)

    async def _upload(self, request: Request) -> Response:
        """The upload URL: the file's bytes, raw or as a multipart form's one file part."""
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        self.requests.append(
            Recorded(request.method, request.url.path, dict(request.headers), body, {})
        )
        fault = self.faults.take(request.url.path)
        if fault is not None:
            await asyncio.sleep(fault.delay)
            if fault.status is not None:
                return Response(b"", fault.status, fault.headers)
        if self.failing_uploads > 0:
            self.failing_uploads -= 1
            return Response("upload failed", 500)
        file_id = request.path_params["file_id"]
        pending = self._pending_files.get(file_id)
        if pending is None:
            return Response("not found", 404)
        filename, length = pending
        parts = [p for p in multipart_form(content_type, body).values() if isinstance(p, Upload)]
        upload = parts[0] if parts else Upload(filename, content_type or "", body)
        if len(upload.content) != length:
            return Response("length mismatch", 400)
        self.files[file_id] = Upload(filename, upload.media_type, upload.content)
        return Response(f"OK - {length}", 200, media_type="text/plain")

    def _complete_upload(self, params: Params) -> Response:
        try:
            listed = json.loads(params.get("files") or "[]")
        except ValueError:
            return _fail("invalid_arguments")
        if not isinstance(listed, list) or not listed:
            return _fail("invalid_arguments")
        ids = [str(entry.get("id", "")) for entry in listed if isinstance(entry, dict)]
        if len(ids) != len(listed) or any(i not in self.files for i in ids):
            return _fail("file_not_found")
        channel_id = params.get("channel_id") or ""
        channel = self._resolve(channel_id) if channel_id else None
        if channel_id and channel is None:
            return _fail("channel_not_found")
        shared = []
        for entry, file_id in zip(listed, ids, strict=True):
            upload = self.files[file_id]
            filename, _ = self._pending_files.pop(file_id, (upload.filename, 0))
            shared.append(
                {
                    "id": file_id,
                    "name": filename,
                    "title": entry.get("title") or filename,
                    "mimetype": upload.media_type,
                    "size": len(upload.content),
                    "user": BOT_USER_ID,
                }
            )
        if channel is not None:
            message = self._message({"text": params.get("initial_comment", "")})
            message |= {"files": shared, "upload": True}
            self._history[channel].append(message)
        return _ok(files=[{"id": f["id"], "title": f["title"]} for f in shared])

    def _update(self, params: Params) -> Response:
        channel = self._resolve(params.get("channel", ""))
        if channel is None:
            return _fail("channel_not_found")
        found = [m for m in self._history[channel] if m["ts"] == params.get("ts")]
        if not found:
            return _fail("message_not_found")
        message = found[0]
        message.update({k: params[k] for k in ("text", "blocks") if k in params})
        message["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        return _ok(channel=channel, ts=message["ts"], text=message["text"], message=message)

    def _post_ephemeral(self, params: Params) -> Response:
        if self._resolve(params.get("channel", "")) is None:
            return _fail("channel_not_found")
        if params.get("user") not in self._users:
            return _fail("user_not_found")
        if not (params.get("text") or params.get("blocks")):
            return _fail("no_text")
        return _ok(message_ts=self._next_ts())

    def _conversations_history(self, params: Params) -> Response:
        """The latest `limit` messages (100 by default, 999 at most), newest first, as Slack
        answers; message metadata only with `include_all_metadata`."""
        channel = params.get("channel", "")
        if not channel:
            return _fail("channel_not_found")
        if channel not in self._history:
            return _fail("channel_not_found")
        try:
            limit = min(int(params.get("limit") or 100), 999)
        except ValueError:
            return _fail("invalid_limit")
        newest = list(reversed(self._history[channel]))
        shown = newest[:limit]
        if not _truthy(params.get("include_all_metadata")):
            shown = [{k: v for k, v in m.items() if k != "metadata"} for m in shown]
        return _ok(
            messages=shown,
            has_more=len(newest) > limit,
            pin_count=0,
            response_metadata={"next_cursor": ""},
        )

    def _users_info(self, params: Params) -> Response:
        user = self._users.get(params.get("user", ""))
        if user is None:
            return _fail("user_not_found")
        if _truthy(params.get("include_locale")):
            return _ok(user=user | {"locale": self._locales[user["id"]]})
        return _ok(user=user)

    def _connections_open(self, params: Params) -> Response:
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        return _ok(url=f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={APP_ID}")

    async def _link(self, socket: WebSocket) -> None:
        ticket = socket.query_params.get("ticket", "")
        if ticket not in self._tickets:
            await socket.close(code=1008)
            return
        self._tickets.discard(ticket)  # a URL from apps.connections.open works once
        await socket.accept()
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets) + 1,
                "debug_info": {"host": "applink-emulator", "approximate_connection_time": 18060},
                "connection_info": {"app_id": APP_ID},
            }
        )
        self._loop = asyncio.get_running_loop()
        self._sockets.append(socket)
        try:
            while True:
                message = json.loads(await socket.receive_text())
                if "envelope_id" in message:
                    self.acks.append(message)
        except WebSocketDisconnect:
            pass
        finally:
            self._sockets.remove(socket)

    def _resolve(self, channel: str) -> str | None:
        """A channel id from a channel id or a user id (Slack posts those to the bot's DM)."""
        if channel in self._users:
            channel = dm_channel_id(channel)
            self._history.setdefault(channel, [])
        return channel if channel in self._history else None

    def _message(self, params: Params) -> dict[str, Any]:
        message = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "text": params.get("text", ""),
            "ts": self._next_ts(),
        }
        message.update({k: params[k] for k in ("blocks", "thread_ts", "metadata") if k in params})
        return message

    def _next_ts(self) -> str:
        """A message timestamp, `seconds.micros`, unique and increasing like Slack's."""
        self._last_ts = max(self._last_ts + 1, time.time_ns() // 1000)
        return f"{self._last_ts // 1_000_000}.{self._last_ts % 1_000_000:06d}"


async def _eventually(probe: Callable[[], T | None], failure: str) -> T:
    """Polls `probe` (the emulator's state changes in its own thread) until it finds something.

    Gives up after `WAIT_SECONDS`; wrap the call in `asyncio.timeout` to give up sooner."""
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            # The emulator changes state in its own thread, where an asyncio.Event of this loop
            # cannot be set safely; a short poll is the simple cross-thread wait.
            while (found := probe()) is None:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise TimeoutError(failure) from None
    return found


# What Slack sends to our app


@dataclass(frozen=True)
class Inbound:
    """A payload from Slack: over Socket Mode an envelope of `envelope_type`, over HTTP `body`."""

    envelope_type: EnvelopeType
    payload: dict[str, Any]

    @property
    def body(self) -> bytes:
        """The HTTP body: JSON for events, a form for commands, `payload=<json>` for actions."""
        if self.envelope_type == "events_api":
            return json.dumps(self.payload).encode()
        if self.envelope_type == "slash_commands":
            return urlencode(self.payload).encode()
        return urlencode({"payload": json.dumps(self.payload)}).encode()


def _ts() -> str:
    return f"{time.time():.6f}"


def _trigger_id() -> str:
    return f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}"


def event_callback(
    event: Mapping[str, Any], *, event_id: str | None = None, event_time: int | None = None
) -> Inbound:
    """The Events API wrapper around an inner event, as Slack delivers it to the bot."""
    return Inbound(
        "events_api",
        {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "context_team_id": TEAM_ID,
            "context_enterprise_id": None,
            "api_app_id": APP_ID,
            "event": dict(event),
            "type": "event_callback",
            "event_id": event_id or "Ev" + uuid.uuid4().hex[:10].upper(),
            "event_time": int(time.time()) if event_time is None else event_time,
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": "4-" + uuid.uuid4().hex,
        },
    )


def team_join(user: Mapping[str, Any]) -> dict[str, Any]:
    """A new member joined the workspace; `user` is a user object (see `add_user`)."""
    return {"type": "team_join", "user": dict(user), "event_ts": _ts()}


def user_change(user: Mapping[str, Any]) -> dict[str, Any]:
    """A member's profile changed (https://api.slack.com/events/user_change)."""
    return {
        "type": "user_change",
        "user": dict(user),
        "cache_ts": int(time.time()),
        "event_ts": _ts(),
    }


def member_joined_channel(
    user_id: str, channel_id: str, *, inviter: str | None = None, channel_type: str = "C"
) -> dict[str, Any]:
    event = {
        "type": "member_joined_channel",
        "user": user_id,
        "channel": channel_id,
        "channel_type": channel_type,
        "team": TEAM_ID,
        "event_ts": _ts(),
    }
    return event | ({"inviter": inviter} if inviter else {})


def im_message(user_id: str, text: str) -> dict[str, Any]:
    """A member wrote to the bot in their DM (`message.im`)."""
    ts = _ts()
    return {
        "client_msg_id": str(uuid.uuid4()),
        "type": "message",
        "text": text,
        "user": user_id,
        "ts": ts,
        "team": TEAM_ID,
        "channel": dm_channel_id(user_id),
        "event_ts": ts,
        "channel_type": "im",
    }


def url_verification(
    challenge: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
) -> Inbound:
    return Inbound(
        "events_api",
        {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"},
    )


def slash_command(
    text: str,
    *,
    user_id: str,
    channel_id: str,
    command: str = "/onboard",
    response_url: str = "https://hooks.slack.com/commands/T0ONRAMP01/1/emulated",
) -> Inbound:
    return Inbound(
        "slash_commands",
        {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel_id,
            "channel_name": "directmessage" if channel_id.startswith("D") else "general",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": _trigger_id(),
        },
    )


def block_actions(
    *,
    user_id: str,
    action_id: str,
    value: str,
    message: Mapping[str, Any],
    channel_id: str,
    block_id: str = "actions",
    response_url: str = "https://hooks.slack.com/actions/T0ONRAMP01/1/emulated",
) -> Inbound:
    """A member pressed a button in `message` (one of `messages_to(...)`) in `channel_id`."""
    return Inbound(
        "interactive",
        {
            "type": "block_actions",
            "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": channel_id,
                "is_ephemeral": False,
            },
            "trigger_id": _trigger_id(),
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": "directmessage"},
            "message": dict(message),
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block_id,
                    "text": {"type": "plain_text", "text": value, "emoji": True},
                    "value": value,
                    "type": "button",
                    "action_ts": _ts(),
                }
            ],
        },
    )


def signed_headers(
    body: bytes, signing_secret: str, timestamp: int | None = None
) -> dict[str, str]:
    """The headers Slack sends with `body`: its content type and request signature."""
    sent_at = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=sent_at, body=body)
    assert signature is not None
    is_json = body.lstrip().startswith(b"{")
    return {
        "Content-Type": "application/json" if is_json else "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": sent_at,
        "X-Slack-Signature": signature,
    }
