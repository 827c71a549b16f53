"""WhatsApp through Meta's Cloud API, on plain httpx: notifications in as events, messages out.

Receiving: Meta POSTs each notification to `/whatsapp/webhook` (any replica can take it),
signed `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body with the app secret>`. It is
answered 200 only once every message and status in it is committed; Meta delivers it again
after anything else, and the core dedupes on the message id. The same path answers Meta's
verification request (`GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`). What a
notification means is adapters/whatsapp/notifications.py.

Sending: `POST {graph_url}/{api_version}/{phone_number_id}/messages` (adapters/whatsapp/graph.py)
with the bodies of adapters/whatsapp/messages.py. WhatsApp lets a business send free-form
messages only within 24 hours of the member's last message (`OutgoingMessage.last_inbound_at`,
which the core fills in); after that only an approved template may go. So outside the window
the adapter sends the template the content names for the message, and without one the message
fails for good, saying why. If Meta says the window has closed (131047) when the adapter
thought it open, the same rule applies at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from adapters.background import retry_until_done
from adapters.http import Malformed, json_body, reject, require_json
from adapters.whatsapp import graph, notifications
from adapters.whatsapp import messages as bodies
from bot.adapter import Adapter, AdapterConfigError, Capabilities, DeliveryError, Inbox, RateLimit
from bot.messages import OutgoingMessage
from bot.settings import Secrets, Settings, WhatsAppSettings

log = logging.getLogger("onramp.whatsapp")
WEBHOOK_PATH = "/whatsapp/webhook"
SIGNATURE_HEADER = "X-Hub-Signature-256"
WINDOW = timedelta(hours=24)
MAX_CHALLENGE = 256
Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class WhatsAppConfigError(AdapterConfigError):
    pass


class WhatsAppAdapter(Adapter):
    name = "whatsapp"
    capabilities = Capabilities(
        max_buttons=bodies.MAX_BUTTONS,  # reply buttons; a list message holds up to 10 rows
        max_text_length=bodies.MAX_TEXT,
        markdown="whatsapp",  # rendered to WhatsApp's own markup (adapters/markdown.py)
        can_start_dm=False,  # only a template, to someone who has written before
        has_slash_commands=False,  # typed: /help
        # Meta's convention for marketing: "STOP" alone unsubscribes (here: announcements).
        opt_out_keywords=("stop", "unsubscribe"),
        reply_window_hours=WINDOW.total_seconds() / 3600,  # then only a template goes
        max_document_bytes=bodies.MAX_DOCUMENT,  # uploaded, then sent as a document message
    )

    @classmethod
    def configured(cls, settings: Settings, secrets: Secrets | None = None) -> bool:
        """Are the three WhatsApp secrets in the environment and `[whatsapp] phone_number_id`
        set? (Then `onramp run` serves WhatsApp unless `[adapters] enabled` says otherwise.)"""
        return not _missing(settings.whatsapp, secrets or Secrets())

    def __init__(
        self, settings: Settings, secrets: Secrets | None = None, *, clock: Clock = _utcnow
    ) -> None:
        self.settings: WhatsAppSettings = settings.whatsapp
        secrets = secrets or Secrets()
        missing = _missing(self.settings, secrets)
        if missing:
            raise WhatsAppConfigError(f"the whatsapp adapter needs {' and '.join(missing)}")
        assert secrets.whatsapp_access_token and secrets.whatsapp_app_secret
        assert secrets.whatsapp_verify_token
        self._app_secret = secrets.whatsapp_app_secret.get_secret_value().encode()
        self._verify_token = secrets.whatsapp_verify_token.get_secret_value().encode()
        self.graph = graph.Graph(self.settings, secrets.whatsapp_access_token.get_secret_value())
        self.clock = clock
        self._inbox: Inbox | None = None
        self._ready = False
        self._checking: asyncio.Task[None] | None = None  # retrying after a failed start

    # The adapter contract.

    async def start(self, inbox: Inbox) -> None:
        """Ask Meta for the business number: a refused token or an unknown number stops the
        bot; Meta out of reach does not (it keeps asking, not ready meanwhile)."""
        import httpx  # here, not above: reading the class's capabilities loads no HTTP client

        self._inbox = inbox
        try:
            await self._check_number()
        except graph.GraphError as exc:
            if exc.token_refused:
                raise WhatsAppConfigError(f"Meta refused WHATSAPP_ACCESS_TOKEN ({exc})") from None
            if not graph.passing(exc):
                raise WhatsAppConfigError(
                    f"Meta refused [whatsapp] phone_number_id {self.settings.phone_number_id!r}"
                    f" ({exc})"
                ) from None
            self._check_later(exc)
        except httpx.HTTPError as exc:
            self._check_later(exc)

    async def stop(self) -> None:
        if self._checking is not None:
            self._checking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checking
            self._checking = None
        await self.graph.close()
        self._ready = False

    def routes(self) -> list[Route]:
        return [Route(WEBHOOK_PATH, self._webhook, methods=["GET", "POST"])]

    def ready(self) -> bool:
        return self._ready

    def rate_limits(self, message: OutgoingMessage) -> list[RateLimit]:
        return [
            RateLimit("number", *self.settings.number_limit),
            RateLimit(f"to:{message.recipient}", *self.settings.pair_limit),
        ]

    async def send(self, message: OutgoingMessage) -> str:
        """Free-form inside the member's 24-hour window, the message's template outside it."""
        closed = _window_closed(message.last_inbound_at, self.clock())
        if message.document is not None:
            return await self._send_document(message, closed)
        if closed is None:
            try:
                return await self._post(bodies.free_form(message, self.settings.list_button))
            except graph.GraphError as exc:
                if exc.code != graph.RE_ENGAGEMENT:
                    raise graph.delivery_error(exc, self.settings) from exc
                closed = "WhatsApp says their 24-hour window has closed (131047)"
        if message.template is None:
            raise DeliveryError(
                f"whatsapp: {closed}, so WhatsApp accepts only an approved template, and the"
                " content names none for this message (whatsapp_template)",
                permanent=True,
            )
        try:
            return await self._post(bodies.template(message))
        except graph.GraphError as exc:
            raise graph.delivery_error(exc, self.settings) from exc

    async def _send_document(self, message: OutgoingMessage, closed: str | None) -> str:
        """The file uploaded (POST /media), then a document message naming it: free-form,
        so only inside the member's 24-hour window (no template carries our file)."""
        import httpx

        assert message.document is not None
        if closed is not None:
            raise DeliveryError(
                f"whatsapp: {closed}, and a file goes only inside it", permanent=True
            )
        document = message.document
        try:
            media_id = await self.graph.upload_media(
                document.name, bodies.document_type(document.media_type), document.content
            )
            return await self._post(bodies.document(message, media_id))
        except graph.GraphError as exc:
            raise graph.delivery_error(exc, self.settings) from exc
        except httpx.HTTPError as exc:
            raise graph.network_error(exc) from exc

    # Receiving.

    async def _webhook(self, request: Request) -> Response:
        if request.method == "GET":
            return self._verification(request)
        body = await request.body()
        if not self._signed(body, request.headers.get(SIGNATURE_HEADER, "")):
            reject(self.name, 401, "bad_signature", f"wrong or missing {SIGNATURE_HEADER}")
        require_json(self.name, request.headers)
        payload = json_body(self.name, body)
        try:
            reading = notifications.read(payload, self.settings.phone_number_id or "")
        except Malformed as exc:
            reject(self.name, 400, "malformed", f"not a notification: {exc}")
        if reading.ignored:
            log.info(
                "whatsapp notification ignored in part",
                extra={"reason": "; ".join(reading.ignored)[:300]},
            )
        assert self._inbox is not None, "start() first"
        try:
            for event in reading.events:  # in order: one member's messages follow each other
                await self._inbox(event)
        except Exception:  # not all committed: Meta delivers it again, and dedupe sorts it out
            log.exception("whatsapp notification not handled")
            return Response("not handled", status_code=500)
        return Response(status_code=200)

    def _verification(self, request: Request) -> Response:
        """Meta checks the webhook URL once, when it is configured: echo its challenge."""
        params = request.query_params
        token = params.get("hub.verify_token", "").encode()
        if params.get("hub.mode") != "subscribe" or not hmac.compare_digest(
            token, self._verify_token
        ):
            reject(self.name, 403, "verify_token", "wrong hub.verify_token or hub.mode")
        challenge = params.get("hub.challenge", "")
        if not challenge or len(challenge) > MAX_CHALLENGE:
            reject(self.name, 400, "malformed", "no hub.challenge")
        log.info("whatsapp webhook verified")
        return PlainTextResponse(challenge)

    def _signed(self, body: bytes, header: str) -> bool:
        expected = hmac.new(self._app_secret, body, hashlib.sha256).hexdigest()
        given = header.removeprefix("sha256=") if header.startswith("sha256=") else ""
        return hmac.compare_digest(given.lower().encode(), expected.encode())

    # Sending.

    async def _post(self, body: graph.JSON) -> str:
        import httpx

        try:
            wamid = await self.graph.post_message(body)
        except graph.GraphError as exc:
            if exc.token_refused:
                self._ready = False
                log.error("Meta refused WHATSAPP_ACCESS_TOKEN", extra={"reason": str(exc)})
            raise
        except httpx.HTTPError as exc:
            raise graph.network_error(exc) from exc
        self._ready = True
        return wamid

    # Start-up.

    async def _check_number(self) -> None:
        number = await self.graph.phone_number()
        self._ready = True
        log.info(
            "whatsapp number ready",
            extra={"verified_name": str(number.get("verified_name", ""))[:100]},
        )

    def _check_later(self, exc: BaseException) -> None:
        import httpx

        _retrying(exc)
        self._checking = asyncio.create_task(
            retry_until_done(
                self._check_number,
                retrying_on=(graph.GraphError, httpx.HTTPError),
                failed=_retrying,
            )
        )

    @classmethod
    def render_preview(cls, message: OutgoingMessage) -> str:
        """The message's free-form text as it is sent inside the 24-hour window (WhatsApp's
        markup; choices on buttons or in a list left out). Outside it, the template goes."""
        body = bodies.free_form(message, WhatsAppSettings().list_button)
        if body["type"] == "text":
            return str(body["text"]["body"])
        return str(body["interactive"]["body"]["text"])


def _retrying(exc: BaseException) -> None:
    log.warning("whatsapp set-up failed; retrying", extra={"reason": str(exc)[:200]})


def _missing(settings: WhatsAppSettings, secrets: Secrets) -> list[str]:
    given = {
        "WHATSAPP_ACCESS_TOKEN": secrets.whatsapp_access_token,
        "WHATSAPP_APP_SECRET": secrets.whatsapp_app_secret,
        "WHATSAPP_VERIFY_TOKEN": secrets.whatsapp_verify_token,
    }
    missing = [name for name, value in given.items() if not (value and value.get_secret_value())]
    if not settings.phone_number_id:
        missing.append("[whatsapp] phone_number_id")
    return missing


def _window_closed(last_inbound_at: datetime | None, now: datetime) -> str | None:
    """Why free-form messages may not go now, or None while the 24-hour window is open."""
    if last_inbound_at is None:
        return "the member has never written to this number"
    if last_inbound_at.tzinfo is None:
        last_inbound_at = last_inbound_at.replace(tzinfo=UTC)
    if now - last_inbound_at < WINDOW:
        return None
    return (
        f"the member last wrote at {last_inbound_at.isoformat(timespec='minutes')},"
        " more than 24 hours ago"
    )
