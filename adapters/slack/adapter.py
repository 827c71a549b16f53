"""Slack through slack-bolt's AsyncApp and slack-sdk: events in, Block Kit messages out.

Slack reaches the bot over HTTP (`[slack] mode = "http"`: events, slash commands and button
presses are all POSTed to `/slack/events`, on any replica) or over Socket Mode (`"socket"`: a
websocket the bot opens, one per process). Bolt checks signatures, answers `url_verification`,
authorizes (`auth.test`, once per process) and routes; the listeners here only read payloads
into events.

What becomes an event, and members' names, is adapters/slack/events.py; what Slack POSTs
is checked first (adapters/slack/requests.py, adapters/slack/payloads.py); what a failed
call means to the outbox is adapters/slack/errors.py. Posting to a user id reaches their DM
with the bot: `send` opens it with `conversations.open` (remembered per member).

Acknowledging. An event is handed to the core, which commits it (and dedupes it) in one
transaction in a few milliseconds; Slack is answered only after that commit, so an
acknowledged event is never lost. If the commit takes longer than `ack_budget_seconds`
(Slack gives up at 3 s), an Events API delivery gets a 503 / no Socket Mode ack, so Slack
delivers it again and the core dedupes it on `event_id`; commands and button presses, which
Slack never redelivers, are acknowledged anyway and finish in the background. Dedupe keys:
`event_id` for events, `command:<trigger_id>` for commands, `press:<channel>:<message ts>`
for buttons: a question can be answered once, so a double click is one answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.background import Background, logged, retry_until_done
from adapters.http import Malformed, reject
from adapters.slack import blocks as slack_blocks
from adapters.slack import payloads, requests, sent
from adapters.slack.errors import (
    BAD_TOKEN,
    SlackConfigError,
    Unavailable,
    call_errors,
    delivery_error,
    error_code,
)
from adapters.slack.events import Reader, Reading
from adapters.slack.remembered import Remembered
from bot import metrics
from bot.adapter import Adapter, Capabilities, Inbox, RateLimit
from bot.messages import OutgoingMessage, group_members
from bot.settings import Secrets, Settings, SlackSettings

# slack-bolt, slack-sdk and aiohttp are imported where the adapter is built and used: every
# process that checks content imports this module for the class's capabilities alone.
if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
    from slack_bolt.async_app import AsyncApp
    from slack_bolt.authorization import AuthorizeResult
    from slack_bolt.request.async_request import AsyncBoltRequest
    from slack_bolt.response import BoltResponse
    from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("onramp.slack")
_BOLT_LOG = logging.getLogger("onramp.slack.bolt")
# Bolt reads SLACK_BOT_TOKEN itself and warns that the client given wins: it does, on purpose.
_BOLT_LOG.addFilter(lambda record: "`token` will be unused" not in record.getMessage())
EVENTS_PATH = "/slack/events"
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
MAX_DOCUMENT = 100 * 1000 * 1000


class SlackAdapter(Adapter):
    name = "slack"
    capabilities = Capabilities(
        max_buttons=slack_blocks.MAX_BUTTONS,
        max_text_length=40_000,  # chat.postMessage's text; longer questions span sections
        markdown="mrkdwn",
        can_start_dm=True,
        has_slash_commands=True,
        can_group_dm=True,  # conversations.open with several users (scope mpim:write)
        # Slack takes files up to 1 GB; a file waits in an outbox row until it goes, so far
        # less: a member's data export is a few kilobytes (scope files:write).
        max_document_bytes=MAX_DOCUMENT,
    )

    @classmethod
    def configured(cls, settings: Settings, secrets: Secrets | None = None) -> bool:
        """Are the secrets this mode needs in the environment? (Then `onramp run` serves
        Slack unless `[adapters] enabled` says otherwise.)"""
        secrets = secrets or Secrets()
        second = (
            secrets.slack_app_token
            if settings.slack.mode == "socket"
            else secrets.slack_signing_secret
        )
        return bool(_secret(secrets.slack_bot_token) and _secret(second))

    def __init__(self, settings: Settings, secrets: Secrets | None = None) -> None:
        self.settings: SlackSettings = settings.slack
        secrets = secrets or Secrets()
        socket = self.settings.mode == "socket"
        self._token = _secret(secrets.slack_bot_token)
        self._app_token = _secret(secrets.slack_app_token)
        self._signing_secret = _secret(secrets.slack_signing_secret)
        if not self._token:
            raise SlackConfigError("the slack adapter needs SLACK_BOT_TOKEN (the xoxb- bot token)")
        if socket and not self._app_token:
            raise SlackConfigError(
                "slack socket mode needs SLACK_APP_TOKEN (an xapp- token with connections:write)"
            )
        if not socket and not self._signing_secret:
            raise SlackConfigError("slack http mode needs SLACK_SIGNING_SECRET")
        from slack_sdk.signature import SignatureVerifier

        self._verifier = SignatureVerifier(self._signing_secret or "unused in socket mode")
        # Idempotent calls keep slack-sdk's one retry after a connection error; posting does not
        # retry by itself: a connection lost after Slack took the message would post it twice.
        # The outbox retries it instead, recorded and with backoff (see adapters/slack/errors.py).
        self._web = self._client(self._token)
        self._post = self._client(self._token, retry_handlers=[])
        self._history = sent.history_client(partial(self._client, self._token))
        self.app = self._bolt_app()
        self._inbox: Inbox | None = None
        self._auth: AuthorizeResult | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._authorizing: asyncio.Task[None] | None = None  # after a failed auth.test at start
        self._dm_channels: Remembered[str] = Remembered()
        self._read = Reader(self.settings, self._web, self._bot_user_id, self._mark_answered)
        self._work = Background()  # commits past the budget, edits after presses

    def _bolt_app(self) -> AsyncApp:
        # Bolt hands a callback what its parameters are named after, so these are functions
        # (a method's `self` would puzzle it). Each listener answers Slack once its event is
        # committed.
        from slack_bolt.async_app import AsyncApp

        async def authorize() -> AuthorizeResult:
            return await self._authorize()

        app = AsyncApp(
            name="onramp",
            logger=_BOLT_LOG,
            client=self._client(None),  # Bolt's requests get the token from `authorize`
            signing_secret=self._signing_secret,
            authorize=authorize,
            process_before_response=True,  # listeners answer once the event is committed
        )

        async def on_event(body: dict[str, Any], request: AsyncBoltRequest) -> BoltResponse:
            return await self._take(request, self._read.event, body, redelivered=True)

        async def on_command(body: dict[str, Any], request: AsyncBoltRequest) -> BoltResponse:
            return await self._take(request, self._read.command, body, redelivered=False)

        async def on_action(body: dict[str, Any], request: AsyncBoltRequest) -> BoltResponse:
            return await self._take(request, self._read.action, body, redelivered=False)

        async def on_other(body: dict[str, Any]) -> BoltResponse:
            log.info("slack request ignored", extra={"type": str(body.get("type"))[:40]})
            return _ok()

        anything = re.compile(".*")
        app.event(anything)(on_event)
        app.command(anything)(on_command)
        app.action(anything)(on_action)
        for other in (app.shortcut, app.view, app.options):
            other(anything)(on_other)
        return app

    def _client(self, token: str | None, **options: Any) -> AsyncWebClient:
        from slack_sdk.web.async_client import AsyncWebClient

        return AsyncWebClient(
            token=token,
            base_url=self.settings.api_url,
            timeout=int(self.settings.request_timeout_seconds),
            **options,
        )

    # The adapter contract.

    async def start(self, inbox: Inbox) -> None:
        self._inbox = inbox
        try:
            await self._authorize()
        except Unavailable as exc:
            if str(exc) in BAD_TOKEN:
                raise SlackConfigError(f"Slack refused SLACK_BOT_TOKEN: {exc}") from exc
            log.warning("slack unreachable at start; retrying", extra={"reason": str(exc)})
            # until `auth.test` answers: meanwhile /readyz says no, so no traffic comes to ask
            self._authorizing = self._work.spawn(
                retry_until_done(self._authorize, retrying_on=Unavailable)
            )
        if self.settings.mode == "socket":
            await self._connect()

    async def stop(self) -> None:
        for connecting in (self._authorizing, self._connecting):
            if connecting is not None:
                connecting.cancel()
        if self._socket is not None:
            with contextlib.suppress(Exception):
                # slack-bolt's Socket Mode handler has no type hints
                await self._socket.close_async()  # type: ignore[no-untyped-call]
        await self._work.drain()  # let commits and edits in flight finish, briefly
        self._inbox = None

    def routes(self) -> list[Route]:
        if self.settings.mode != "http":
            return []
        return [Route(EVENTS_PATH, self._http, methods=["POST"])]

    def ready(self) -> bool:
        if self._auth is None:
            return False
        if self.settings.mode == "http":
            return True
        client = self._socket.client if self._socket is not None else None
        session = client.current_session if client is not None else None
        return bool(client and session and not session.closed and not client.stale)

    def rate_limits(self, message: OutgoingMessage) -> list[RateLimit]:
        return [
            RateLimit(f"channel:{message.recipient}", *self.settings.channel_limit),
            RateLimit(f"workspace:{message.workspace}", *self.settings.workspace_limit),
        ]

    async def send(self, message: OutgoingMessage) -> str:
        try:
            channel = await self._channel(message.recipient)
            if message.document is not None:
                return await self._upload(channel, message)
            rendered = slack_blocks.render_message(message)
            posted = await self._post.chat_postMessage(
                channel=channel,
                text=rendered.text,
                blocks=rendered.blocks,
                unfurl_links=False,
                unfurl_media=slack_blocks.unfurl_media(message),
                metadata=sent.marked(message),
            )
        except call_errors() as exc:
            error = delivery_error(exc)
            if error.permanent:
                self._dm_channels.pop(message.recipient, None)
            raise error from exc
        return str(posted["ts"])

    async def _upload(self, channel: str, message: OutgoingMessage) -> str:
        """A file shared in `channel` with the text as its comment: files.getUploadURLExternal,
        the bytes POSTed to the URL it gives, then files.completeUploadExternal (slack-sdk's
        files_upload_v2). Returns the file's id: a file shared has no message `ts` to give."""
        assert message.document is not None
        document = message.document
        completed = await self._post.files_upload_v2(
            channel=channel,
            filename=document.name,
            content=document.content,
            title=document.name,
            initial_comment=slack_blocks.render_message(message).text or None,
        )
        files = completed.get("files") or []
        return str(files[0]["id"]) if files else document.name

    async def already_sent(self, message: OutgoingMessage) -> str | None:
        """Its `ts` if the conversation's latest messages hold one this bot posted for the
        same outbox row (the message metadata `send` attaches); None when not, or when Slack
        cannot be asked (the message is then sent again)."""
        if message.outbox_id is None:
            return None
        try:
            channel = await self._channel(message.recipient)
            return await sent.find(self._history, channel, message.outbox_id, self._bot_user_id())
        except call_errors() as exc:
            log.warning(
                "slack history unreadable; sending again", extra={"reason": error_code(exc)}
            )
            return None

    # Receiving over HTTP: what Bolt would let through badly is refused first.

    async def _http(self, request: Request) -> Response:
        from slack_bolt.adapter.starlette.async_handler import (
            to_async_bolt_request,
            to_starlette_response,
        )
        from slack_bolt.context.async_context import AsyncBoltContext
        from slack_bolt.request.async_internals import build_async_context

        body = await request.body()
        requests.verify(self._verifier, request.headers, body)
        media_type, parsed = payloads.parse(request.headers.get("content-type", ""), body)
        if not payloads.used(media_type, parsed):
            log.info("slack request ignored", extra={"type": str(parsed["type"])[:40]})
            return Response(status_code=200)  # app_rate_limited, shortcuts, views…
        payloads.check(parsed)  # before Bolt reads ids from it
        bolt_request = to_async_bolt_request(request, body)
        if bolt_request.body != parsed:  # Bolt reads a command whose text says "payload" as {}
            bolt_request.body = parsed
            bolt_request.context = build_async_context(AsyncBoltContext(), parsed)
        answer = await self.app.async_dispatch(bolt_request)
        if (reason := bolt_request.context.get(_REJECTED)) is not None:
            reject(self.name, 400, "malformed", reason)
        if answer.status == 404:  # nothing listens for it (a kind Onramp never asked for)
            log.info("slack request ignored", extra={"reason": "no listener"})
            return Response(status_code=200)
        return to_starlette_response(answer)

    # Bolt's listeners: each answers Slack once the event is committed (or the budget is spent).

    async def _take(
        self,
        request: AsyncBoltRequest,
        read: Callable[[dict[str, Any], float], Awaitable[Reading]],
        body: dict[str, Any],
        *,
        redelivered: bool,
    ) -> BoltResponse:
        """Read the payload, hand its event to the core and answer once it is committed.
        `redelivered`: Slack delivers it again unless answered 2xx (the Events API does)."""
        deadline = asyncio.get_running_loop().time() + self.settings.ack_budget_seconds
        try:
            reading = await read(body, deadline)
        except Malformed as exc:
            return self._malformed(request, str(exc))
        if reading.event is None:
            log.info("slack request ignored", extra={"reason": reading.ignored})
            return _ok()
        if self._inbox is None:
            return _answer(503, "not started")
        committing = self._work.spawn(self._commit(reading))
        try:
            async with asyncio.timeout_at(deadline):
                await asyncio.shield(committing)
        except TimeoutError:
            committing.add_done_callback(_report_late_failure)
            if redelivered:
                log.warning("slack event not committed in time; Slack will deliver it again")
                return _answer(503)
            log.warning("slack request acknowledged before it was committed")
        except Exception:
            log.exception("slack event not handled", extra={"kind": type(reading.event).__name__})
            return _answer(500)
        return _ok()

    async def _commit(self, reading: Reading) -> None:
        assert self._inbox is not None and reading.event is not None
        receipt = await self._inbox(reading.event)
        if reading.then is not None and not receipt.duplicate:  # the first time only
            self._work.spawn(logged(log, "slack background work", reading.then()))

    def _malformed(self, request: AsyncBoltRequest, reason: str) -> BoltResponse:
        if request.mode == "socket_mode":  # acked: delivering it again would not mend it
            metrics.rejected(self.name, "malformed")
            log.warning("slack envelope refused", extra={"reason": reason})
            return _ok()
        request.context[_REJECTED] = reason  # `_http` answers 400 with it
        return _answer(400, reason)

    # Calling Slack.

    async def _authorize(self) -> AuthorizeResult:
        """Bolt's `authorize`: who the bot is (`auth.test`, once). Failing raises, which Bolt
        answers 500 so Slack retries; its own single-workspace authorization would answer 200
        and drop the event."""
        if self._auth is None:
            try:
                found = await self._web.auth_test()
            except call_errors() as exc:
                raise Unavailable(error_code(exc)) from exc
            from slack_bolt.authorization import AuthorizeResult

            self._auth = AuthorizeResult.from_auth_test_response(
                auth_test_response=found, bot_token=self._token
            )
            log.info("slack authorized", extra={"team": found.get("team_id")})
        return self._auth

    def _bot_user_id(self) -> str | None:
        return self._auth.bot_user_id if self._auth is not None else None

    async def _connect(self) -> None:
        """Socket Mode: a wrong app token stops the start; an unreachable Slack is retried
        (by slack-sdk's client) while the bot reports itself not ready."""
        from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(
            self.app, self._app_token, logger=logging.getLogger("onramp.slack.socket")
        )
        self._socket = handler
        try:
            handler.client.wss_uri = await handler.client.issue_new_wss_url()
        except call_errors() as exc:
            if error_code(exc) in BAD_TOKEN | {"not_allowed_token_type"}:
                raise SlackConfigError(f"Slack refused SLACK_APP_TOKEN: {error_code(exc)}") from exc
            log.warning(
                "slack socket mode unreachable; retrying", extra={"reason": error_code(exc)}
            )
        # slack-bolt's Socket Mode handler has no type hints
        self._connecting = asyncio.create_task(handler.connect_async())  # type: ignore[no-untyped-call]
        await asyncio.wait({self._connecting}, timeout=self.settings.request_timeout_seconds)
        if not self._connecting.done():
            log.warning("slack socket mode still connecting")

    async def _channel(self, recipient: str) -> str:
        """Where to post: a channel as it is; a user's DM with the bot, or a group DM of several
        users and the bot, opened once."""
        group = group_members(recipient)
        if group is None and not _USER_ID.fullmatch(recipient):
            return recipient
        known = self._dm_channels.recall(recipient)
        if known is None:
            users = ",".join(group) if group is not None else recipient
            opened = await self._web.conversations_open(users=users)
            known = str(opened["channel"]["id"])
            self._dm_channels.keep(recipient, known)
        return known

    async def _mark_answered(
        self, channel: str, message: dict[str, Any], choice_ids: tuple[str, ...]
    ) -> None:
        """The question shows the answer instead of its buttons. Losing this loses looks only:
        the core takes a press on a question already answered as a duplicate."""
        try:
            await self._web.chat_update(
                channel=channel,
                ts=message["ts"],
                text=str(message.get("text") or "…"),
                blocks=slack_blocks.answered_blocks(message, choice_ids),
            )
        except call_errors() as exc:
            log.info("slack question not marked answered", extra={"reason": error_code(exc)})

    @classmethod
    def render_preview(cls, message: OutgoingMessage) -> str:
        """The message's text as it is sent (mrkdwn; choices on buttons left out)."""
        return slack_blocks.render_message(message).text


_REJECTED = "onramp_rejected"  # a listener's reason for refusing a malformed payload


def _ok() -> BoltResponse:
    return _answer(200)


def _answer(status: int, body: str = "") -> BoltResponse:
    from slack_bolt.response import BoltResponse

    return BoltResponse(status=status, body=body)


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value().strip() if value is not None else ""


def _report_late_failure(task: asyncio.Task[Any]) -> None:
    """A commit that outlived the budget failed: nobody else will say so."""
    if not task.cancelled() and task.exception() is not None:
        log.error("slack event not committed", exc_info=task.exception())
