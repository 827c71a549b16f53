"""Zulip through the `zulip` client: events in as the core's events, messages out as Markdown.

Messages arrive from the bot's event queue (`[zulip] mode = "events"`: `lead()`, on the one
replica that leads; adapters/zulip/queue.py) or as an outgoing webhook (`mode = "webhook"`:
`POST /zulip/webhook`, on any replica). Either way an event is confirmed only once the core
has committed it, and the core dedupes on the message id (and a join's user), so a message
handed over twice has one effect. What an event means is adapters/zulip/events.py; the client,
its rate-limit headers and its errors are adapters/zulip/api.py; a webhook request's checks and
the replies that go back in its answer are adapters/zulip/webhook.py.

Zulip has no buttons: choices are numbered and answered by typing the number or the label.
Every reply is a direct message to the member (`type: direct`, `to: [user_id]`).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
import threading
from concurrent.futures import CancelledError as FutureCancelled
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.background import retry_until_done
from adapters.http import Malformed
from adapters.markdown import Dialect, render
from adapters.zulip import api as zulip_api
from adapters.zulip import webhook as zulip_webhook
from adapters.zulip.api import Api, Credentials, Unreachable, ZulipConfigError, call_errors
from adapters.zulip.events import BotUser, read_event, read_message
from adapters.zulip.queue import EventQueue, Stopped
from bot.adapter import Adapter, Capabilities, DeliveryError, Inbox, RateLimit
from bot.messages import OutgoingMessage, group_members, numbered_text
from bot.settings import Secrets, Settings, ZulipSettings

log = logging.getLogger("onramp.zulip")
WEBHOOK_PATH = "/zulip/webhook"
MAX_TEXT = 10_000  # Zulip's longest message, in characters
MIB = 1024 * 1024  # a server's upload limit is in MiB (MAX_FILE_UPLOAD_SIZE, 25 by default)
SENDERS = 16  # threads (and connections) sending at once
JSON = dict[str, Any]


def _link(url: str, text: str) -> str:
    return f"[{text}]({url})" if text else url


# Zulip's Markdown has no backslash escapes, but it reads HTML entities as their characters
# after mentions, links and formatting have been found (zerver/lib/markdown: the `entity`
# pattern comes after them). So text gets entities for what would start a mention (`@**all**`,
# `@_**…**`, `@*group*`), a stream link (`#**…**`), bold, code, a link, `~~strike~~`, `$$math$$`,
# a <time:…> or a quote (Zulip has no raw HTML: other `<` and `>` are text already); an `&`
# only where it would read as an entity. Code spans are literal.
_ZULIP_SPECIAL = re.compile(r"[*`\[\]]|~~+|\$\$+|<(?=time:)|(?:^|(?<=\n))>|&(?=#?[0-9A-Za-z]+;)")


def _zulip_escape(text: str) -> str:
    return _ZULIP_SPECIAL.sub(lambda found: "".join(f"&#{ord(c)};" for c in found[0]), text)


# Zulip's Markdown reads our subset as we do, except `_italic_` (Zulip only knows `*italic*`)
# and `<autolinks>`. A member is mentioned silently by name and id:
# https://zulip.com/help/mention-a-user-or-group
ZULIP = Dialect(
    ("**", "**"),
    ("*", "*"),
    ("`", "`"),
    _link,
    _zulip_escape,
    lambda member, name: f"@_**{name}|{member}**",
    lambda code: code,
)


class ZulipAdapter(Adapter):
    name = "zulip"
    capabilities = Capabilities(
        max_buttons=0,
        max_text_length=MAX_TEXT,
        markdown="zulip",
        can_start_dm=True,
        has_slash_commands=False,
        can_group_dm=True,  # a direct message to several users
        # A file is uploaded, then linked in the message; the server's limit is a setting
        # (`[zulip] max_upload_mib`), which each adapter's own capabilities follow.
        max_document_bytes=25 * MIB,
    )

    @classmethod
    def configured(cls, settings: Settings, secrets: Secrets | None = None) -> bool:
        """Are the bot's credentials at hand: ZULIP_EMAIL, ZULIP_API_KEY and a site
        (ZULIP_SITE or `[zulip] site`), or a zuliprc?"""
        secrets = secrets or Secrets()
        if settings.zulip.zuliprc is not None:
            return True
        key = secrets.zulip_api_key.get_secret_value() if secrets.zulip_api_key else ""
        return bool(secrets.zulip_email and key and (settings.zulip.site or secrets.zulip_site))

    def __init__(self, settings: Settings, secrets: Secrets | None = None) -> None:
        self.settings: ZulipSettings = settings.zulip
        self.leads = self.settings.mode == "events"  # webhooks need no leading replica
        largest = self.settings.max_upload_mib * MIB
        self.capabilities = replace(type(self).capabilities, max_document_bytes=largest)
        secrets = secrets or Secrets()
        self._credentials = _credentials(self.settings, secrets)
        self._token = b""
        if self.settings.mode == "webhook":
            token = secrets.zulip_webhook_token
            self._token = token.get_secret_value().encode() if token else b""
            if not self._token:
                raise ZulipConfigError(
                    "zulip webhook mode needs ZULIP_WEBHOOK_TOKEN: the outgoing webhook bot's"
                    " token, from its zuliprc"
                )
        self._inbox: Inbox | None = None
        self._api: Api | None = None
        self._bot: BotUser | None = None
        self._queue: EventQueue | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._connecting = asyncio.Lock()
        self._connected = asyncio.Event()
        self._setting_up: asyncio.Task[None] | None = None  # retrying after a failed start
        self._consumers: list[tuple[threading.Thread, threading.Event]] = []
        self._answers = zulip_webhook.Answers(MAX_TEXT)  # replies going back in webhook answers

    # The adapter contract.

    async def start(self, inbox: Inbox) -> None:
        self._inbox = inbox
        try:
            await self._connect()
        except Unreachable as exc:  # keep trying, not ready meanwhile
            log.warning("zulip unreachable at start; retrying", extra={"reason": str(exc)})
            self._setting_up = asyncio.create_task(self._connect_eventually())

    async def stop(self) -> None:
        if self._setting_up is not None:
            self._setting_up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._setting_up
        for _, stopping in self._consumers:
            stopping.set()
        if self._queue is not None:  # also ends a long poll still waiting
            await self._in_thread(self._queue.deregister)
        for thread, _ in self._consumers:
            await asyncio.to_thread(thread.join, 5.0)
        self._consumers = [(t, s) for t, s in self._consumers if t.is_alive()]
        if self._api is not None:
            self._api.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._api = self._bot = self._queue = self._pool = None
        self._connected.clear()

    def routes(self) -> list[Route]:
        if self.settings.mode != "webhook":
            return []
        return [Route(WEBHOOK_PATH, self._webhook, methods=["POST"])]

    def ready(self) -> bool:
        return self._connected.is_set()

    def consuming(self) -> bool:
        """Is a thread reading the event queue now?"""
        return any(thread.is_alive() for thread, _ in self._consumers)

    def rate_limits(self, message: OutgoingMessage) -> list[RateLimit]:
        if self._answers.holds(message.outbox_id, message.recipient):  # in a webhook's answer
            return []
        return [RateLimit("bot", *self.settings.send_limit)]

    async def send(self, message: OutgoingMessage) -> str:
        content = _content(message)
        if message.document is not None:  # uploaded first; the message links to it
            content = await self._with_upload(message, content)
        if delivery_id := self._answers.take(message.outbox_id, message.recipient, content):
            return delivery_id
        api = await self._api_or_error()
        held = api.rate.hold()
        if held > 0:  # Zulip's headers said the bot has no requests left until the reset
            raise DeliveryError("zulip: held back until the rate limit resets", retry_after=held)
        kind = "direct" if api.feature_level >= 174 else "private"
        to = [
            _user_id(member) for member in group_members(message.recipient) or [message.recipient]
        ]
        request = {"type": kind, "to": to, "content": content}
        timeout = self.settings.request_timeout_seconds
        try:
            reply = await self._in_thread(partial(api.call, "messages", "POST", request, timeout))
        except call_errors() as exc:
            raise zulip_api.failure(exc) from exc
        if not reply.ok:
            raise zulip_api.refusal(reply)
        return str(reply.body.get("id"))

    async def _with_upload(self, message: OutgoingMessage, content: str) -> str:
        """Upload the message's file (POST /user_uploads, multipart/form-data) and return the
        message's content with a link to it: sent to the member, the link lets them open it
        (an upload is the uploader's alone until a message shares it)."""
        assert message.document is not None
        api = await self._api_or_error()
        held = api.rate.hold()
        if held > 0:
            raise DeliveryError("zulip: held back until the rate limit resets", retry_after=held)
        upload = io.BytesIO(message.document.content)
        upload.name = message.document.name
        timeout = self.settings.request_timeout_seconds
        call = partial(api.call, "user_uploads", "POST", None, timeout, files=[upload])
        try:
            reply = await self._in_thread(call)
        except call_errors() as exc:
            raise zulip_api.failure(exc) from exc
        if not reply.ok:
            raise zulip_api.refusal(reply)
        link = str(reply.body.get("url") or reply.body.get("uri") or "")  # `uri` before 9.0
        if not link:
            raise DeliveryError("zulip: the upload's answer has no url")
        attached = f"[{_zulip_escape(message.document.name)}]({link})"
        return f"{content.rstrip()}\n\n{attached}" if content.strip() else attached

    async def lead(self) -> None:
        """Read the event queue, which only one process may do: run on the replica that
        leads, until cancelled. Each event is handed over, and committed, before the next
        poll confirms it; if handling one fails, this raises and it comes again."""
        if not self.leads:
            await asyncio.Event().wait()  # webhooks reach every replica: nothing to lead
        await self._connected.wait()
        queue = self._queue
        assert queue is not None
        loop = asyncio.get_running_loop()
        stopping = threading.Event()
        ended: asyncio.Future[None] = loop.create_future()

        def consume() -> None:
            error: BaseException | None = None
            try:
                queue.run(stopping, partial(self._hand_over, loop, stopping))
            except BaseException as exc:  # handed to lead(), which raises it
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody to tell
                loop.call_soon_threadsafe(_settle, ended, error)

        thread = threading.Thread(target=consume, name="zulip-events", daemon=True)
        self._consumers = [(t, s) for t, s in self._consumers if t.is_alive()]
        self._consumers.append((thread, stopping))
        thread.start()
        try:
            await ended
        finally:
            stopping.set()  # a poll still waiting ends without handing anything over

    # Receiving.

    def _hand_over(
        self, loop: asyncio.AbstractEventLoop, stopping: threading.Event, event: JSON
    ) -> None:
        """From the queue's thread: have the loop take `event`, and wait until it has."""
        if stopping.is_set():
            raise Stopped
        work = self._take(event)
        try:
            future = asyncio.run_coroutine_threadsafe(work, loop)
        except RuntimeError:  # the loop has closed
            work.close()
            raise Stopped from None
        try:
            future.result()
        except FutureCancelled:
            raise Stopped from None

    async def _take(self, event: JSON) -> None:
        assert self._inbox is not None and self._bot is not None, "start() first"
        try:
            reading = read_event(event, self._bot)
        except Malformed as exc:
            log.warning("zulip event ignored", extra={"reason": str(exc), "id": event.get("id")})
            return
        if reading.ignored:
            log.debug("zulip event ignored", extra={"reason": reading.ignored})
        for core_event in reading.events:
            await self._inbox(core_event)

    async def _webhook(self, request: Request) -> Response:
        data, message = await zulip_webhook.payload(request, self._token)
        try:
            bot = self._bot or zulip_webhook.bot_from(data, message)
            reading = read_message(message, bot, mentioned=data.get("trigger") == "mention")
        except Malformed as exc:
            zulip_webhook.reject(400, "malformed", f"not an outgoing webhook: {exc}")
        if reading.ignored:
            log.info("zulip message ignored", extra={"reason": reading.ignored})
        assert self._inbox is not None, "start() first"
        content = ""
        try:
            for event in reading.events:
                receipt = await self._inbox(event)
                if reading.direct:  # the replies to the writer may go back in the answer
                    budget = self.settings.reply_budget_seconds
                    writer = event.conversation  # their direct messages with the bot
                    content = await self._answers.gather(receipt, message["id"], writer, budget)
        except Exception:  # not committed: Zulip tells the member it failed
            log.exception("zulip message not handled", extra={"message_id": message["id"]})
            return Response("not handled", status_code=500)
        if content:
            return JSONResponse({"content": content})
        return JSONResponse({"response_not_required": True})

    # Connecting.

    async def _connect(self) -> Api:
        async with self._connecting:
            if self._api is None:
                timeout = self.settings.request_timeout_seconds
                api, bot = await self._in_thread(
                    partial(zulip_api.connect, self._credentials, timeout)
                )
                self._api, self._bot = api, bot
                self._queue = EventQueue(
                    api,
                    joins=self.settings.welcome_joins,
                    catch_up_seconds=self.settings.catch_up_seconds,
                )
                self._connected.set()
                log.info("zulip connected", extra={"feature_level": api.feature_level})
            return self._api

    async def _connect_eventually(self) -> None:
        def retrying(exc: BaseException) -> None:
            log.warning("zulip unreachable; retrying", extra={"reason": str(exc)})

        try:
            await retry_until_done(self._connect, retrying_on=Unreachable, failed=retrying)
        except ZulipConfigError as exc:  # will not fix itself; /readyz says so
            log.error("zulip refused the bot: %s", exc)

    async def _api_or_error(self) -> Api:
        """The client, connecting first if need be (the sender may start before `start`)."""
        try:
            return await self._connect()
        except Unreachable as exc:
            raise DeliveryError(str(exc)) from exc
        except ZulipConfigError as exc:
            raise DeliveryError(str(exc), permanent=True) from exc

    async def _in_thread(self, work: Any) -> Any:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(SENDERS, thread_name_prefix="zulip")
        return await asyncio.get_running_loop().run_in_executor(self._pool, work)

    @classmethod
    def render_preview(cls, message: OutgoingMessage) -> str:
        """The message as it is sent (Zulip's Markdown, choices numbered under it)."""
        return _content(message)


def _credentials(settings: ZulipSettings, secrets: Secrets) -> Credentials:
    """From the environment and settings; without a zuliprc all three must be there."""
    key = secrets.zulip_api_key.get_secret_value() if secrets.zulip_api_key else None
    site = settings.site or secrets.zulip_site
    zuliprc = settings.zuliprc
    if zuliprc is not None:
        if not zuliprc.is_file():
            raise ZulipConfigError(f"zulip: [zulip] zuliprc {zuliprc} is not a file")
        return Credentials(secrets.zulip_email, key, site, str(zuliprc))
    for name, value in (("ZULIP_EMAIL", secrets.zulip_email), ("ZULIP_API_KEY", key)):
        if not value:
            raise ZulipConfigError(f"the zulip adapter needs {name} (or [zulip] zuliprc)")
    if not site:
        raise ZulipConfigError("the zulip adapter needs ZULIP_SITE (or [zulip] site)")
    return Credentials(secrets.zulip_email, key, site, None)


def _content(message: OutgoingMessage) -> str:
    """The message in Zulip's Markdown; choices numbered under it."""
    text = render(numbered_text(message), ZULIP)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _user_id(recipient: str) -> int:
    try:
        return int(recipient)
    except ValueError:
        reason = f"zulip: {recipient[:40]!r} is not a user id"
        raise DeliveryError(reason, permanent=True) from None


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
