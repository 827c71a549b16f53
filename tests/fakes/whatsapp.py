"""A local WhatsApp Cloud API (Graph API) that the WhatsApp adapter's httpx client talks to.

`WhatsAppEmulator` serves, on loopback, the Graph API calls the adapter makes:

- `GET /{version}/{phone_number_id}`: the business number (display number, verified name);
- `POST /{version}/{phone_number_id}/messages`: `text`, `interactive` (`button` and `list`)
  and `template` messages. Refused with Graph's error envelope (`{"error": {"message", "type",
  "code", "error_data": {"messaging_product", "details"}, "fbtrace_id"}}`) and its codes:
  190 for a missing or wrong `Authorization: Bearer` token (401); 100 for an unknown phone
  number id, a body that is not JSON or a missing or unknown field; 131008 for a required
  parameter left out; 131009 for a value out of Meta's limits (at most 3 reply buttons, titles
  of 1-20 characters, unique; ids up to 256; list button label up to 20; 1-10 rows in all,
  titles up to 24, descriptions up to 72, ids up to 200; section titles up to 24; body up to
  1024 with buttons, 4096 otherwise; header and footer up to 60); 130429 over the number's
  throughput (`number_limit`, default 80 a second) and 131056 over the pair rate to one user
  (`pair_limit`, default 1 per 6 seconds), both HTTP 400 as Meta's error table has them;
  131047 for anything but a template to a user who has never written, or last wrote 24 hours
  ago or more (the customer service window); 132001 for a template not approved in that
  language (`approve`) and 132000 for the wrong number of body parameters. A message that got
  through is recorded (`messages_to`) and gets a `wamid.` id.
- `POST /{version}/{phone_number_id}/media`: a file uploaded as `multipart/form-data` with
  `messaging_product=whatsapp`, its `type` and one `file` part; refused (100) without them, for
  a type WhatsApp does not take as a document (text, PDF and Office's types only here) or
  over 100 MB (`max_media_bytes`); answered with the media id that a `document` message
  (`{"id", "filename", "caption"}`, caption up to 1024) then names (`document_of` reads it).
- `Faults` as the other emulators have them (`emulator.faults.add(Fault(status=503))`).

And the platform side: builders for what Meta POSTs to the business's webhook, in the shapes
of Meta's webhook reference (`object: whatsapp_business_account`, `entry[].changes[]` with
`field: messages` and a `value` holding `metadata`, `contacts` and `messages`, or `statuses`):
`text`, `button_reply`, `list_reply`, `quick_reply` (a template's button), `image`,
`reaction`, `location`, `sticker`, `unsupported`, a `group_text`, `statuses_for` (status
callbacks for a sent message in any order, `failed` with `errors`), `combine` (several in one
notification); `signed` headers (`X-Hub-Signature-256`), `deliver` (sync httpx POST to a
webhook) and `verify` (Meta's GET verification request). Bodies are serialised with escaped
non-ASCII characters, as Meta's are: a signature must be checked on the raw bytes.

Each user's "last inbound" time opens their 24-hour window: building a message from them
sets it (with `clock`, which a test may share with the bot), and `wrote(wa_id, at)` moves it.

Not emulated: media other than documents, media by `link`, retrieving or deleting media,
other message and interactive types, message templates' categories and their own components
(headers, buttons), marking messages read (`status: read` POSTed by the
business), the daily unique-recipient tiers, webhooks pushed by the emulator itself (a test
calls `deliver`), and asynchronous errors (Meta may also report 131047 later, as a `failed`
status: `statuses_for(..., error=...)` builds one).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import FakeServer, Faults, RateLimiter, Recorded, Upload, multipart_form

JSON = dict[str, Any]
Limit = tuple[int, float]  # (messages, per seconds)
DOCUMENT_TYPES = frozenset(
    {
        "text/plain",
        "application/pdf",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)

DEFAULT_TOKEN = "EAAOnrampEmulatorAccessToken0123456789"
DEFAULT_PHONE_NUMBER_ID = "106540352242922"
DEFAULT_APP_SECRET = "onramp-emulator-app-secret"
DISPLAY_PHONE_NUMBER = "15550783881"
WABA_ID = "102290129340398"
WINDOW = timedelta(hours=24)
ERROR_CODES_URL = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
STATUSES = ("sent", "delivered", "read", "failed")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class GraphError(Exception):
    """A Graph API error answer."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        details: str | None = None,
        kind: str = "OAuthException",
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details, self.kind = details, kind

    def response(self) -> JSONResponse:
        error: JSON = {"message": self.message, "type": self.kind, "code": self.code}
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        error["fbtrace_id"] = _fbtrace_id()
        return JSONResponse({"error": error}, status_code=self.status)


def _fbtrace_id() -> str:
    digest = hashlib.sha256(str(time.time_ns()).encode()).digest()
    return base64.urlsafe_b64encode(digest)[:23].decode()


def _invalid(details: str) -> GraphError:
    return GraphError(400, 131009, "(#131009) Parameter value is not valid", details)


def _missing(details: str) -> GraphError:
    return GraphError(400, 131008, "(#131008) Required parameter is missing", details)


def _bad_parameter(details: str) -> GraphError:
    return GraphError(400, 100, "(#100) Invalid parameter", details)


RATE_LIMIT_HIT = GraphError(
    400,
    130429,
    "(#130429) Rate limit hit",
    "Cloud API message throughput has been reached.",
)
PAIR_RATE_LIMIT_HIT = GraphError(
    400,
    131056,
    "(#131056) (Business Account, Consumer Account) pair rate limit hit",
    "Message failed to send because there were too many messages sent from this phone number"
    " to the same phone number in a short period of time.",
)
RE_ENGAGEMENT = GraphError(
    400,
    131047,
    "(#131047) Re-engagement message",
    "Message failed to send because more than 24 hours have passed since the customer last"
    " replied to this number.",
)


@dataclass(frozen=True)
class Sent:
    """A message the emulator accepted: what was POSTed, and the id it was given."""

    id: str
    to: str
    type: str
    body: JSON
    at: datetime


class WhatsAppEmulator:
    """The Graph API for one business phone number, served on loopback; a context manager."""

    def __init__(
        self,
        access_token: str = DEFAULT_TOKEN,
        phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
        app_secret: str = DEFAULT_APP_SECRET,
        *,
        number_limit: Limit | None = (80, 1.0),
        pair_limit: Limit | None = (1, 6.0),
        clock: Callable[[], datetime] = _utcnow,
        verified_name: str = "Open Health Commons",
        max_media_bytes: int = 100 * 1000 * 1000,
    ) -> None:
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.app_secret = app_secret
        self.verified_name = verified_name
        self.number_limit = RateLimiter(*number_limit) if number_limit else None
        self.pair_limit = RateLimiter(*pair_limit) if pair_limit else None
        self.clock = clock
        self.faults = Faults()
        self.requests: list[Recorded] = []
        self.sent: list[Sent] = []
        self.templates: dict[tuple[str, str], int] = {}  # (name, language) -> body parameters
        self.names: dict[str, str] = {}  # wa_id -> profile name
        self.max_media_bytes = max_media_bytes
        self.media: dict[str, Upload] = {}  # media id -> the file uploaded
        self._last_inbound: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        routes = [
            Route("/{version}/{phone_number_id}/messages", self._messages, methods=["POST"]),
            Route("/{version}/{phone_number_id}/media", self._upload, methods=["POST"]),
            Route("/{version}/{phone_number_id}", self._phone_number, methods=["GET"]),
        ]
        self.server = FakeServer(Starlette(routes=routes))
        self.url = self.server.url

    def start(self) -> WhatsAppEmulator:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> WhatsAppEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Set-up.

    def approve(self, name: str, language: str, parameters: int = 0) -> None:
        """An approved template: `name` in `language`, with that many body parameters."""
        self.templates[(name, language)] = parameters

    def user(self, wa_id: str, name: str) -> str:
        """A WhatsApp user, by their id, with the profile name webhooks carry."""
        self.names[wa_id] = name
        return wa_id

    def wrote(self, wa_id: str, at: datetime | None) -> None:
        """Set when `wa_id` last wrote to the business (None: never)."""
        with self._lock:
            if at is None:
                self._last_inbound.pop(wa_id, None)
            else:
                self._last_inbound[wa_id] = at

    def last_inbound(self, wa_id: str) -> datetime | None:
        with self._lock:
            return self._last_inbound.get(wa_id)

    # What the business did.

    def calls(self) -> list[JSON]:
        """Every JSON body POSTed to /messages, accepted or refused."""
        with self._lock:
            return [r.params for r in self.requests if r.path.endswith("/messages")]

    def messages_to(self, wa_id: str) -> list[Sent]:
        with self._lock:
            return [sent for sent in self.sent if sent.to == wa_id]

    def uploads(self) -> list[JSON]:
        """The form fields of every POST to /media, accepted or refused."""
        with self._lock:
            return [r.params for r in self.requests if r.path.endswith("/media")]

    def document_of(self, sent: Sent) -> Upload:
        """The file a `document` message (one of `messages_to`) named by its media id."""
        with self._lock:
            return self.media[sent.body["document"]["id"]]

    # Graph API.

    async def _phone_number(self, request: Request) -> Response:
        self._record(request, b"", dict(request.query_params))
        if (failure := await self._fault(request)) is not None:
            return failure
        try:
            self._check(request)
        except GraphError as error:
            return error.response()
        return JSONResponse(
            {
                "verified_name": self.verified_name,
                "display_phone_number": f"+{DISPLAY_PHONE_NUMBER[0]} {DISPLAY_PHONE_NUMBER[1:]}",
                "id": self.phone_number_id,
                "quality_rating": "GREEN",
            }
        )

    async def _messages(self, request: Request) -> Response:
        body = await request.body()
        try:
            params = json.loads(body) if body else {}
        except ValueError:
            params = None
        self._record(request, body, params if isinstance(params, dict) else {})
        if (failure := await self._fault(request)) is not None:
            return failure
        try:
            self._check(request)
            if not isinstance(params, dict):
                raise _bad_parameter("The request body is not a JSON object")
            return JSONResponse(self._send(params))
        except GraphError as error:
            return error.response()

    async def _upload(self, request: Request) -> Response:
        body = await request.body()
        form = multipart_form(request.headers.get("content-type", ""), body)
        self._record(request, body, dict(form))
        if (failure := await self._fault(request)) is not None:
            return failure
        try:
            self._check(request)
            if form.get("messaging_product") != "whatsapp":
                raise _bad_parameter("The parameter messaging_product is required.")
            upload = form.get("file")
            if not isinstance(upload, Upload):
                raise _bad_parameter("The parameter file is required.")
            kind = form.get("type")
            if not isinstance(kind, str) or kind not in DOCUMENT_TYPES:
                listed = ", ".join(sorted(DOCUMENT_TYPES))
                raise _bad_parameter(
                    f"Param file must be a file with one of the following types: {listed}"
                )
            if len(upload.content) > self.max_media_bytes or not upload.content:
                raise GraphError(400, 131053, "Media upload error", details="file size not allowed")
        except GraphError as error:
            return error.response()
        media_id = str(1_000_000_000_000_000 + next(self._ids))
        with self._lock:
            self.media[media_id] = Upload(upload.filename, kind, upload.content)
        return JSONResponse({"id": media_id})

    async def _fault(self, request: Request) -> Response | None:
        """The next injected failure for this path, after its delay; None to answer normally."""
        fault = self.faults.take(request.url.path)
        if fault is None:
            return None
        await asyncio.sleep(fault.delay)
        if fault.status is None:
            return None
        answer = fault.body if fault.body is not None else {}
        return JSONResponse(answer, fault.status, headers=fault.headers)

    def _record(self, request: Request, body: bytes, params: JSON) -> None:
        recorded = Recorded(request.method, request.url.path, dict(request.headers), body, params)
        with self._lock:
            self.requests.append(recorded)

    def _check(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.encode(), self.access_token.encode()
        ):
            raise GraphError(401, 190, "Invalid OAuth access token - Cannot parse access token")
        if request.path_params["phone_number_id"] != self.phone_number_id:
            raise GraphError(
                400,
                100,
                f"Unsupported post request. Object with ID"
                f" '{request.path_params['phone_number_id']}' does not exist, cannot be loaded"
                " due to missing permissions, or does not support this operation.",
                kind="GraphMethodException",
            )

    def _send(self, params: JSON) -> JSON:
        if params.get("messaging_product") != "whatsapp":
            raise _bad_parameter("The parameter messaging_product is required.")
        to = params.get("to")
        if not isinstance(to, str) or not to.lstrip("+").isdigit():
            raise _bad_parameter("The parameter to is required and must be a phone number.")
        kind = params.get("type", "text")
        checks: dict[str, Callable[[JSON], None]] = {
            "text": _text,
            "interactive": _interactive,
            "template": self._template,
            "document": self._document,
        }
        if kind not in checks:
            raise _bad_parameter(f"Unsupported message type: {kind}")
        if not isinstance(params.get(kind), dict):
            raise _missing(f"The parameter {kind} is required.")
        checks[kind](params[kind])
        wa_id = to.lstrip("+")
        # Throughput first: a message the pair rate refuses has counted against it.
        if self.number_limit and self.number_limit.hit("number") is not None:
            raise RATE_LIMIT_HIT
        if self.pair_limit and self.pair_limit.hit(wa_id) is not None:
            raise PAIR_RATE_LIMIT_HIT
        now = self.clock()
        with self._lock:
            last = self._last_inbound.get(wa_id)
            if kind != "template" and (last is None or now - last >= WINDOW):
                raise RE_ENGAGEMENT
            wamid = _wamid(wa_id, next(self._ids))
            self.sent.append(Sent(wamid, wa_id, kind, params, now))
        message: JSON = {"id": wamid}
        if kind == "template":
            message["message_status"] = "accepted"
        return {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": wa_id}],
            "messages": [message],
        }

    def _document(self, document: JSON) -> None:
        media_id = document.get("id")
        if "link" in document:
            raise _bad_parameter("Media by link is not emulated: upload it and send its id")
        if not isinstance(media_id, str) or not media_id:
            raise _missing("The parameter document['id'] is required.")
        with self._lock:
            if media_id not in self.media:
                raise _bad_parameter(f"Invalid media id: {media_id}")
        _length(document.get("caption", ""), "caption", 0, 1024)

    def _template(self, template: JSON) -> None:
        name = template.get("name")
        language = template.get("language")
        code = language.get("code") if isinstance(language, dict) else None
        if not isinstance(name, str) or not isinstance(code, str):
            raise _missing("The parameters template.name and template.language.code are required.")
        expected = self.templates.get((name, code))
        if expected is None:
            raise GraphError(
                404,
                132001,
                "(#132001) Template name does not exist in the translation",
                f"template name ({name}) does not exist in {code}",
            )
        given = 0
        for component in template.get("components") or []:
            if not isinstance(component, dict) or component.get("type") != "body":
                continue
            for parameter in component.get("parameters") or []:
                if not isinstance(parameter, dict) or parameter.get("type") != "text":
                    raise _bad_parameter("Body parameters must be of type text.")
                text = parameter.get("text")
                if not isinstance(text, str) or not text:
                    raise _bad_parameter("Body parameters must be non-empty text.")
                if "\n" in text or "\t" in text or "     " in text:
                    raise GraphError(
                        400,
                        132018,
                        "(#132018) There was an issue with the parameters in your template.",
                        "Param text cannot have new-line/tab characters or more than 4"
                        " consecutive spaces",
                    )
                given += 1
        if given != expected:
            raise GraphError(
                400,
                132000,
                "(#132000) Number of parameters does not match the expected number of params",
                f"body: number of localizable_params ({given}) does not match the expected"
                f" number of params ({expected})",
            )

    # The platform side: what Meta POSTs to the business's webhook.

    def notification(
        self,
        *,
        messages: Iterable[JSON] = (),
        statuses: Iterable[JSON] = (),
        contacts: Iterable[JSON] = (),
        phone_number_id: str | None = None,
    ) -> JSON:
        value: JSON = {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": DISPLAY_PHONE_NUMBER,
                "phone_number_id": phone_number_id or self.phone_number_id,
            },
        }
        if contacts := list(contacts):
            value["contacts"] = contacts
        if messages := list(messages):
            value["messages"] = messages
        if statuses := list(statuses):
            value["statuses"] = statuses
        change = {"value": value, "field": "messages"}
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": WABA_ID, "changes": [change]}],
        }

    def inbound(self, wa_id: str, kind: str, content: JSON, **extra: Any) -> JSON:
        """A message of `kind` from `wa_id` (which opens their 24-hour window), in a
        notification of its own."""
        now = self.clock()
        self.wrote(wa_id, now)
        message: JSON = {
            "from": wa_id,
            "id": _wamid(wa_id, next(self._ids), inbound=True),
            "timestamp": str(int(now.timestamp())),
            "type": kind,
            **extra,
        }
        if content:
            message[kind] = content
        contact = {"profile": {"name": self.names.get(wa_id, "")}, "wa_id": wa_id}
        return self.notification(messages=[message], contacts=[contact])

    def text(self, wa_id: str, body: str) -> JSON:
        return self.inbound(wa_id, "text", {"body": body})

    def button_reply(self, wa_id: str, reply_id: str, title: str, context: str = "") -> JSON:
        """A tap on a reply button of the business's message `context` (its wamid)."""
        reply = {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}}
        return self.inbound(wa_id, "interactive", reply, **self._context(context))

    def list_reply(self, wa_id: str, row_id: str, title: str, context: str = "") -> JSON:
        reply = {"type": "list_reply", "list_reply": {"id": row_id, "title": title}}
        return self.inbound(wa_id, "interactive", reply, **self._context(context))

    def quick_reply(self, wa_id: str, text: str, payload: str, context: str = "") -> JSON:
        """A tap on a template's quick-reply button."""
        button = {"text": text, "payload": payload}
        return self.inbound(wa_id, "button", button, **self._context(context))

    def image(self, wa_id: str, caption: str | None = None) -> JSON:
        image: JSON = {
            "mime_type": "image/jpeg",
            "sha256": hashlib.sha256(wa_id.encode()).hexdigest(),
            "id": str(1_000_000_000_000 + next(self._ids)),
        }
        if caption is not None:
            image["caption"] = caption
        return self.inbound(wa_id, "image", image)

    def reaction(self, wa_id: str, message_id: str, emoji: str = "👍") -> JSON:
        return self.inbound(wa_id, "reaction", {"message_id": message_id, "emoji": emoji})

    def location(self, wa_id: str) -> JSON:
        place = {"latitude": -12.0464, "longitude": -77.0428, "name": "Lima", "address": "Lima"}
        return self.inbound(wa_id, "location", place)

    def sticker(self, wa_id: str) -> JSON:
        sticker = {
            "mime_type": "image/webp",
            "sha256": "00" * 32,
            "id": "2754859441498",
            "animated": False,
        }
        return self.inbound(wa_id, "sticker", sticker)

    def unsupported(self, wa_id: str) -> JSON:
        error = {
            "code": 131051,
            "title": "Message type unknown",
            "message": "Message type unknown",
            "error_data": {"details": "Message type is currently not supported."},
        }
        return self.inbound(wa_id, "unsupported", {}, errors=[error])

    def group_text(self, wa_id: str, group_id: str, body: str) -> JSON:
        """A text written in a group the business number is in (Groups API)."""
        return self.inbound(wa_id, "text", {"body": body}, group_id=group_id)

    def statuses_for(
        self, wamid: str, *statuses: str, error: tuple[int, str, str] | None = None
    ) -> list[JSON]:
        """One status notification per status, in the order given (Meta's order is not
        guaranteed); a `failed` one carries `error` (code, title, details)."""
        with self._lock:
            sent = next((s for s in self.sent if s.id == wamid), None)
        recipient = sent.to if sent else "16505551234"
        notifications = []
        for status in statuses:
            entry: JSON = {
                "id": wamid,
                "status": status,
                "timestamp": str(int(self.clock().timestamp())),
                "recipient_id": recipient,
            }
            if status != "failed":
                entry["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "service"}
            if status == "failed":
                code, title, details = error or (131000, "Something went wrong", "Unknown error")
                entry["errors"] = [
                    {
                        "code": code,
                        "title": title,
                        "message": title,
                        "error_data": {"details": details},
                        "href": ERROR_CODES_URL,
                    }
                ]
            notifications.append(self.notification(statuses=[entry]))
        return notifications

    def _context(self, wamid: str) -> JSON:
        return {"context": {"from": DISPLAY_PHONE_NUMBER, "id": wamid}} if wamid else {}

    def signed(self, body: bytes, app_secret: str | None = None) -> dict[str, str]:
        """The headers Meta sends with `body`, signed with `app_secret` (ours by default)."""
        secret = (self.app_secret if app_secret is None else app_secret).encode()
        digest = hmac.new(secret, body, hashlib.sha256).hexdigest()
        return {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": f"sha256={digest}",
            "User-Agent": "facebookexternalua",
        }

    def deliver(
        self,
        url: str,
        notification: JSON | bytes,
        *,
        app_secret: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST a notification to a webhook as Meta does (blocking: call it from a thread when
        the webhook's server runs on this thread's event loop)."""
        body = notification if isinstance(notification, bytes) else _body(notification)
        sent_headers = self.signed(body, app_secret) if headers is None else dict(headers)
        return httpx.post(url, content=body, headers=sent_headers, timeout=30)

    def verify(
        self, url: str, verify_token: str, challenge: str = "1158201444", mode: str = "subscribe"
    ) -> httpx.Response:
        """Meta's verification request when a webhook URL is configured."""
        params = {"hub.mode": mode, "hub.verify_token": verify_token, "hub.challenge": challenge}
        return httpx.get(url, params=params, timeout=30)


def combine(*notifications: JSON) -> JSON:
    """Several notifications as one, with an entry each (Meta batches changes so)."""
    return {
        "object": "whatsapp_business_account",
        "entry": [entry for notification in notifications for entry in notification["entry"]],
    }


def message_id(notification: JSON) -> str:
    """The wamid of the (first) message in a notification built here."""
    return str(notification["entry"][0]["changes"][0]["value"]["messages"][0]["id"])


def _body(notification: JSON) -> bytes:
    # Meta escapes non-ASCII characters (\u00e9); the signature covers exactly these bytes.
    return json.dumps(notification, ensure_ascii=True).encode()


def _wamid(wa_id: str, number: int, *, inbound: bool = False) -> str:
    direction = "ABIA" if inbound else "ERgS"
    raw = f"\x18\x0b{wa_id}\x15\x02\x00{direction}{number:020X}\x00".encode()
    return "wamid." + base64.b64encode(raw).decode()


def _length(value: Any, name: str, low: int, high: int) -> str:
    if not isinstance(value, str):
        raise _missing(f"The parameter {name} is required.")
    if not low <= len(value) <= high:
        raise _invalid(f"{name} length invalid. Min length: {low}, Max length: {high}")
    return value


def _text(text: JSON) -> None:
    _length(text.get("body"), "text.body", 1, 4096)
    if "preview_url" in text and not isinstance(text["preview_url"], bool):
        raise _bad_parameter("text.preview_url must be a boolean")


def _interactive(interactive: JSON) -> None:
    kind = interactive.get("type")
    if kind not in ("button", "list"):
        raise _bad_parameter(f"Unsupported interactive type: {kind}")
    body = interactive.get("body")
    text = body.get("text") if isinstance(body, dict) else None
    _length(text, "body.text", 1, 1024 if kind == "button" else 4096)
    for part in ("header", "footer"):
        if part in interactive:
            given = interactive[part]
            _length(given.get("text") if isinstance(given, dict) else None, f"{part}.text", 1, 60)
    action = interactive.get("action")
    if not isinstance(action, dict):
        raise _missing("The parameter interactive.action is required.")
    if kind == "button":
        _buttons(action.get("buttons"))
    else:
        _list(action)


def _buttons(buttons: Any) -> None:
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise _invalid("buttons count invalid. Min count: 1, Max count: 3")
    titles, ids = set(), set()
    for button in buttons:
        if not isinstance(button, dict) or button.get("type") != "reply":
            raise _bad_parameter("Each button must be of type reply, with a reply object.")
        reply = button.get("reply")
        if not isinstance(reply, dict):
            raise _bad_parameter("Each button must be of type reply, with a reply object.")
        title = _length(reply.get("title"), "button.title", 1, 20)
        reply_id = _length(reply.get("id"), "button.id", 1, 256)
        if reply_id != reply_id.strip():
            raise _invalid("button.id cannot have leading or trailing spaces")
        if title in titles or reply_id in ids:
            raise _invalid("Button title and id must be unique within the message")
        titles.add(title)
        ids.add(reply_id)


def _list(action: JSON) -> None:
    _length(action.get("button"), "action.button", 1, 20)
    sections = action.get("sections")
    if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
        raise _invalid("sections count invalid. Min count: 1, Max count: 10")
    ids: set[str] = set()
    for section in sections:
        if not isinstance(section, dict):
            raise _bad_parameter("Each section must be an object.")
        if len(sections) > 1 or "title" in section:
            _length(section.get("title"), "section.title", 1, 24)
        rows = section.get("rows")
        if not isinstance(rows, list) or not rows:
            raise _invalid("rows count invalid. Min count: 1")
        for row in rows:
            if not isinstance(row, dict):
                raise _bad_parameter("Each row must be an object.")
            _length(row.get("title"), "row.title", 1, 24)
            row_id = _length(row.get("id"), "row.id", 1, 200)
            if "description" in row:
                _length(row["description"], "row.description", 0, 72)
            if row_id in ids:
                raise _invalid("Row id must be unique within the message")
            ids.add(row_id)
    if len(ids) > 10:
        raise _invalid("Total row count exceed max allowed count: 10")
