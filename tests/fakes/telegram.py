"""A local Telegram Bot API that the real python-telegram-bot talks to.

`TelegramEmulator` answers `/bot<token>/<method>` like api.telegram.org, so a test runs the real
`telegram.Bot(token, base_url=emulator.base_url)` against it. Answers use the Bot API envelope
(`{"ok": true, "result": ...}` / `{"ok": false, "error_code": N, "description": ...}`) with the
descriptions of the reference server (tdlib/telegram-bot-api).

Emulated:
- parameters in the query string, as `application/x-www-form-urlencoded` (what PTB sends: strings
  as they are, everything else JSON-encoded), as `multipart/form-data`, or as a JSON body;
- `getMe`; `getUpdates` with offset confirmation (negative offsets too), `limit`, a long poll that
  answers as soon as an update is queued, and `allowed_updates`, which persists between calls and
  applies when an update is created: `chat_member`, `message_reaction` and
  `message_reaction_count` only when listed. A new long poll ends the waiting one with 409, as the
  reference server does, and getUpdates gets 409 while a webhook is set;
- `setWebhook` (HTTPS on ports 80, 88, 443 or 8443, secret token characters, `allowed_updates`,
  `drop_pending_updates`), `deleteWebhook`, `getWebhookInfo`;
- `sendMessage` (403 for users who never started the bot or blocked it; `callback_data` at most
  64 bytes); `sendDocument` with the file uploaded as `multipart/form-data` (the same 403s and
  flood limits, 413 over `max_document_bytes`, 50 MB, a caption at most 1024 characters; the
  file is kept: `document_of`), `editMessageText` and `editMessageReplyMarkup` (a keyboard
  left out is removed, as on Telegram), `answerCallbackQuery`, `setMyCommands` /
  `getMyCommands` / `deleteMyCommands` per scope and `language_code`;
- flood limits on sendMessage (`chat_limit`, `group_limit`, `overall_limit`: set, replace with
  another `RateLimiter` or `None`), 401 for a wrong token, 404 for an unknown method, `Faults`;
- the platform side: update builders in the Bot API's shapes, `queue_update`, `deliver_webhook`.

Not emulated: other methods (they get 404), pushing queued updates to the webhook (a test calls
`deliver_webhook`), parsing `parse_mode` markup (text is kept as sent, without entities), files
sent by file_id or URL, downloading files (`getFile`), inline mode, channels and `@username`
chat ids, whether the bot is in a group, limits on edits, and the reference server's 3-second
delay before repeating a 409.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import itertools
import json
import math
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

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

DEFAULT_TOKEN = "123456789:AAE-onramp-emulator-token-0123456789"
UPDATE_TYPES = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post",
        "business_connection", "business_message", "edited_business_message",
        "deleted_business_messages", "message_reaction", "message_reaction_count",
        "inline_query", "chosen_inline_result", "callback_query", "shipping_query",
        "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer", "my_chat_member",
        "chat_member", "chat_join_request", "chat_boost", "removed_chat_boost",
    }
)  # fmt: skip
_OPT_IN_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
# Parameters that are text even when they look like JSON; PTB JSON-encodes every other value.
_TEXT_PARAMS = frozenset(
    {"text", "caption", "parse_mode", "url", "secret_token", "callback_query_id", "language_code"}
)
MAX_DOCUMENT_BYTES = 50 * 1000 * 1000  # what a bot may upload
_SCOPES = frozenset(
    {"default", "all_private_chats", "all_group_chats", "all_chat_administrators", "chat",
     "chat_administrators", "chat_member"}
)  # fmt: skip
_COMMAND = re.compile(r"[a-z0-9_]+")
_BOT_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]+)?")
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]*")
_START_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SUPERGROUP_BELOW = -1_000_000_000_000  # supergroup ids are -100 followed by ten digits
_POLL_TERMINATED = (
    "Conflict: terminated by other getUpdates request;"
    " make sure that only one bot instance is running"
)
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same"
    " as a current content and reply markup of the message"
)


class _ApiError(Exception):
    """A Bot API error answer."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after

    def response(self) -> JSONResponse:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return JSONResponse(body, status_code=self.code)


def _bad(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


@dataclass
class _Described:
    """A result the Bot API sends with a `description` beside it ("Webhook was set")."""

    result: Any
    description: str


class _LongPoll:
    """A getUpdates request waiting on the server's loop; other threads wake it."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()
        self.conflict: str | None = None

    def wake(self, conflict: str | None = None) -> None:
        self.conflict = conflict
        with contextlib.suppress(RuntimeError):  # the server's loop has closed
            self.loop.call_soon_threadsafe(self.event.set)


class TelegramEmulator:
    """The Bot API for one bot, served on loopback; use as a context manager."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        username: str = "onramp_test_bot",
        *,
        first_name: str = "Onramp",
        chat_limit: Limit | None = (1, 1.0),
        group_limit: Limit | None = (20, 60.0),
        overall_limit: Limit | None = (30, 1.0),
        unstarted_users: Iterable[int] = (),
        blocked_users: Iterable[int] = (),
        max_document_bytes: int = MAX_DOCUMENT_BYTES,
    ) -> None:
        self.token = token
        self.bot_user: JSON = {
            "id": int(token.split(":")[0]),
            "is_bot": True,
            "first_name": first_name,
            "username": username,
        }
        self.chat_limit = RateLimiter(*chat_limit) if chat_limit else None
        self.group_limit = RateLimiter(*group_limit) if group_limit else None
        self.overall_limit = RateLimiter(*overall_limit) if overall_limit else None
        self.unstarted_users = set(unstarted_users)  # 403: never pressed Start
        self.blocked_users = set(blocked_users)  # 403: blocked the bot
        self.max_document_bytes = max_document_bytes
        self.files: dict[str, Upload] = {}  # file_id -> what the bot uploaded
        self.faults = Faults()
        self.requests: list[Recorded] = []
        self.webhook: JSON | None = None  # url, secret_token, max_connections
        self._lock = threading.Lock()
        self._queue: list[JSON] = []
        self._last_update_id = 0
        self._allowed: frozenset[str] | None = None  # None: Telegram's default
        self._poll: _LongPoll | None = None
        self._chats: dict[int, JSON] = {}
        self._sent: dict[int, list[JSON]] = defaultdict(list)
        self._message_ids: dict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._query_ids = itertools.count(4_382_104_917_000_000_001)
        self._open_queries: set[str] = set()
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        handlers: dict[str, Callable[[JSON], Any]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendDocument": self._send_document,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit,
            "answerCallbackQuery": self._answer_callback_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
        }
        self._handlers = {name.lower(): handler for name, handler in handlers.items()}
        route = Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])
        self.server = FakeServer(Starlette(routes=[route]))
        self.url = self.server.url
        self.base_url = f"{self.url}/bot"

    def start(self) -> TelegramEmulator:
        self.server.start()
        return self

    def stop(self) -> None:
        with self._lock:
            if self._poll:
                self._poll.wake()
        self.server.stop()

    def __enter__(self) -> TelegramEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # What the bot did.

    def calls(self, method: str) -> list[JSON]:
        """The decoded parameters of every request to `method`, answered or refused."""
        suffix = f"/{method.lower()}"
        with self._lock:
            return [r.params for r in self.requests if r.path.lower().endswith(suffix)]

    def messages_to(self, chat_id: int) -> list[JSON]:
        """The messages the bot delivered to `chat_id`, oldest first, as edited since."""
        with self._lock:
            return [copy.deepcopy(message) for message in self._sent.get(chat_id, [])]

    def document_of(self, message: JSON) -> Upload:
        """The file the bot sent in `message` (one of `messages_to`), as it was uploaded."""
        with self._lock:
            return self.files[message["document"]["file_id"]]

    def commands(self, language_code: str | None = None, scope: JSON | None = None) -> list[JSON]:
        """The command menu set for `scope` (default scope) and `language_code` (all languages)."""
        with self._lock:
            return list(self._commands.get((_scope_key(scope), language_code or ""), []))

    @property
    def long_polling(self) -> bool:
        """Whether a getUpdates request is waiting for updates now."""
        return self._poll is not None

    def fail(
        self, method: str, status: int | None = None, *, times: int = 1, delay: float = 0.0
    ) -> None:
        """Answer the next `times` calls of `method` with HTTP `status`, after `delay` seconds."""
        self.faults.add(Fault(status=status, delay=delay, times=times, path=f"/{method}"))

    # What Telegram's users do.

    def queue_update(self, update: JSON) -> JSON | None:
        """Queue `update` for getUpdates, numbered if it has no `update_id`.

        Returns None, queueing nothing, when the bot's `allowed_updates` exclude its type:
        Telegram does not create such updates at all.
        """
        with self._lock:
            if not self._allows(update):
                return None
            update = self._numbered(update)
            self._queue.append(update)
            if self._poll:
                self._poll.wake()
        return update

    def deliver_webhook(
        self, url: str, update: JSON, secret_token: str | None = None, timeout: float = 10.0
    ) -> httpx.Response | None:
        """POST `update` to a webhook as Telegram does: JSON, the secret in a header.

        Returns None, sending nothing, when the bot's `allowed_updates` exclude its type.
        """
        with self._lock:
            if not self._allows(update):
                return None
            update = self._numbered(update)
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret_token} if secret_token else {}
        return httpx.post(url, json=update, headers=headers, timeout=timeout)

    def user(
        self,
        user_id: int,
        first_name: str = "Ada",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> JSON:
        """A Telegram `User` who is a person; `language_code` is their app's IETF tag."""
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        optional = {"last_name": last_name, "username": username, "language_code": language_code}
        return user | {key: value for key, value in optional.items() if value is not None}

    def message(
        self, sender: JSON, text: str, *, chat_id: int | None = None, title: str | None = None
    ) -> JSON:
        """A `message` update: `sender` writes `text` to the bot, or in group `chat_id`.

        Writing to the bot means having started it: `sender` leaves `unstarted_users`.
        """
        with self._lock:
            if chat_id is None:
                self.unstarted_users.discard(sender["id"])
                chat = self._private_chat(sender)
            else:
                chat = self._chat(chat_id, title)
            message = self._message(chat, sender, text=text)
        if command := _BOT_COMMAND.match(text):
            message["entities"] = [{"offset": 0, "length": command.end(), "type": "bot_command"}]
        return {"message": message}

    def start_message(self, sender: JSON, payload: str | None = None) -> JSON:
        """The `/start` a user sends on opening the bot; `/start <payload>` from a deep link
        `https://t.me/<bot>?start=<payload>`."""
        if payload is not None and not _START_PAYLOAD.fullmatch(payload):
            raise ValueError(f"deep-link payloads are 1-64 of A-Za-z0-9_-, not {payload!r}")
        return self.message(sender, "/start" if payload is None else f"/start {payload}")

    def group_join(
        self, chat_id: int, member: JSON, *, title: str | None = None, added_by: JSON | None = None
    ) -> JSON:
        """The service `message` a group gets when `member` joins (or is added by `added_by`)."""
        with self._lock:
            message = self._message(
                self._chat(chat_id, title),
                added_by or member,
                new_chat_participant=member,  # Telegram still sends both older fields
                new_chat_member=member,
                new_chat_members=[member],
            )
        return {"message": message}

    def chat_member_joined(self, chat_id: int, member: JSON, *, title: str | None = None) -> JSON:
        """A `chat_member` update: `member` goes from left to member in (super)group `chat_id`."""
        with self._lock:
            chat = self._chat(chat_id, title)
        return {
            "chat_member": {
                "chat": chat,
                "from": member,
                "date": int(time.time()),
                "old_chat_member": {"user": member, "status": "left"},
                "new_chat_member": {"user": member, "status": "member"},
            }
        }

    def callback_query(self, sender: JSON, message: JSON, data: str) -> JSON:
        """A `callback_query` update: `sender` taps the button with `data` under `message`."""
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        if not any(button.get("callback_data") == data for row in rows for button in row):
            raise ValueError(f"message {message['message_id']} has no button with data {data!r}")
        with self._lock:
            query_id = str(next(self._query_ids))
            self._open_queries.add(query_id)
        query = {
            "id": query_id,
            "from": sender,
            "message": copy.deepcopy(message),
            "chat_instance": str(message["chat"]["id"] * 7919 % 2**63),
            "data": data,
        }
        return {"callback_query": query}

    # Shared state; callers hold self._lock.

    def _numbered(self, update: JSON) -> JSON:
        if "update_id" in update:
            self._last_update_id = max(self._last_update_id, update["update_id"])
            return update
        self._last_update_id += 1
        return {"update_id": self._last_update_id, **update}

    def _allows(self, update: JSON) -> bool:
        allowed = UPDATE_TYPES - _OPT_IN_TYPES if self._allowed is None else self._allowed
        return any(kind in allowed for kind in update)

    def _set_allowed(self, params: JSON) -> None:
        listed = params.get("allowed_updates")
        if isinstance(listed, list):  # absent: keep the previous setting
            self._allowed = frozenset(UPDATE_TYPES.intersection(listed)) or None

    def _chat(self, chat_id: int, title: str | None = None) -> JSON:
        if chat_id not in self._chats:
            if chat_id > 0:
                chat = {"id": chat_id, "first_name": f"User {chat_id}", "type": "private"}
            else:
                kind = "supergroup" if chat_id < _SUPERGROUP_BELOW else "group"
                chat = {"id": chat_id, "title": title or f"Group {chat_id}", "type": kind}
            self._chats[chat_id] = chat
        return self._chats[chat_id]

    def _private_chat(self, user: JSON) -> JSON:
        names: JSON = {k: user[k] for k in ("first_name", "last_name", "username") if k in user}
        self._chats[user["id"]] = {"id": user["id"], **names, "type": "private"}
        return self._chats[user["id"]]

    def _message(self, chat: JSON, sender: JSON, **content: Any) -> JSON:
        message_id = next(self._message_ids[chat["id"]])
        head = {"message_id": message_id, "from": sender, "chat": chat, "date": int(time.time())}
        return head | content

    # HTTP.

    async def _endpoint(self, request: Request) -> Response:
        body = await request.body()
        raw = {**request.query_params, **_body_params(request.headers.get("content-type"), body)}
        params = {name: _decoded(name, value) for name, value in raw.items()}
        recorded = Recorded(request.method, request.url.path, dict(request.headers), body, params)
        with self._lock:
            self.requests.append(recorded)
        if fault := self.faults.take(request.url.path):
            await asyncio.sleep(fault.delay)
            if fault.status is not None:
                description = HTTPStatus(fault.status).phrase
                error = {"ok": False, "error_code": fault.status, "description": description}
                return JSONResponse(fault.body or error, fault.status, headers=fault.headers)
        try:
            if request.path_params["token"] != self.token:
                raise _ApiError(401, "Unauthorized")
            handler = self._handlers.get(request.path_params["method"].lower())
            if handler is None:
                raise _ApiError(404, "Not Found")
            result = handler(params)
            if inspect.isawaitable(result):
                result = await result
        except _ApiError as error:
            return error.response()
        if isinstance(result, _Described):
            answer = {"ok": True, "result": result.result, "description": result.description}
            return JSONResponse(answer)
        return JSONResponse({"ok": True, "result": result})

    # Bot API methods.

    def _get_me(self, params: JSON) -> JSON:
        return self.bot_user | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: JSON) -> list[JSON]:
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = min(max(float(params.get("timeout") or 0), 0), 50)
        with self._lock:
            if self.webhook:
                raise _ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active;"
                    " use deleteWebhook to delete the webhook first",
                )
            self._set_allowed(params)
            if offset > 0:  # confirms every update before it
                self._queue = [u for u in self._queue if u["update_id"] >= offset]
            elif offset < 0:  # forgets all but the last -offset
                self._queue = self._queue[offset:]
            if self._queue or not timeout:
                return self._queue[:limit]
            if self._poll:
                self._poll.wake(_POLL_TERMINATED)
            poll = self._poll = _LongPoll()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(poll.event.wait(), timeout)
        with self._lock:
            if self._poll is poll:
                self._poll = None
            if poll.conflict:
                raise _ApiError(409, poll.conflict)
            return self._queue[:limit]

    def _set_webhook(self, params: JSON) -> _Described:
        url = params.get("url") or ""
        if not url:
            return self._delete_webhook(params)
        try:
            parts = urlsplit(url)
            port = parts.port or 443
        except ValueError:
            raise _bad("invalid webhook URL specified") from None
        if parts.scheme != "https":
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        if port not in (80, 88, 443, 8443):
            raise _bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = params.get("secret_token") or ""
        if len(secret) > 256:
            raise _bad("secret token is too long")
        if not _TOKEN_CHARS.fullmatch(secret):
            raise _bad("secret token contains unallowed characters")
        webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": int(params.get("max_connections") or 40),
        }
        with self._lock:
            if params.get("drop_pending_updates"):
                self._queue.clear()
            self._set_allowed(params)
            if self._poll:
                self._poll.wake("Conflict: terminated by setWebhook request")
            unchanged, self.webhook = self.webhook == webhook, webhook
        return _Described(True, "Webhook is already set" if unchanged else "Webhook was set")

    def _delete_webhook(self, params: JSON) -> _Described:
        with self._lock:
            if params.get("drop_pending_updates"):
                self._queue.clear()
            was_set, self.webhook = self.webhook is not None, None
        return _Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    def _get_webhook_info(self, params: JSON) -> JSON:
        with self._lock:
            webhook = self.webhook or {"url": ""}
            info: JSON = {"url": webhook["url"], "has_custom_certificate": False}
            if "max_connections" in webhook:
                info["max_connections"] = webhook["max_connections"]
            info["pending_update_count"] = len(self._queue)
            if self._allowed is not None:
                info["allowed_updates"] = sorted(self._allowed)
            return info

    def _send_message(self, params: JSON) -> JSON:
        chat_id = _chat_id(params)
        text = _text(params)
        markup = _reply_markup(params)
        if chat_id in self.blocked_users:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.unstarted_users:
            raise _ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        self._check_flood(chat_id)
        with self._lock:
            message = self._message(self._chat(chat_id), self.bot_user, text=text)
            if markup and "inline_keyboard" in markup:  # other keyboards are not echoed
                message["reply_markup"] = markup
            self._sent[chat_id].append(message)
            return message

    def _send_document(self, params: JSON) -> JSON:
        """A file uploaded with the request (multipart/form-data); files named by file_id or
        URL are not emulated."""
        chat_id = _chat_id(params)
        upload = params.get("document")
        if not isinstance(upload, Upload):
            raise _bad("there is no document in the request")
        if len(upload.content) > self.max_document_bytes:
            raise _ApiError(413, "Request Entity Too Large")
        if not upload.content:
            raise _bad("file must be non-empty")
        caption = str(params.get("caption") or "")
        if len(caption.encode("utf-16-le")) // 2 > 1024:
            raise _bad("message caption is too long")
        if chat_id in self.blocked_users:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.unstarted_users:
            raise _ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        self._check_flood(chat_id)
        with self._lock:
            file_id = f"BQACAgIAAxkBAAI{len(self.files) + 1:06d}"
            self.files[file_id] = upload
            name = str(params.get("filename") or upload.filename)
            document = {
                "file_name": name,
                "mime_type": upload.media_type,
                "file_id": file_id,
                "file_unique_id": f"AgAD{len(self.files):06d}",
                "file_size": len(upload.content),
            }
            content: JSON = {"document": document}
            if caption:
                content["caption"] = caption
            message = self._message(self._chat(chat_id), self.bot_user, **content)
            self._sent[chat_id].append(message)
            return copy.deepcopy(message)

    def _check_flood(self, chat_id: int) -> None:
        limits = [
            (self.chat_limit, str(chat_id)),
            (self.group_limit if chat_id < 0 else None, str(chat_id)),
            (self.overall_limit, "bot"),
        ]
        # A message refused by a later limit has already counted against the earlier ones.
        for limiter, key in limits:
            wait = limiter.hit(key) if limiter else None
            if wait is not None:
                seconds = max(1, math.ceil(wait))
                raise _ApiError(429, f"Too Many Requests: retry after {seconds}", seconds)

    def _edit_message_text(self, params: JSON) -> JSON:
        return self._edit(params, _text(params))

    def _edit(self, params: JSON, text: str | None = None) -> JSON:
        """Edit the bot's message: new text (or the same), the keyboard given or none."""
        chat_id = _chat_id(params)
        if not params.get("message_id"):
            raise _bad("message identifier is not specified")
        markup = _reply_markup(params)
        with self._lock:
            sent = self._sent.get(chat_id, [])
            message = next((m for m in sent if m["message_id"] == params["message_id"]), None)
            if message is None:
                raise _bad("message to edit not found")
            new_text = message["text"] if text is None else text
            if new_text == message["text"] and markup == message.get("reply_markup"):
                raise _bad(_NOT_MODIFIED)
            message.update(text=new_text, edit_date=int(time.time()))
            message.pop("reply_markup", None)
            if markup:
                message["reply_markup"] = markup
            return copy.deepcopy(message)

    def _answer_callback_query(self, params: JSON) -> bool:
        with self._lock:
            if params.get("callback_query_id") not in self._open_queries:
                raise _bad("query is too old and response timeout expired or query ID is invalid")
            self._open_queries.discard(params["callback_query_id"])
        return True

    def _set_my_commands(self, params: JSON) -> bool:
        commands = params.get("commands") or []
        if not isinstance(commands, list):
            raise _bad("expected an Array of BotCommand")
        if len(commands) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        menu = [_bot_command(command) for command in commands]
        if not all(_COMMAND.fullmatch(entry["command"]) for entry in menu):
            raise _bad("BOT_COMMAND_INVALID")
        key = (_scope_key(params.get("scope")), _language_code(params))
        with self._lock:
            self._commands[key] = menu
        return True

    def _get_my_commands(self, params: JSON) -> list[JSON]:
        key = (_scope_key(params.get("scope")), _language_code(params))
        with self._lock:
            return list(self._commands.get(key, []))

    def _delete_my_commands(self, params: JSON) -> bool:
        key = (_scope_key(params.get("scope")), _language_code(params))
        with self._lock:
            self._commands.pop(key, None)
        return True


def _body_params(content_type: str | None, body: bytes) -> dict[str, Any]:
    content_type = content_type or ""
    if not body:
        return {}
    if content_type.startswith("application/json"):
        value = json.loads(body)
        return value if isinstance(value, dict) else {}
    if content_type.startswith("multipart/form-data"):
        return multipart_form(content_type, body)  # files are `Upload`s
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


def _decoded(name: str, value: Any) -> Any:
    """A parameter as the Bot API reads it: JSON-encoded unless it is one of the text ones."""
    if not isinstance(value, str) or name in _TEXT_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _chat_id(params: JSON) -> int:
    chat_id = params.get("chat_id")
    if chat_id in (None, ""):
        raise _bad("chat_id is empty")
    if not isinstance(chat_id, int) or isinstance(chat_id, bool):
        raise _bad("chat not found")  # @channelusername chats are not emulated
    return chat_id


def _text(params: JSON) -> str:
    text = str(params.get("text") or "")
    if not text:
        raise _bad("message text is empty")
    if len(text.encode("utf-16-le")) // 2 > 4096:
        raise _bad("message is too long")
    parse_mode = str(params.get("parse_mode") or "none").lower()
    if parse_mode not in ("none", "html", "markdown", "markdownv2"):
        raise _bad("unsupported parse_mode")
    return text


def _reply_markup(params: JSON) -> JSON | None:
    markup = params.get("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if len(str(button.get("callback_data", "")).encode()) > 64:
                raise _bad("BUTTON_DATA_INVALID")
    return markup


def _bot_command(entry: Any) -> JSON:
    if not isinstance(entry, dict):
        raise _bad("can't parse BotCommand: expected an Object")
    command = str(entry.get("command", "")).strip().removeprefix("/")
    description = str(entry.get("description", "")).strip()
    if not command:
        raise _bad("command must be non-empty")
    if len(command) > 32:
        raise _bad("command length must not exceed 32")
    if not description:
        raise _bad("command description must be non-empty")
    if len(description) > 256:
        raise _bad("command description length must not exceed 256")
    return {"command": command, "description": description}


def _scope_key(scope: Any) -> str:
    scope = scope or {"type": "default"}
    if not isinstance(scope, dict) or scope.get("type") not in _SCOPES:
        raise _bad("can't parse BotCommandScope: Unsupported type specified")
    return json.dumps(scope, sort_keys=True)


def _language_code(params: JSON) -> str:
    code = str(params.get("language_code") or "")
    if not re.fullmatch(r"([A-Za-z]{2})?", code):
        raise _bad("invalid language code specified")
    return code
