"""What goes wrong when the bot calls Telegram, said without the token: the reason logged
and recorded, and what the outbox does about a failed send (wait as told, give up, or try
again)."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.adapter import AdapterConfigError, DeliveryError

if TYPE_CHECKING:  # python-telegram-bot is imported once a call has failed
    from telegram.error import TelegramError

# PTB 22 warns whenever it builds a RetryAfter unless durations are timedeltas, as they will be
# in PTB 23; with warnings as errors the warning would replace the RetryAfter. Opt in (read at
# run time, so after the imports is early enough); `retry_after` is read as a timedelta below.
os.environ.setdefault("PTB_TIMEDELTA", "true")

log = logging.getLogger("onramp.telegram")


class TelegramConfigError(AdapterConfigError):
    pass


class HideToken(logging.Filter):
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


HIDE_TOKEN = HideToken()
for _logger in ("httpx", "telegram.Bot"):
    logging.getLogger(_logger).addFilter(HIDE_TOKEN)


def reason(exc: TelegramError, limit: int = 200) -> str:
    """What went wrong, for logs and the outbox: never the token, which PTB puts in
    InvalidToken's message."""
    from telegram.error import InvalidToken

    return "TELEGRAM_BOT_TOKEN refused" if isinstance(exc, InvalidToken) else exc.message[:limit]


def retrying(exc: BaseException) -> None:
    """The set-up failed (Telegram out of reach): logged before each try again."""
    from telegram.error import TelegramError

    said = reason(exc) if isinstance(exc, TelegramError) else str(exc)[:200]
    log.warning("telegram set-up failed; retrying", extra={"reason": said})


def seconds(value: timedelta | float) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def delivery_error(exc: TelegramError) -> DeliveryError:
    """Throttled: wait as told. Refused for good (blocked, never started, no such chat, a bad
    request): permanent. Anything else (network, 5xx, timeouts): try again. A timeout after the
    request went out may mean Telegram delivered it; trying again may then show it twice, which
    we prefer to losing it (there is no idempotency key to send)."""
    from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TimedOut

    said = f"telegram: {type(exc).__name__}: {reason(exc, 480)}"
    if isinstance(exc, RetryAfter):
        return DeliveryError(said, retry_after=seconds(exc.retry_after))
    if isinstance(exc, Forbidden | BadRequest | ChatMigrated):
        return DeliveryError(said, permanent=True)
    if isinstance(exc, TimedOut):
        return DeliveryError(f"{said} (it may have been delivered)")
    return DeliveryError(said)
