"""A button tap answered once its event is committed: the callback query, then the message
(its keyboard toggled, or replaced by the answer). Failures here cost looks, never the
answer: each is logged and the rest goes on."""

from __future__ import annotations

import html
import logging
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, TelegramError

from adapters.telegram import buttons, updates
from adapters.telegram.errors import reason
from bot.events import ChoiceMade

log = logging.getLogger("onramp.telegram")


async def answer_tap(bot: Bot, reading: updates.Reading) -> None:
    query = reading.tap
    assert query is not None
    try:
        await bot.answer_callback_query(query.id)
    except TelegramError as exc:  # too old, or answered already
        log.info("callback query not answered", extra={"reason": reason(exc)})
    message = query.message if isinstance(query.message, Message) else None
    if message is None or message.reply_markup is None:
        return
    if reading.toggle is not None:
        keyboard = buttons.toggled(message.reply_markup, reading.toggle)
        await _edit(bot, message, reply_markup=keyboard)
        return
    choice = next((e for e in reading.events if isinstance(e, ChoiceMade)), None)
    if choice is None:  # not Onramp's button: leave it be
        return
    labels = buttons.labels(message.reply_markup, choice.step_id, choice.choice_ids)
    if labels and message.text:
        shown = html.escape(", ".join(labels), quote=False)
        if await _edit(bot, message, text=f"{message.text_html}\n\n✔️ <b>{shown}</b>"):
            return
    await _edit(bot, message)  # at least the keyboard goes


async def _edit(
    bot: Bot,
    message: Message,
    *,
    text: str | None = None,
    reply_markup: InlineKeyboardMarkup | None = None,
) -> bool:
    """Replace the text (dropping the keyboard), or else the keyboard (None drops it)."""
    where: dict[str, Any] = {"chat_id": message.chat.id, "message_id": message.message_id}
    try:
        if text is not None:
            await bot.edit_message_text(text, **where, parse_mode="HTML")
        else:
            await bot.edit_message_reply_markup(**where, reply_markup=reply_markup)
    except BadRequest as exc:
        if "not modified" in exc.message.lower():  # a repeated tap
            return True
        log.info("telegram message not edited", extra={"reason": reason(exc)})
        return False
    except TelegramError as exc:
        log.info("telegram message not edited", extra={"reason": reason(exc)})
        return False
    return True
