"""Slack through slack-bolt's AsyncApp and slack-sdk: events in, Block Kit messages out.

Slack reaches the bot over HTTP (`[slack] mode = "http"`: events, slash commands and button
presses are all POSTed to `/slack/events`, on any replica) or over Socket Mode (`"socket"`: a
websocket the bot opens, one per process). Bolt checks signatures, answers `url_verification`,
authorizes (`auth.test`, once per process) and routes; the listeners here only read payloads
into events.

What becomes an event:
- `team_join` (if `welcome_workspace_joins`), `member_joined_channel` in one of
  `welcome_channels`: `MemberJoined`, addressed to the member's user id. Posting to a user id
  reaches their DM with the bot; `send` turns it into the DM channel with `conversations.open`
  (cached per member). Keeping the user id as the member's private conversation gives each
  member one recipient, so the sender's per-recipient order holds.
- `message.im` from a person: `MessageReceived` (or `CommandInvoked` for ` /cmd` typed there).
- `/command text`: `CommandInvoked`, answered in the member's DM.
- a press on one of our buttons (`block_actions`): `ChoiceMade`; the question is then edited
  to show the answer instead of its buttons.
- `user_change` with a new name: `ProfileChanged`, so the member is called by it.

Names come with `team_join` and `user_change`, else from `users.info` (remembered per process);
when that fails, the event goes without a name and `users.info` is asked again on a later
event, after a pause that doubles each time it fails.

What Slack POSTs is read and checked in adapters/slack/payloads.py before Bolt sees it.

In what members type, a mention of a member becomes the core's member link
(adapters/slack/mentions.py); the rest of Slack's markup is read back to what was typed.

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
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from pydantic import SecretStr
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request, to_starlette_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.http import Malformed, logged, reject
from adapters.slack import blocks as slack_blocks
from adapters.slack import mentions as slack_mentions
from adapters.slack import payloads
from bot import metrics
from bot.adapter import AdapterConfigError, Capabilities, DeliveryError, Inbox, RateLimit
from bot.events import (
    ChoiceMade,
    CommandInvoked,
    Event,
    MemberJoined,
    MessageReceived,
    ProfileChanged,
    parse_typed_command,
)
from bot.messages import OutgoingMessage, group_members
from bot.settings import Secrets, Settings, SlackSettings

log = logging.getLogger("onramp.slack")
_BOLT_LOG = logging.getLogger("onramp.slack.bolt")
# Bolt reads SLACK_BOT_TOKEN itself and warns that the client given wins: it does, on purpose.
_BOLT_LOG.addFilter(lambda record: "`token` will be unused" not in record.getMessage())
EVENTS_PATH = "/slack/events"
MAX_AGE_SECONDS = 5 * 60  # Slack's replay window for signed requests
REMEMBERED = 10_000  # DM channels and profiles kept per process
# After users.info fails for a member, their events go nameless this long before it is asked
# again (then twice as long, up to an hour): a broken API is not asked on every event.
PROFILE_RETRY_SECONDS = 30.0
PROFILE_RETRY_LIMIT = 3600.0
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # seconds since 1970, in ASCII digits
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")  # HMAC-SHA256, in hex
# Errors another attempt will not mend: the message is given up at once.
_PERMANENT = frozenset(
    [
        "access_denied",
        "account_inactive",
        "cannot_dm_bot",
        "channel_not_found",
        "ekm_access_denied",
        "invalid_arguments",
        "invalid_auth",
        "invalid_blocks",
        "invalid_blocks_format",
        "is_archived",
        "messages_tab_disabled",
        "missing_scope",
        "msg_too_long",
        "no_permission",
        "no_text",
        "not_allowed_token_type",
        "not_authed",
        "not_in_channel",
        "restricted_action",
        "team_access_not_granted",
        "token_expired",
        "token_revoked",
        "too_many_attachments",
        "user_disabled",
        "user_not_found",
        "user_not_visible",
        "users_not_found",
    ]
)
_BAD_TOKEN = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)
# What a call to Slack may raise: an error answer, a lost connection, a timeout.
_FAILED = (SlackClientError, aiohttp.ClientError, TimeoutError)


_V = TypeVar("_V")


class SlackConfigError(AdapterConfigError):
    pass


class _Unavailable(Exception):
    """Slack could not be asked who we are: the request fails (500) and Slack retries it."""


@dataclass(frozen=True)
class _Reading:
    """What one payload means: an event for the core and what to do once it is committed, or
    why it means nothing to Onramp."""

    event: Event | None = None
    then: Callable[[], Awaitable[None]] | None = None
    ignored: str | None = None


class _Remembered(OrderedDict[str, _V]):
    """The most recently used `REMEMBERED` entries."""

    def recall(self, key: str) -> _V | None:
        if key in self:
            self.move_to_end(key)
        return self.get(key)

    def keep(self, key: str, value: _V) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > REMEMBERED:
            self.popitem(last=False)


class SlackAdapter:
    name = "slack"
    capabilities = Capabilities(
        max_buttons=slack_blocks.MAX_BUTTONS,
        max_text_length=40_000,  # chat.postMessage's text; longer questions span sections
        markdown="mrkdwn",
        can_start_dm=True,
        has_slash_commands=True,
        can_group_dm=True,  # conversations.open with several users (scope mpim:write)
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
        self._verifier = SignatureVerifier(self._signing_secret or "unused in socket mode")
        # Idempotent calls keep slack-sdk's one retry after a connection error; posting does not
        # retry by itself: a connection lost after Slack took the message would post it twice.
        # The outbox retries it instead, recorded and with backoff (see `_delivery_error`).
        self._web = self._client(self._token)
        self._post = self._client(self._token, retry_handlers=[])
        self.app = self._bolt_app()
        self._inbox: Inbox | None = None
        self._auth: AuthorizeResult | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._authorizing: asyncio.Task[None] | None = None  # after a failed auth.test at start
        self._dm_channels: _Remembered[str] = _Remembered()
        self._profiles: _Remembered[_Person] = _Remembered()
        self._unnamed: _Remembered[tuple[float, float]] = _Remembered()  # (ask again at, wait)
        self._work: set[asyncio.Task[Any]] = set()  # commits past the budget, edits after presses

    def _bolt_app(self) -> AsyncApp:
        # Bolt hands a callback what its parameters are named after, so these are functions
        # (a method's `self` would puzzle it). Each listener answers Slack once its event is
        # committed.

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
            return await self._take(request, self._read_event, body, redelivered=True)

        async def on_command(body: dict[str, Any], request: AsyncBoltRequest) -> BoltResponse:
            return await self._take(request, self._read_command, body, redelivered=False)

        async def on_action(body: dict[str, Any], request: AsyncBoltRequest) -> BoltResponse:
            return await self._take(request, self._read_action, body, redelivered=False)

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
        except _Unavailable as exc:
            if str(exc) in _BAD_TOKEN:
                raise SlackConfigError(f"Slack refused SLACK_BOT_TOKEN: {exc}") from exc
            log.warning("slack unreachable at start; retrying", extra={"reason": str(exc)})
            self._authorizing = self._spawn(self._authorize_eventually())
        if self.settings.mode == "socket":
            await self._connect()

    async def stop(self) -> None:
        for connecting in (self._authorizing, self._connecting):
            if connecting is not None:
                connecting.cancel()
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await self._socket.close_async()
        if self._work:  # let commits and edits in flight finish, briefly
            await asyncio.wait(self._work, timeout=5)
        for task in list(self._work):
            task.cancel()
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
            rendered = slack_blocks.render_message(message)
            posted = await self._post.chat_postMessage(
                channel=channel,
                text=rendered.text,
                blocks=rendered.blocks,
                unfurl_links=False,
                unfurl_media=slack_blocks.unfurl_media(message),
            )
        except _FAILED as exc:
            error = _delivery_error(exc)
            if error.permanent:
                self._dm_channels.pop(message.recipient, None)
            raise error from exc
        return str(posted["ts"])

    # Receiving over HTTP: what Bolt would let through badly is refused first.

    async def _http(self, request: Request) -> Response:
        body = await request.body()
        self._verify(request.headers, body)
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

    def _verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Slack's request signature, checked as Bolt checks it (which it does again), before
        anything is read. Headers arrive as Latin-1: anything else than Slack's ASCII digits
        and hex is turned away before it meets `int()` or `hmac`."""
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        if not timestamp or not signature:
            reject(
                self.name, 401, "bad_signature", "no X-Slack-Signature or X-Slack-Request-Timestamp"
            )
        if not _TIMESTAMP.fullmatch(timestamp):
            reject(self.name, 401, "bad_signature", "X-Slack-Request-Timestamp is not a number")
        if not _SIGNATURE.fullmatch(signature):
            reject(self.name, 401, "bad_signature", "X-Slack-Signature is not a v0 signature")
        if abs(time.time() - int(timestamp)) > MAX_AGE_SECONDS:
            reject(self.name, 401, "stale", "X-Slack-Request-Timestamp is more than 5 minutes away")
        try:
            text = body.decode("utf-8")  # Slack signs UTF-8 text; anything else is not Slack's
        except UnicodeDecodeError:
            reject(self.name, 400, "malformed", "the body is not UTF-8 text")
        if not self._verifier.is_valid(body=text, timestamp=timestamp, signature=signature):
            reject(
                self.name, 401, "bad_signature", "the signature does not match SLACK_SIGNING_SECRET"
            )

    # Bolt's listeners: each answers Slack once the event is committed (or the budget is spent).

    async def _take(
        self,
        request: AsyncBoltRequest,
        read: Callable[[dict[str, Any], float], Awaitable[_Reading]],
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
            return BoltResponse(status=503, body="not started")
        committing = self._spawn(self._commit(reading))
        try:
            async with asyncio.timeout_at(deadline):
                await asyncio.shield(committing)
        except TimeoutError:
            committing.add_done_callback(_report_late_failure)
            if redelivered:
                log.warning("slack event not committed in time; Slack will deliver it again")
                return BoltResponse(status=503, body="")
            log.warning("slack request acknowledged before it was committed")
        except Exception:
            log.exception("slack event not handled", extra={"kind": type(reading.event).__name__})
            return BoltResponse(status=500, body="")
        return _ok()

    async def _commit(self, reading: _Reading) -> None:
        assert self._inbox is not None and reading.event is not None
        receipt = await self._inbox(reading.event)
        if reading.then is not None and not receipt.duplicate:  # the first time only
            self._spawn(logged(log, "slack background work", reading.then()))

    def _malformed(self, request: AsyncBoltRequest, reason: str) -> BoltResponse:
        if request.mode == "socket_mode":  # acked: delivering it again would not mend it
            metrics.rejected(self.name, "malformed")
            log.warning("slack envelope refused", extra={"reason": reason})
            return _ok()
        request.context[_REJECTED] = reason  # `_http` answers 400 with it
        return BoltResponse(status=400, body=reason)

    def _spawn(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(work)
        self._work.add(task)
        task.add_done_callback(self._work.discard)
        return task

    # Reading payloads.

    async def _read_event(self, body: dict[str, Any], deadline: float) -> _Reading:
        event = payloads.mapping(body, "event")
        kind, event_id = payloads.text(event, "type"), payloads.text(body, "event_id")
        team = payloads.team(body)
        if kind == "team_join":
            if not self.settings.welcome_workspace_joins:
                return _Reading(ignored="team_join (welcome_workspace_joins is off)")
            user = payloads.mapping(event, "user")
            if user.get("is_bot") or user.get("deleted"):
                return _Reading(ignored="a bot or a deactivated account joined")
            user_id = payloads.text(user, "id")
            person = await self._who(user_id, deadline)
            name = payloads.display_name(user) or person.name
            joined = self._from(user_id, team, event_id, name, user.get("locale") or person.locale)
            return _Reading(MemberJoined(**joined))
        if kind == "member_joined_channel":
            if payloads.text(event, "channel") not in self.settings.welcome_channels:
                return _Reading(ignored="a join to a channel that is not a welcome channel")
            user_id = payloads.text(event, "user")
            person = await self._who(user_id, deadline)
            if person.bot or (self._auth is not None and user_id == self._auth.bot_user_id):
                return _Reading(ignored="a bot joined a welcome channel")
            return _Reading(
                MemberJoined(**self._from(user_id, team, event_id, person.name, person.locale))
            )
        if kind == "message":
            return await self._read_message(event, event_id, team, deadline)
        if kind == "user_change":
            return self._read_profile(payloads.mapping(event, "user"), event_id, team)
        return _Reading(ignored=f"{kind[:40]} events are not used")

    def _read_profile(self, user: dict[str, Any], event_id: str, team: str) -> _Reading:
        """`user_change` (https://api.slack.com/events/user_change): sent for anyone in the
        workspace whose profile changed in any way; only a new name matters here."""
        user_id, name = payloads.text(user, "id"), payloads.display_name(user)
        if user.get("is_bot") or user.get("deleted") or name is None:
            return _Reading(ignored="a bot's profile, a deactivated account, or no name")
        known = self._profiles.recall(user_id)
        if known is not None and known.name == name:
            return _Reading(ignored="a profile change that keeps the name")
        locale = user.get("locale") or (known.locale if known is not None else None)
        self._profiles.keep(user_id, _Person(name, locale))
        self._unnamed.pop(user_id, None)
        return _Reading(ProfileChanged(**self._from(user_id, team, event_id, name, locale)))

    async def _read_message(
        self, event: dict[str, Any], event_id: str, team: str, deadline: float
    ) -> _Reading:
        if event.get("channel_type") != "im":
            return _Reading(ignored="a message outside the bot's direct messages")
        if event.get("subtype") or event.get("bot_id"):
            return _Reading(ignored="an edit, a notice or a bot's message")
        user_id, channel = payloads.text(event, "user"), payloads.text(event, "channel")
        text = payloads.typed(slack_mentions.linked(str(event.get("text") or ""))).strip()
        if not text:
            return _Reading(ignored="a message without text")
        person = await self._who(user_id, deadline)
        common = self._from(user_id, team, event_id, person.name, person.locale, channel)
        command = parse_typed_command(text)
        if command is not None:
            return _Reading(CommandInvoked(**common, name=command[0], args=command[1]))
        return _Reading(MessageReceived(**common, text=text))

    async def _read_command(self, body: dict[str, Any], deadline: float) -> _Reading:
        name = payloads.text(body, "command").removeprefix("/").casefold()
        user_id, trigger = payloads.text(body, "user_id"), payloads.text(body, "trigger_id")
        if not name:
            raise Malformed("a slash command without a name")
        person = await self._who(user_id, deadline)
        key = f"command:{trigger}"
        common = self._from(user_id, payloads.team(body), key, person.name, person.locale)
        args = payloads.typed(slack_mentions.linked(str(body.get("text") or ""))).strip()
        return _Reading(CommandInvoked(**common, name=name, args=args))

    async def _read_action(self, body: dict[str, Any], deadline: float) -> _Reading:
        actions = body.get("actions")
        if body.get("type") != "block_actions":
            return _Reading(ignored=f"{str(body.get('type'))[:40]} interactions are not used")
        if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
            raise Malformed("block_actions without an action")
        if slack_blocks.is_pick(actions[0]):
            return _Reading(ignored="a box ticked; the answer comes with OK")
        try:
            press = slack_blocks.read_press(actions[0], body.get("state") or {})
        except slack_blocks.NotOurs as exc:
            return _Reading(ignored=str(exc))
        user_id = payloads.text(payloads.mapping(body, "user"), "id")
        container = body.get("container")
        container = container if isinstance(container, dict) else {}
        channel, message_ts = container.get("channel_id"), container.get("message_ts")
        if not isinstance(channel, str) or not isinstance(message_ts, str):
            raise Malformed("a button press without the message it was on")
        # One answer per question message: a second press (a double click) is a duplicate.
        key = f"press:{channel}:{message_ts}"
        common = self._from(user_id, payloads.team(body), key, conversation=channel)
        common["private"] = channel.startswith("D")
        event = ChoiceMade(**common, step_id=press.step_id, choice_ids=press.choice_ids)
        message = body.get("message")
        if not isinstance(message, dict) or message.get("ts") != message_ts:
            return _Reading(event)
        return _Reading(event, then=lambda: self._mark_answered(channel, message, press.choice_ids))

    def _from(
        self,
        user_id: str,
        team: str,
        dedupe_key: str,
        name: str | None = None,
        locale: str | None = None,
        conversation: str | None = None,
    ) -> dict[str, Any]:
        """An event's common fields. Unless it happened in the bot's DM, the member's private
        conversation is their user id (see the module's docstring)."""
        return {
            "platform": self.name,
            "dedupe_key": dedupe_key,
            "actor": user_id,
            "conversation": conversation or user_id,
            "private": True,
            "workspace": team,
            "display_name": name,
            "locale_hint": locale,
        }

    async def _who(self, user_id: str, deadline: float) -> _Person:
        """The member's name and language (`users.info`, remembered); within half what is left
        of the budget, else without: an event matters more than a name."""
        known = self._profiles.recall(user_id)
        if known is not None:
            return known
        now = asyncio.get_running_loop().time()
        failed = self._unnamed.recall(user_id)
        if failed is not None and now < failed[0]:
            return _Person()  # asked lately, and it failed: not again yet
        left = (deadline - now) / 2
        try:
            async with asyncio.timeout(max(0.05, min(1.0, left))):
                found = await self._web.users_info(user=user_id, include_locale=True)
            user = payloads.person(found.get("user"))
        except (*_FAILED, Malformed) as exc:
            wait = min(failed[1] * 2, PROFILE_RETRY_LIMIT) if failed else PROFILE_RETRY_SECONDS
            self._unnamed.keep(user_id, (now + wait, wait))
            log.info("slack profile not read", extra={"reason": _error_code(exc)})
            return _Person()
        person = _Person(payloads.display_name(user), user.get("locale"), bool(user.get("is_bot")))
        self._profiles.keep(user_id, person)
        self._unnamed.pop(user_id, None)
        return person

    # Calling Slack.

    async def _authorize(self) -> AuthorizeResult:
        """Bolt's `authorize`: who the bot is (`auth.test`, once). Failing raises, which Bolt
        answers 500 so Slack retries; its own single-workspace authorization would answer 200
        and drop the event."""
        if self._auth is None:
            try:
                found = await self._web.auth_test()
            except _FAILED as exc:
                raise _Unavailable(_error_code(exc)) from exc
            self._auth = AuthorizeResult.from_auth_test_response(
                auth_test_response=found, bot_token=self._token
            )
            log.info("slack authorized", extra={"team": found.get("team_id")})
        return self._auth

    async def _authorize_eventually(self) -> None:
        """Until `auth.test` answers: meanwhile /readyz says no, so no traffic may come to ask."""
        delay = 1.0
        while self._auth is None:
            await asyncio.sleep(delay)
            with contextlib.suppress(_Unavailable):
                await self._authorize()
            delay = min(delay * 2, 60.0)

    async def _connect(self) -> None:
        """Socket Mode: a wrong app token stops the start; an unreachable Slack is retried
        (by slack-sdk's client) while the bot reports itself not ready."""
        handler = AsyncSocketModeHandler(
            self.app, self._app_token, logger=logging.getLogger("onramp.slack.socket")
        )
        self._socket = handler
        try:
            handler.client.wss_uri = await handler.client.issue_new_wss_url()
        except _FAILED as exc:
            if _error_code(exc) in _BAD_TOKEN | {"not_allowed_token_type"}:
                raise SlackConfigError(
                    f"Slack refused SLACK_APP_TOKEN: {_error_code(exc)}"
                ) from exc
            log.warning(
                "slack socket mode unreachable; retrying", extra={"reason": _error_code(exc)}
            )
        self._connecting = asyncio.create_task(handler.connect_async())
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
        except _FAILED as exc:
            log.info("slack question not marked answered", extra={"reason": _error_code(exc)})

    @classmethod
    def render_preview(cls, message: OutgoingMessage) -> str:
        """The message's text as it is sent (mrkdwn; choices on buttons left out)."""
        return slack_blocks.render_message(message).text


@dataclass(frozen=True)
class _Person:
    name: str | None = None
    locale: str | None = None
    bot: bool = False


_REJECTED = "onramp_rejected"  # a listener's reason for refusing a malformed payload


def _ok() -> BoltResponse:
    return BoltResponse(status=200, body="")


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value().strip() if value is not None else ""


def _error_code(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        response = exc.response
        data = getattr(response, "data", None)
        if isinstance(data, dict) and data.get("error"):
            return str(data["error"])[:100]
        status = getattr(response, "status_code", None) or getattr(response, "status", None)
        return f"HTTP {status}"
    return type(exc).__name__


def _delivery_error(exc: BaseException) -> DeliveryError:
    """Throttled (429): wait as told. Refused for good (no such channel or user, a deactivated
    account, a bad token or payload): permanent. Anything else (5xx, timeouts, a lost
    connection): try again. A request lost after Slack took it may have been posted; trying
    again may then show it twice, which we prefer to losing it: chat.postMessage has no
    idempotency key."""
    code = _error_code(exc)
    reason = f"slack: {code}"
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", None) or getattr(exc.response, "status", 0)
        if status == 429 or code == "ratelimited":
            return DeliveryError(reason, retry_after=_retry_after(exc.response))
        if code in _PERMANENT:
            if code in _BAD_TOKEN:
                log.error("Slack refused SLACK_BOT_TOKEN", extra={"reason": code})
            return DeliveryError(reason, permanent=True)
        return DeliveryError(reason)
    if isinstance(exc, TimeoutError | aiohttp.ServerDisconnectedError):
        return DeliveryError(f"{reason} (it may have been delivered)")
    return DeliveryError(reason)


def _retry_after(response: Any) -> float:
    headers = getattr(response, "headers", None) or {}
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return max(0.0, float(value)) if value is not None else 1.0
    except ValueError:
        return 1.0


def _report_late_failure(task: asyncio.Task[Any]) -> None:
    """A commit that outlived the budget failed: nobody else will say so."""
    if not task.cancelled() and task.exception() is not None:
        log.error("slack event not committed", exc_info=task.exception())
