"""Our messages in Slack's Block Kit, and the buttons pressed on them read back.

A message without choices is plain `text` in mrkdwn (an `Invite`, Telegram's way to open a
private chat, adds nothing: on Slack the bot writes first). A question is its text in section blocks
(3,000 characters each) and one actions block:

- single choice: one button per choice (at most 25, Slack's limit for an actions block),
  `action_id` `onramp.choice.N` (unique in the block), `value` `{"step": …, "choice": …}`;
- multiple choice: a checkboxes element (`onramp.pick`, at most 10 options, each `value` the
  choice id) and an OK button (`onramp.done`, `value` `{"step": …}`). Ticking a box only
  acknowledges; OK reads the ticked boxes from the payload's `state` and answers with them.

Step ids have at most 32 characters and choice ids 24 (flows/schema.py), far inside Slack's
limits (`value` 2,000, an option's value 150); a question that would not fit anyway (too many
choices, an over-long id) falls back to numbered text, answered by typing. Every message
keeps its `text`, which is what notifications show.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from adapters.markdown import SLACK, has_link, render
from bot.messages import OutgoingMessage, numbered_text

Block = dict[str, Any]

SECTION_LIMIT = 3000  # characters of a section block's text
CONTEXT_LIMIT = 2000  # of a context block's text
MAX_BUTTONS = 25  # elements of one actions block
MAX_CHECKBOXES = 10  # options of one checkboxes element
LABEL_LIMIT = 75  # a button's or an option's text
VALUE_LIMIT = 2000  # a button's value
OPTION_VALUE_LIMIT = 150
CHOICE = "onramp.choice."  # + the choice's position
PICK = "onramp.pick"
DONE = "onramp.done"
DONE_LABEL = "OK ✔️"  # when the message brings no `submit_label` (the system text)
ANSWERED = "✔️ "


@dataclass(frozen=True)
class Rendered:
    text: str  # mrkdwn: the whole message, or the fallback notifications show
    blocks: list[Block] | None = None


@dataclass(frozen=True)
class Press:
    """A question answered by a button: the step it asked and the choices given."""

    step_id: str
    choice_ids: tuple[str, ...]


class NotOurs(ValueError):
    """An action whose id or value Onramp did not write."""


def render_message(message: OutgoingMessage) -> Rendered:
    text = render(message.text, SLACK)
    if not message.choices:
        return Rendered(text)
    actions = _actions(message)
    if actions is None:  # too many choices, or ids too long for Block Kit: type the answer
        return Rendered(render(numbered_text(message), SLACK))
    return Rendered(text, [*_sections(text), actions])


def unfurl_media(message: OutgoingMessage) -> bool | None:
    """Previews of media links (pages' previews, `unfurl_links`, are always off: they are long):
    off in lite mode for a message with a link; else Slack's default (None: not sent)."""
    return False if message.lite and has_link(message.text) else None


def _actions(message: OutgoingMessage) -> Block | None:
    step = message.step_id
    if step is None:
        return None
    if message.multiple:
        done = _value(step=step)
        if len(message.choices) > MAX_CHECKBOXES or len(done) > VALUE_LIMIT:
            return None
        if any(len(choice.id) > OPTION_VALUE_LIMIT for choice in message.choices):
            return None
        options = [{"text": _plain(c.label), "value": c.id} for c in message.choices]
        elements = [
            {"type": "checkboxes", "action_id": PICK, "options": options},
            _button(DONE, message.submit_label or DONE_LABEL, done, style="primary"),
        ]
    else:
        values = [_value(step=step, choice=c.id) for c in message.choices]
        if len(values) > MAX_BUTTONS or any(len(v) > VALUE_LIMIT for v in values):
            return None
        elements = [
            _button(f"{CHOICE}{n}", choice.label, value)
            for n, (choice, value) in enumerate(zip(message.choices, values, strict=True))
        ]
    return {"type": "actions", "block_id": "onramp.choices", "elements": elements}


def _sections(text: str) -> list[Block]:
    return [
        {"type": "section", "block_id": f"onramp.text.{n}", "text": {"type": "mrkdwn", "text": t}}
        for n, t in enumerate(_pieces(text, SECTION_LIMIT))
        if t
    ]


def _pieces(text: str, limit: int) -> list[str]:
    """`text` cut into parts of at most `limit` characters, at a paragraph break, else at a
    line break, else a space, else anywhere."""
    pieces = []
    while len(text) > limit:
        cut = next(
            (at for sep in ("\n\n", "\n", " ") if (at := text.rfind(sep, 0, limit)) > 0), limit
        )
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*pieces, text]


def _button(action_id: str, label: str, value: str, style: str | None = None) -> Block:
    button = {"type": "button", "action_id": action_id, "text": _plain(label), "value": value}
    return button | ({"style": style} if style else {})


def _plain(text: str) -> Block:
    clipped = text if len(text) <= LABEL_LIMIT else text[: LABEL_LIMIT - 1] + "…"
    return {"type": "plain_text", "text": clipped or "…", "emoji": True}


def _value(**fields: str) -> str:
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)


# Reading a press back.


def is_pick(action: dict[str, Any]) -> bool:
    """A box ticked or unticked: nothing to tell the core until OK."""
    return action.get("action_id") == PICK


def read_press(action: dict[str, Any], state: dict[str, Any]) -> Press:
    """The answer a pressed button carries (`state` is the payload's, for the ticked boxes)."""
    action_id = action.get("action_id")
    if not isinstance(action_id, str) or not (action_id == DONE or action_id.startswith(CHOICE)):
        raise NotOurs(f"action {str(action_id)[:40]!r} is not an Onramp button")
    value = _decoded(action.get("value"))
    step = value.get("step")
    if not isinstance(step, str) or not step:
        raise NotOurs("button value names no step")
    if action_id == DONE:
        return Press(step, _ticked(state, action.get("block_id")))
    choice = value.get("choice")
    if not isinstance(choice, str) or not choice:
        raise NotOurs("button value names no choice")
    return Press(step, (choice,))


def _decoded(value: object) -> dict[str, Any]:
    try:
        decoded = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        decoded = None
    if not isinstance(decoded, dict):
        raise NotOurs("button value is not Onramp's JSON")
    return decoded


def _ticked(state: object, block_id: object) -> tuple[str, ...]:
    values = state.get("values") if isinstance(state, dict) else None
    block = values.get(block_id) if isinstance(values, dict) and isinstance(block_id, str) else None
    pick = block.get(PICK) if isinstance(block, dict) else None
    options = pick.get("selected_options") if isinstance(pick, dict) else None
    ticked = [o.get("value") for o in options or [] if isinstance(o, dict)]
    return tuple(v for v in ticked if isinstance(v, str) and v)


def answered_blocks(message: dict[str, Any], choice_ids: tuple[str, ...]) -> list[Block]:
    """The question as it was, its buttons replaced by the answer given (the labels it showed
    for `choice_ids`): an answered question cannot be answered again."""
    blocks = [b for b in message.get("blocks") or [] if isinstance(b, dict)]
    labels = _labels([b for b in blocks if b.get("type") == "actions"])
    kept = [b for b in blocks if b.get("type") != "actions"]
    chosen = ", ".join(labels[c] for c in choice_ids if c in labels)
    if not chosen:
        return kept
    answer = {"type": "plain_text", "text": f"{ANSWERED}{chosen}"[:CONTEXT_LIMIT], "emoji": True}
    return [*kept, {"type": "context", "block_id": "onramp.answered", "elements": [answer]}]


def _labels(actions: list[Block]) -> dict[str, str]:
    """Choice id -> the label its button or box showed."""
    labels: dict[str, str] = {}
    for element in (e for block in actions for e in block.get("elements") or []):
        if element.get("action_id") == PICK:
            for option in element.get("options") or []:
                labels[str(option.get("value"))] = _text_of(option)
        elif str(element.get("action_id", "")).startswith(CHOICE):
            with contextlib.suppress(NotOurs):
                labels[str(_decoded(element.get("value")).get("choice"))] = _text_of(element)
    return labels


def _text_of(element: dict[str, Any]) -> str:
    text = element.get("text")
    return str(text.get("text", "")) if isinstance(text, dict) else ""
