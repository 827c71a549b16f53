"""Onramp's messages as WhatsApp Cloud API request bodies, and what a tapped reply means.

A question's choices become, in order of preference:

- reply buttons: at most 3, titles of 1-20 characters, unique;
- a list message: at most 10 rows, titles of 1-24 characters, opened by a button whose label
  (1-20 characters) is the content's `open_choices` text, or else `[whatsapp] list_button`;
- numbered text (`numbered_text`), answered by typing, for anything beyond that, for
  questions with several answers (WhatsApp has no multiple selection), and for a question
  whose text is too long for an interactive body.

Each button or row id is `c:STEP:CHOICE`. flows/schema.py keeps step ids to 32 and choice ids
to 24 characters, so an id stays far below WhatsApp's limits (256 for buttons, 200 for rows),
and a tap names the question it answers: a stale tap is recognised by the core.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from adapters.markdown import WHATSAPP, render, unformatted
from bot.messages import OutgoingMessage, numbered_text

JSON = dict[str, Any]
MAX_TEXT = 4096
MAX_CAPTION = 1024  # a media message's caption
MAX_DOCUMENT = 100 * 1000 * 1000  # a document's largest size: 100 MB
DOCUMENT_TYPES = frozenset(
    {
        "text/plain",
        "application/pdf",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)
MAX_BUTTONS, MAX_BUTTON_TITLE, MAX_BUTTON_BODY = 3, 20, 1024
MAX_ROWS, MAX_ROW_TITLE, MAX_LIST_BODY = 10, 24, 4096
_PICK = "c"
# Meta refuses template parameters with line breaks, tabs or more than 4 spaces in a row.
_PARAMETER_SPACE = re.compile(r"[\n\t]+| {5,}")


def reply_id(step_id: str, choice_id: str) -> str:
    return f"{_PICK}:{step_id}:{choice_id}"


def read_reply_id(value: str) -> tuple[str, str] | None:
    """(step id, choice id) from a button or row id we set; None if it is not one of ours."""
    kind, _, rest = value.partition(":")
    step_id, _, choice_id = rest.partition(":")
    if kind != _PICK or not step_id or not choice_id:
        return None
    return step_id, choice_id


def free_form(message: OutgoingMessage, list_labels: Mapping[str, str]) -> JSON:
    """The body of a message for inside the 24-hour window."""
    if message.choices and message.step_id is not None and not message.multiple:
        body = render(message.text, WHATSAPP)
        labels = [choice.label.strip() for choice in message.choices]
        unique = len(set(labels)) == len(labels) and all(labels)
        if (
            unique
            and len(labels) <= MAX_BUTTONS
            and max(map(len, labels)) <= MAX_BUTTON_TITLE
            and len(body) <= MAX_BUTTON_BODY
        ):
            return _interactive(message, body, _buttons(message, labels))
        if (
            len(labels) <= MAX_ROWS
            and all(labels)
            and max(map(len, labels)) <= MAX_ROW_TITLE
            and len(body) <= MAX_LIST_BODY
        ):
            return _interactive(message, body, _list(message, labels, list_labels))
    text = numbered_text(message) if message.choices else message.text
    return _envelope(
        message, "text", {"body": _shortened(render(text, WHATSAPP)), "preview_url": False}
    )


def document(message: OutgoingMessage, media_id: str) -> JSON:
    """A document message: the uploaded file by its media id, its name, the text as caption."""
    assert message.document is not None
    content: JSON = {"id": media_id, "filename": message.document.name}
    if message.text.strip():
        content["caption"] = _shortened(render(message.text, WHATSAPP), MAX_CAPTION)
    return _envelope(message, "document", content)


def document_type(media_type: str) -> str:
    """The media type a document is uploaded as: WhatsApp takes documents of a few types only
    (text, PDF, Office's), so other text (JSON) goes as text/plain; its name keeps its kind."""
    return media_type if media_type in DOCUMENT_TYPES else "text/plain"


def template(message: OutgoingMessage) -> JSON:
    """The body of the approved template the content names for `message`."""
    assert message.template is not None
    ref = message.template
    content: JSON = {"name": ref.name, "language": {"code": ref.language}}
    if ref.parameters:
        parameters = [
            # A parameter is member text (their name): WhatsApp would format it, so it is not.
            {"type": "text", "text": unformatted(_PARAMETER_SPACE.sub(" ", value).strip()) or "-"}
            for value in ref.parameters
        ]
        content["components"] = [{"type": "body", "parameters": parameters}]
    return _envelope(message, "template", content)


def list_label(locale: str | None, labels: Mapping[str, str]) -> str:
    """The list button's label in `locale`, its base language, or the first one given."""
    for candidate in (locale, (locale or "").split("_")[0]):
        if candidate and candidate in labels:
            return labels[candidate]
    return next(iter(labels.values()))


def _envelope(message: OutgoingMessage, kind: str, content: JSON) -> JSON:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": message.recipient,
        "type": kind,
        kind: content,
    }


def _interactive(message: OutgoingMessage, body: str, rest: JSON) -> JSON:
    return _envelope(message, "interactive", {**rest, "body": {"text": body}})


def _buttons(message: OutgoingMessage, labels: list[str]) -> JSON:
    assert message.step_id is not None
    buttons = [
        {"type": "reply", "reply": {"id": reply_id(message.step_id, choice.id), "title": label}}
        for choice, label in zip(message.choices, labels, strict=True)
    ]
    return {"type": "button", "action": {"buttons": buttons}}


def _list(message: OutgoingMessage, labels: list[str], list_labels: Mapping[str, str]) -> JSON:
    assert message.step_id is not None
    # The content's `open_choices` text, if it fits WhatsApp's 20 characters; else the setting.
    wanted = (message.choose_label or "").strip()
    label = wanted if 0 < len(wanted) <= 20 else list_label(message.locale, list_labels)
    rows = [
        {"id": reply_id(message.step_id, choice.id), "title": title}
        for choice, title in zip(message.choices, labels, strict=True)
    ]
    sections = [{"title": label, "rows": rows}]
    return {"type": "list", "action": {"button": label, "sections": sections}}


def _shortened(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
