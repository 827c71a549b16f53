"""Telegram through python-telegram-bot: updates in as events, messages out as HTML.

Updates arrive by webhook (`[telegram] mode = "webhook"`: `POST /telegram/webhook`, on any
replica) or by long polling (`mode = "polling"`: `lead()`, on the one replica that leads).
Either way an update is acknowledged only once its events are committed, and the core dedupes
on `update_id`, so a redelivered update changes nothing. What an update means to the core is
adapters/telegram/updates.py; the keyboards of questions are adapters/telegram/buttons.py.
A button tap is answered once committed: the query, then the message (its keyboard toggled,
or replaced by the answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import logging
import os
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from adapters.http import Malformed, conform, json_body, logged, reject, require_json
from adapters.markdown import PLAIN, TELEGRAM_HTML, has_link, render
from adapters.telegram import buttons, updates
from bot import metrics
from bot.adapter import (
    AdapterConfigError,
    Capabilities,
    CommandInfo,
    DeliveryError,
    Inbox,
    RateLimit,
)
from bot.events import ChoiceMade
from bot.messages import OutgoingMessage, numbered_text
from bot.settings import Secrets, Settings, TelegramSettings

# PTB 22 warns whenever it builds a RetryAfter unless durations are timedeltas, as they will be
# in PTB 23; with warnings as errors the warning would replace the RetryAfter. Opt in (read at
# run time, so after the imports is early enough); `retry_after` is read as a timedelta below.
os.environ.setdefault("PTB_TIMEDELTA", "true")

log = logging.getLogger("onramp.telegram")
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ("message", "callback_query", "chat_member", "my_chat_member")
MAX_TEXT = 4096  # UTF-16 code units
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_NOT_PAYLOAD = re.compile(r"[^A-Za-z0-9_-]")
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # lite mode (/mode lite)


class TelegramConfigError(AdapterConfigError):
    pass


class _HideToken(logging.Filter):
    """httpx logs every request's URL at INFO (PTB at DEBUG), and a Bot API URL holds the
    bot's token: it is written out of those lines."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(token in message for token in self.tokens):
            for token in self.tokens:
                message = message.replace(token, "<TELEGRAM_BOT_TOKEN>")
            record.msg, record.args = message, None
        return True


_HIDE_TOKEN = _HideToken()
for _logger in ("httpx", "telegram.Bot"):
    logging.getLogger(_logger).addFilter(_HIDE_TOKEN)


class TelegramAdapter:
    name = "telegram"
    capabilities = Capabilities(
        max_buttons=buttons.MAX_BUTTONS,
        max_text_length=MAX_TEXT,
        markdown="telegram_html",
        can_start_dm=False,
        has_slash_commands=True,
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
        token = secrets.telegram_bot_token.get_secret_value()
        _HIDE_TOKEN.tokens.add(token)
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
        self._followups: set[asyncio.Task[None]] = set()  # answering buttons

    # The adapter contract.

    async def start(self, inbox: Inbox) -> None:
        self._inbox = inbox
        try:
            await self._set_up()
        except InvalidToken:  # will not fix itself (and PTB's message holds the token)
            raise TelegramConfigError("Telegram refused TELEGRAM_BOT_TOKEN") from None
        except TelegramError as exc:  # Telegram unreachable: keep trying, not ready meanwhile
            log.warning("telegram set-up failed; retrying", extra={"reason": _reason(exc)})
            self._setting_up = asyncio.create_task(
                logged(log, "telegram background work", self._set_up_eventually())
            )

    async def stop(self) -> None:
        if self._setting_up is not None:
            self._setting_up.cancel()
        if self._followups:  # let answers to buttons finish, briefly
            await asyncio.wait(self._followups, timeout=5)
        for task in [*self._followups, self._setting_up]:
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
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
        try:
            await self._initialize()  # the sender may start before start() has run
            sent = await self._send(message)
        except TelegramError as exc:
            raise _delivery_error(exc) from exc
        return str(sent.message_id)

    async def lead(self) -> None:
        """Long polling, which only one process may do: run on the replica that leads, until
        cancelled. Each update is confirmed (by the next getUpdates' offset) only once its
        events are committed; if handling one fails, this raises and it comes again."""
        if not self.leads:
            await asyncio.Event().wait()  # webhooks reach every replica: nothing to lead
        await self._initialize()
        await self.bot.delete_webhook()  # getUpdates is refused while a webhook is set
        offset: int | None = None
        pause = 1.0
        try:
            while True:
                batch = await self._poll(offset)
                if batch is None:  # Telegram unreachable, or another poller: back off
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 30.0)
                    continue
                pause = 1.0
                for update in batch:
                    if _well_formed(update):  # else skipped: fetching it again would not mend it
                        await self._handle(update)
                    offset = update.update_id + 1
        finally:
            if offset is not None:  # confirm what was handled, so a successor starts after it
                with contextlib.suppress(TelegramError, TimeoutError):
                    await asyncio.wait_for(self.bot.get_updates(offset=offset, limit=1), 5)

    # Receiving.

    async def _webhook(self, request: Request) -> Response:
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

    async def _poll(self, offset: int | None) -> tuple[Update, ...] | None:
        """The next updates, or None if there are none to be had for now."""
        try:
            return await self.bot.get_updates(
                offset=offset,
                timeout=timedelta(seconds=self.settings.poll_timeout_seconds),
                allowed_updates=ALLOWED_UPDATES,
            )
        except Conflict as exc:  # another poller, or a webhook someone set
            log.warning("telegram polling conflict", extra={"reason": _reason(exc)})
        except RetryAfter as exc:
            await asyncio.sleep(_seconds(exc.retry_after))
            return ()
        except InvalidToken:
            raise TelegramConfigError("Telegram refused TELEGRAM_BOT_TOKEN") from None
        except TelegramError as exc:
            log.warning("telegram polling failed", extra={"reason": _reason(exc)})
        return None

    async def _handle(self, update: Update) -> None:
        """Commit the update's events, then answer the button tap, if it was one."""
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
            task = asyncio.create_task(
                logged(log, "telegram background work", self._answer_tap(reading))
            )
            self._followups.add(task)
            task.add_done_callback(self._followups.discard)

    # Answering a tap, once committed: failures here cost looks, never the answer.

    async def _answer_tap(self, reading: updates.Reading) -> None:
        query = reading.tap
        assert query is not None
        try:
            await self.bot.answer_callback_query(query.id)
        except TelegramError as exc:  # too old, or answered already
            log.info("callback query not answered", extra={"reason": _reason(exc)})
        message = query.message if isinstance(query.message, Message) else None
        if message is None or message.reply_markup is None:
            return
        if reading.toggle is not None:
            keyboard = buttons.toggled(message.reply_markup, reading.toggle)
            await self._edit(message, reply_markup=keyboard)
            return
        choice = next((e for e in reading.events if isinstance(e, ChoiceMade)), None)
        if choice is None:  # not Onramp's button: leave it be
            return
        labels = buttons.labels(message.reply_markup, choice.step_id, choice.choice_ids)
        if labels and message.text:
            shown = html.escape(", ".join(labels), quote=False)
            if await self._edit(message, text=f"{message.text_html}\n\n✔️ <b>{shown}</b>"):
                return
        await self._edit(message)  # at least the keyboard goes

    async def _edit(
        self,
        message: Message,
        *,
        text: str | None = None,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> bool:
        """Replace the text (dropping the keyboard), or else the keyboard (None drops it)."""
        where: dict[str, Any] = {"chat_id": message.chat.id, "message_id": message.message_id}
        try:
            if text is not None:
                await self.bot.edit_message_text(text, **where, parse_mode="HTML")
            else:
                await self.bot.edit_message_reply_markup(**where, reply_markup=reply_markup)
        except BadRequest as exc:
            if "not modified" in exc.message.lower():  # a repeated tap
                return True
            log.info("telegram message not edited", extra={"reason": _reason(exc)})
            return False
        except TelegramError as exc:
            log.info("telegram message not edited", extra={"reason": _reason(exc)})
            return False
        return True

    # Sending.

    async def _send(self, message: OutgoingMessage) -> Message:
        chat_id = _chat_id(message.recipient)
        text, rows, previews = sending(message)
        if message.invite is not None:
            rows.append([self._invite_button(message.invite.label, message.invite.source)])
        markup = InlineKeyboardMarkup(rows) if rows else None
        formatted = render(text, TELEGRAM_HTML)
        if _utf16_length(formatted) <= MAX_TEXT:
            try:
                return await self.bot.send_message(
                    chat_id,
                    formatted,
                    parse_mode="HTML",
                    reply_markup=markup,
                    link_preview_options=previews,
                )
            except BadRequest as exc:
                if "can't parse entities" not in exc.message.lower():
                    raise
                log.warning("telegram refused our HTML; sending plain text")
        else:
            log.warning("message too long for Telegram; shortened", extra={"chat": chat_id})
        return await self.bot.send_message(
            chat_id,
            _shortened(render(text, PLAIN)),
            reply_markup=markup,
            link_preview_options=previews,
        )

    def _invite_button(self, label: str, source: str) -> InlineKeyboardButton:
        payload = _NOT_PAYLOAD.sub("_", source)[:64] or "start"
        return InlineKeyboardButton(label, url=f"https://t.me/{self.bot.username}?start={payload}")

    # Start-up.

    async def _initialize(self) -> None:
        """getMe, once: the bot's username makes deep links and recognises `/cmd@ThisBot`."""
        async with self._initializing:
            if not self._initialized:
                await self.bot.initialize()
                self._initialized = True

    async def _set_up(self) -> None:
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

    async def _set_up_eventually(self) -> None:
        delay = 1.0
        while True:
            await asyncio.sleep(delay)
            try:
                await self._set_up()
                return
            except TelegramError as exc:
                log.warning("telegram set-up failed; retrying", extra={"reason": _reason(exc)})
                delay = min(delay * 2, 60.0)

    async def _publish_commands(self) -> None:
        """setMyCommands once per language Telegram can tell apart (a two-letter code), and
        once without one, in `locales[0]`, for everybody else."""
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
            menu = [BotCommand(c.name, _description(c, locale, locales[0])) for c in commands]
            try:
                await self.bot.set_my_commands(menu, language_code=language_code)
            except BadRequest as exc:
                log.warning(
                    "telegram refused the command menu",
                    extra={"locale": locale, "reason": _reason(exc)},
                )

    @classmethod
    def render_preview(cls, message: OutgoingMessage) -> str:
        """The message's text as it is sent (Telegram HTML; choices on buttons left out)."""
        text = (
            numbered_text(message)
            if message.choices and not buttons.keyboard(message)
            else message.text
        )
        formatted = render(text, TELEGRAM_HTML)
        if _utf16_length(formatted) <= MAX_TEXT:
            return formatted
        return _shortened(render(text, PLAIN))


# Details.


def _well_formed(update: Update) -> bool:
    """Does a polled update have the types the webhook's would be checked for?"""
    try:
        conform(update.to_dict(), updates.UPDATE, "update")
    except Malformed as exc:
        metrics.rejected("telegram", "malformed")
        log.warning(
            "telegram update ignored", extra={"update_id": update.update_id, "reason": str(exc)}
        )
        return False
    return True


def _description(command: CommandInfo, locale: str, default: str) -> str:
    text = command.descriptions.get(locale) or command.descriptions.get(default) or command.name
    text = " ".join(text.split())
    return text if len(text) <= 256 else text[:255] + "…"


def sending(
    message: OutgoingMessage,
) -> tuple[str, list[list[InlineKeyboardButton]], LinkPreviewOptions | None]:
    """What a message is sent with: its text (our Markdown; choices numbered in it when they
    cannot be buttons), its keyboard's rows, and no link preview in lite mode (/links)."""
    rows = buttons.keyboard(message) or []
    text = numbered_text(message) if message.choices and not rows else message.text
    return text, rows, NO_PREVIEW if message.lite and has_link(text) else None


def _chat_id(recipient: str) -> int:
    try:
        return int(recipient)
    except ValueError:
        raise DeliveryError(
            f"telegram: {recipient[:40]!r} is not a chat id", permanent=True
        ) from None


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _shortened(text: str) -> str:
    if _utf16_length(text) <= MAX_TEXT:
        return text
    cut = text[: MAX_TEXT - 1]
    while _utf16_length(cut) > MAX_TEXT - 1:  # characters beyond the BMP count twice
        cut = cut[:-1]
    return cut + "…"


def _reason(exc: TelegramError, limit: int = 200) -> str:
    """What went wrong, for logs and the outbox: never the token, which PTB puts in
    InvalidToken's message."""
    return "TELEGRAM_BOT_TOKEN refused" if isinstance(exc, InvalidToken) else exc.message[:limit]


def _seconds(value: timedelta | float) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _delivery_error(exc: TelegramError) -> DeliveryError:
    """Throttled: wait as told. Refused for good (blocked, never started, no such chat, a bad
    request): permanent. Anything else (network, 5xx, timeouts): try again. A timeout after the
    request went out may mean Telegram delivered it; trying again may then show it twice, which
    we prefer to losing it (there is no idempotency key to send)."""
    reason = f"telegram: {type(exc).__name__}: {_reason(exc, 480)}"
    if isinstance(exc, RetryAfter):
        return DeliveryError(reason, retry_after=_seconds(exc.retry_after))
    if isinstance(exc, Forbidden | BadRequest | ChatMigrated):
        return DeliveryError(reason, permanent=True)
    if isinstance(exc, TimedOut):
        return DeliveryError(f"{reason} (it may have been delivered)")
    return DeliveryError(reason)
