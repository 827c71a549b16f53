"""Long polling (`[telegram] mode = "polling"`): getUpdates in a loop, on the one replica that
leads. Each update is confirmed (by the next getUpdates' offset) only once its events are
committed; if handling one fails, the loop raises and the update comes again. Telegram out of
reach, or another poller, is waited out with a pause that doubles up to 30 seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from telegram import Bot, Update
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError

from adapters.http import Malformed, conform
from adapters.telegram import updates
from adapters.telegram.errors import TelegramConfigError, reason, seconds
from bot import metrics
from bot.settings import TelegramSettings

log = logging.getLogger("onramp.telegram")
ALLOWED_UPDATES = ("message", "callback_query", "chat_member", "my_chat_member")
MAX_PAUSE_SECONDS = 30.0


async def poll(
    bot: Bot, settings: TelegramSettings, handle: Callable[[Update], Awaitable[None]]
) -> None:
    """Hand every update to `handle`, in order, until cancelled."""
    await bot.delete_webhook()  # getUpdates is refused while a webhook is set
    offset: int | None = None
    pause = 1.0
    try:
        while True:
            batch = await _next(bot, settings, offset)
            if batch is None:  # Telegram unreachable, or another poller: back off
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_PAUSE_SECONDS)
                continue
            pause = 1.0
            for update in batch:
                if _well_formed(update):  # else skipped: fetching it again would not mend it
                    await handle(update)
                offset = update.update_id + 1
    finally:
        if offset is not None:  # confirm what was handled, so a successor starts after it
            with contextlib.suppress(TelegramError, TimeoutError):
                await asyncio.wait_for(bot.get_updates(offset=offset, limit=1), 5)


async def _next(
    bot: Bot, settings: TelegramSettings, offset: int | None
) -> tuple[Update, ...] | None:
    """The next updates, or None if there are none to be had for now."""
    try:
        return await bot.get_updates(
            offset=offset,
            timeout=timedelta(seconds=settings.poll_timeout_seconds),
            allowed_updates=ALLOWED_UPDATES,
        )
    except Conflict as exc:  # another poller, or a webhook someone set
        log.warning("telegram polling conflict", extra={"reason": reason(exc)})
    except RetryAfter as exc:
        await asyncio.sleep(seconds(exc.retry_after))
        return ()
    except InvalidToken:
        raise TelegramConfigError("Telegram refused TELEGRAM_BOT_TOKEN") from None
    except TelegramError as exc:
        log.warning("telegram polling failed", extra={"reason": reason(exc)})
    return None


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
