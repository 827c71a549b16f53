"""Telegram through python-telegram-bot: updates in as events, messages out as HTML.

Updates arrive by webhook (`[telegram] mode = "webhook"`: `POST /telegram/webhook`, on any
replica) or by long polling (`mode = "polling"`: `lead()`, on the one replica that leads).
Either way an update is acknowledged only once its events are committed, and the core dedupes
on `update_id`, so a redelivered update changes nothing.

Beside this module: what an update means to the core (updates.py), long polling
(polling.py), a message as Telegram takes it (outgoing.py) with its keyboard (buttons.py), a
button tap answered once committed (taps.py), and what a failed call means (errors.py).

python-telegram-bot (and httpx under it) is imported where the adapter is built and used, and
so are the modules beside this one that read its types: every process that checks content
imports this module for the class's capabilities alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.background import Background, logged, retry_until_done
from adapters.http import Malformed, conform, json_body, reject, require_json
from adapters.telegram import buttons, outgoing
from adapters.telegram.errors import (
    HIDE_TOKEN,
    TelegramConfigError,
    delivery_error,
    reason,
    retrying,
)
from adapters.telegram.outgoing import MAX_TEXT
from bot.adapter import Adapter, Capabilities, CommandInfo, Inbox, RateLimit
from bot.messages import OutgoingMessage
from bot.settings import Secrets, Settings, TelegramSettings

if TYPE_CHECKING:
    from telegram import Update

log = logging.getLogger("onramp.telegram")
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class TelegramAdapter(Adapter):
    name = "telegram"
    capabilities = Capabilities(
        max_buttons=buttons.MAX_BUTTONS,
        max_text_length=MAX_TEXT,
        markdown="telegram_html",
        can_start_dm=False,
        has_slash_commands=True,
        max_document_bytes=outgoing.MAX_DOCUMENT,
    )

    @classmethod
    def configured(cls, settings: Settings, secrets: Secrets | None = None) -> bool:
        """Is TELEGRAM_BOT_TOKEN in the environment? (Then `onramp run` serves Telegram unless
        `[adapters] enabled` says otherwise.)"""
        token = (secrets or Secrets()).telegram_bot_token
        return bool(token and token.get_secret_value())

    def __init__(self, settings: Settings, secrets: Secrets | None = None) -> None:
        self.settings: TelegramSettings = settings.telegram
        self.leads = self.settings.mode == "polling"  # webhooks need no leading replica
        secrets = secrets or Secrets()
        if secrets.telegram_bot_token is None:
            raise TelegramConfigError("the telegram adapter needs TELEGRAM_BOT_TOKEN")
        self._secret = ""
        if self.settings.mode == "webhook":
            given = secrets.telegram_webhook_secret
            self._secret = given.get_secret_value() if given else ""
            if not _SECRET.fullmatch(self._secret):
                raise TelegramConfigError(
                    "telegram webhook mode needs TELEGRAM_WEBHOOK_SECRET: 1-256 characters,"
                    " letters, digits, _ and -"
                )
        from telegram import Bot
        from telegram.request import HTTPXRequest

        token = secrets.telegram_bot_token.get_secret_value()
        HIDE_TOKEN.tokens.add(token)
        timeout = self.settings.request_timeout_seconds
        self.bot = Bot(
            token,
            base_url=self.settings.api_url,
            # Enough connections for the sender's concurrent recipients; a long poll has its own.
            request=HTTPXRequest(
                connection_pool_size=64,
                read_timeout=timeout,
                write_timeout=timeout,
                connect_timeout=timeout,
                pool_timeout=timeout,
            ),
            get_updates_request=HTTPXRequest(connection_pool_size=2, read_timeout=timeout),
        )
        self._inbox: Inbox | None = None
        self._menu: tuple[list[CommandInfo], list[str]] | None = None
        self._initialized = False
        self._initializing = asyncio.Lock()
        self._ready = False
        self._setting_up: asyncio.Task[None] | None = None  # retrying after a failed start
        self._followups = Background()  # answering buttons

    # The adapter contract.

    async def start(self, inbox: Inbox) -> None:
        from telegram.error import InvalidToken, TelegramError

        self._inbox = inbox
        try:
            await self._set_up()
        except InvalidToken:  # will not fix itself (and PTB's message holds the token)
            raise TelegramConfigError("Telegram refused TELEGRAM_BOT_TOKEN") from None
        except TelegramError as exc:  # Telegram unreachable: keep trying, not ready meanwhile
            retrying(exc)
            trying = retry_until_done(self._set_up, retrying_on=TelegramError, failed=retrying)
            self._setting_up = asyncio.create_task(logged(log, "telegram background work", trying))

    async def stop(self) -> None:
        from telegram.error import TelegramError

        if self._setting_up is not None:
            self._setting_up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._setting_up
        await self._followups.drain()  # let answers to buttons finish, briefly
        with contextlib.suppress(TelegramError):  # also after a set-up that failed half-way
            await self.bot.shutdown()
        self._initialized = self._ready = False

    def routes(self) -> list[Route]:
        if self.settings.mode != "webhook":
            return []
        return [Route(WEBHOOK_PATH, self._webhook, methods=["POST"])]

    def ready(self) -> bool:
        return self._ready

    def rate_limits(self, message: OutgoingMessage) -> list[RateLimit]:
        limits = [
            RateLimit(f"chat:{message.recipient}", self.settings.per_chat_per_second, 1.0),
            RateLimit("bot", self.settings.overall_per_second, 1.0),
        ]
        if message.recipient.startswith("-"):  # groups have negative ids
            limits.append(
                RateLimit(f"group:{message.recipient}", self.settings.per_group_per_minute, 60.0)
            )
        return limits

    def set_commands(self, commands: Sequence[CommandInfo], locales: Sequence[str]) -> None:
        """Kept for start-up. `locales[0]` describes the menu shown in languages without one
        of their own: pass the community's default locale first."""
        valid = [c for c in commands if _COMMAND_NAME.fullmatch(c.name)]
        for command in commands:
            if command not in valid:
                log.warning(
                    "command left out of Telegram's menu: names are 1-32 of a-z, 0-9 and _",
                    extra={"command": command.name[:64]},
                )
        self._menu = (valid[:100], list(locales))

    async def send(self, message: OutgoingMessage) -> str:
        from telegram.error import TelegramError

        try:
            await self._initialize()  # the sender may start before start() has run
            if message.document is not None:
                sent = await outgoing.send_document(self.bot, message)
            else:
                sent = await outgoing.send(self.bot, message)
        except TelegramError as exc:
            raise delivery_error(exc) from exc
        return str(sent.message_id)

    async def lead(self) -> None:
        """Long polling, which only one process may do: run on the replica that leads, until
        cancelled. Each update is confirmed (by the next getUpdates' offset) only once its
        events are committed; if handling one fails, this raises and it comes again."""
        from adapters.telegram import polling

        if not self.leads:
            await asyncio.Event().wait()  # webhooks reach every replica: nothing to lead
        await self._initialize()
        await polling.poll(self.bot, self.settings, self._handle)

    # Receiving.

    async def _webhook(self, request: Request) -> Response:
        from telegram import Update

        from adapters.telegram import updates

        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self._secret.encode()):
            reject(self.name, 403, "secret", "wrong or missing secret token")
        require_json(self.name, request.headers)
        data = json_body(self.name, await request.body())
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            reject(self.name, 400, "malformed", "not an update: no update_id")
        try:
            conform(data, updates.UPDATE, "update")
            update = Update.de_json(data, self.bot)
        except Malformed as exc:
            reject(self.name, 400, "malformed", f"not an update: fields of the wrong shape ({exc})")
        except Exception:  # PTB found fields of the wrong shape
            reject(self.name, 400, "malformed", "not an update: fields of the wrong shape")
        try:
            await self._handle(update)
        except Exception:  # the event was not committed: Telegram delivers it again
            log.exception("telegram update not handled", extra={"update_id": update_id})
            return Response("not handled", status_code=500)
        return Response(status_code=200)

    async def _handle(self, update: Update) -> None:
        """Commit the update's events, then answer the button tap, if it was one."""
        from adapters.telegram import taps, updates

        assert self._inbox is not None, "start() first"
        reading = updates.read(update, self.bot.username if self._initialized else None)
        if reading.ignored:
            log.info(
                "telegram update ignored",
                extra={"update_id": update.update_id, "reason": reading.ignored},
            )
        receipts = [await self._inbox(event) for event in reading.events]
        redelivered = bool(receipts) and all(receipt.duplicate for receipt in receipts)
        if reading.tap is not None and not redelivered:  # answered the first time
            answering = taps.answer_tap(self.bot, reading)
            self._followups.spawn(logged(log, "telegram background work", answering))

    # Start-up.

    async def _initialize(self) -> None:
        """getMe, once: the bot's username makes deep links and recognises `/cmd@ThisBot`."""
        async with self._initializing:
            if not self._initialized:
                await self.bot.initialize()
                self._initialized = True

    async def _set_up(self) -> None:
        from adapters.telegram.polling import ALLOWED_UPDATES

        await self._initialize()
        await self._publish_commands()
        if self.settings.mode == "webhook" and self.settings.webhook_url:
            await self.bot.set_webhook(
                self.settings.webhook_url,
                secret_token=self._secret,
                allowed_updates=ALLOWED_UPDATES,
            )
            log.info("telegram webhook set", extra={"url": self.settings.webhook_url})
        self._ready = True

    async def _publish_commands(self) -> None:
        """setMyCommands once per language Telegram can tell apart (a two-letter code), and
        once without one, in `locales[0]`, for everybody else."""
        from telegram import BotCommand
        from telegram.error import BadRequest

        if self._menu is None or not self._menu[1]:
            return
        commands, locales = self._menu
        menus: dict[str | None, str] = {None: locales[0]}
        for locale in locales:
            code = locale.split("_")[0]
            if len(code) != 2:
                log.warning(
                    "no Telegram menu for a language without a two-letter code",
                    extra={"locale": locale},
                )
                continue
            menus.setdefault(code, locale)
        for language_code, locale in menus.items():
            menu = [
                BotCommand(c.name, outgoing.description(c, locale, locales[0])) for c in commands
            ]
            try:
                await self.bot.set_my_commands(menu, language_code=language_code)
            except BadRequest as exc:
                log.warning(
                    "telegram refused the command menu",
                    extra={"locale": locale, "reason": reason(exc)},
                )

    @classmethod
    def render_preview(cls, message: OutgoingMessage) -> str:
        """The message's text as it is sent (Telegram HTML; choices on buttons left out)."""
        return outgoing.preview(message)
