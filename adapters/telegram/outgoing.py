"""A message as Telegram takes it: HTML within 4096 UTF-16 code units (else plain text,
shortened), choices on an inline keyboard or numbered in the text, an invite as a deep-link
button, no link preview in lite mode; and the command menu's descriptions."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from adapters.markdown import PLAIN, TELEGRAM_HTML, has_link, render
from adapters.telegram import buttons
from bot.adapter import CommandInfo, DeliveryError
from bot.messages import OutgoingMessage, numbered_text

if TYPE_CHECKING:  # python-telegram-bot is imported when a message is built to be sent
    from telegram import Bot, InlineKeyboardButton, LinkPreviewOptions, Message

log = logging.getLogger("onramp.telegram")
MAX_TEXT = 4096  # UTF-16 code units
MAX_CAPTION = 1024  # a document's caption, after entities parsing
MAX_DOCUMENT = 50 * 1000 * 1000  # what a bot may send through the Bot API: 50 MB
_NOT_PAYLOAD = re.compile(r"[^A-Za-z0-9_-]")


async def send(bot: Bot, message: OutgoingMessage) -> Message:
    """Post `message`; HTML Telegram cannot parse goes again as plain text."""
    from telegram import InlineKeyboardMarkup
    from telegram.error import BadRequest

    chat_id = _chat_id(message.recipient)
    text, rows, previews = sending(message)
    if message.invite is not None:
        rows.append([invite_button(bot.username, message.invite.label, message.invite.source)])
    markup = InlineKeyboardMarkup(rows) if rows else None
    formatted = render(text, TELEGRAM_HTML)
    if utf16_length(formatted) <= MAX_TEXT:
        try:
            return await bot.send_message(
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
    return await bot.send_message(
        chat_id,
        shortened(render(text, PLAIN)),
        reply_markup=markup,
        link_preview_options=previews,
    )


async def send_document(bot: Bot, message: OutgoingMessage) -> Message:
    """Post `message.document` as a file (sendDocument, multipart/form-data) with the text as
    its caption: HTML within 1024 characters, else plain text, shortened."""
    from telegram import InputFile

    assert message.document is not None
    document = message.document
    upload = InputFile(document.content, filename=document.name)
    caption: str | None = render(message.text, TELEGRAM_HTML) if message.text else None
    parse_mode: str | None = "HTML"
    if caption is not None and utf16_length(render(message.text, PLAIN)) > MAX_CAPTION:
        caption, parse_mode = shortened(render(message.text, PLAIN), MAX_CAPTION), None
    return await bot.send_document(
        _chat_id(message.recipient),
        upload,
        caption=caption,
        parse_mode=parse_mode,
        filename=document.name,
        disable_content_type_detection=True,
    )


def sending(
    message: OutgoingMessage,
) -> tuple[str, list[list[InlineKeyboardButton]], LinkPreviewOptions | None]:
    """What a message is sent with: its text (our Markdown; choices numbered in it when they
    cannot be buttons), its keyboard's rows, and no link preview in lite mode (/links)."""
    from telegram import LinkPreviewOptions

    rows = buttons.keyboard(message) or []
    text = numbered_text(message) if message.choices and not rows else message.text
    lite = message.lite and has_link(text)
    return text, rows, LinkPreviewOptions(is_disabled=True) if lite else None


def preview(message: OutgoingMessage) -> str:
    """The message's text as it is sent (Telegram HTML; choices on buttons left out)."""
    text = (
        numbered_text(message)
        if message.choices and not buttons.labelled_taps(message)
        else message.text
    )
    formatted = render(text, TELEGRAM_HTML)
    if utf16_length(formatted) <= MAX_TEXT:
        return formatted
    return shortened(render(text, PLAIN))


def invite_button(username: str, label: str, source: str) -> InlineKeyboardButton:
    """A button opening the bot with `/start <source>` (a deep link)."""
    from telegram import InlineKeyboardButton

    payload = _NOT_PAYLOAD.sub("_", source)[:64] or "start"
    return InlineKeyboardButton(label, url=f"https://t.me/{username}?start={payload}")


def description(command: CommandInfo, locale: str, default: str) -> str:
    """A command's line in the menu: one line, at most 256 characters."""
    text = command.descriptions.get(locale) or command.descriptions.get(default) or command.name
    text = " ".join(text.split())
    return text if len(text) <= 256 else text[:255] + "…"


def _chat_id(recipient: str) -> int:
    try:
        return int(recipient)
    except ValueError:
        raise DeliveryError(
            f"telegram: {recipient[:40]!r} is not a chat id", permanent=True
        ) from None


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def shortened(text: str, limit: int = MAX_TEXT) -> str:
    if utf16_length(text) <= limit:
        return text
    cut = text[: limit - 1]
    while utf16_length(cut) > limit - 1:  # characters beyond the BMP count twice
        cut = cut[:-1]
    return cut + "…"
