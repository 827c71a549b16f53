"""Telegram inline keyboards for Onramp's questions, and what a tap on one means.

A button's `callback_data` (Telegram allows 64 bytes) is `KIND:STEP[:CHOICE]`, at most 59
bytes, since flows/schema.py keeps step ids to 32 and choice ids to 24 ASCII characters:

    c:STEP:CHOICE   the answer to a single-choice question
    +:STEP:CHOICE   select CHOICE of a multiple-choice question
    -:STEP:CHOICE   unselect it
    =:STEP          done: the choices marked selected are the answer

Selecting only edits the keyboard: the label gets a ✅ and the data turns from `+:` to `-:`.
So the selection lives in the message itself, and whichever replica gets "done" reads it back
from the message Telegram sends with the tap. Each button names the state it leads to, so a
tap Telegram delivers twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bot.messages import OutgoingMessage

if TYPE_CHECKING:  # python-telegram-bot is imported once a keyboard is built
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

MAX_BUTTONS = 10  # one a row; Telegram allows 100, a phone shows about ten
MAX_DATA_BYTES = 64
SELECTED = "✅ "
DONE_LABEL = "OK ✔️"  # when the message brings no `submit_label` of its own

Kind = Literal["pick", "select", "unselect", "done"]
_KINDS: dict[str, Kind] = {"c": "pick", "+": "select", "-": "unselect", "=": "done"}
_CODES = {kind: code for code, kind in _KINDS.items()}


@dataclass(frozen=True)
class Tap:
    kind: Kind
    step_id: str
    choice_id: str = ""

    @property
    def data(self) -> str | None:
        """As `callback_data`; None if it would not fit."""
        parts = [_CODES[self.kind], self.step_id] + ([self.choice_id] if self.choice_id else [])
        data = ":".join(parts)
        return data if len(data.encode()) <= MAX_DATA_BYTES else None


def read(data: object) -> Tap | None:
    """The tap a button's `callback_data` stands for; None if it is not one of ours."""
    if not isinstance(data, str):
        return None
    code, _, rest = data.partition(":")
    step_id, _, choice_id = rest.partition(":")
    kind = _KINDS.get(code)
    if kind is None or not step_id or (kind == "done") == bool(choice_id):
        return None
    return Tap(kind, step_id, choice_id)


def keyboard(message: OutgoingMessage) -> list[list[InlineKeyboardButton]] | None:
    """One button a row for the message's choices, or None when they must be numbered text
    instead: too many of them, or no question to tie them to."""
    from telegram import InlineKeyboardButton

    labelled = labelled_taps(message)
    if labelled is None:
        return None
    return [[InlineKeyboardButton(label, callback_data=tap.data)] for label, tap in labelled]


def labelled_taps(message: OutgoingMessage) -> list[tuple[str, Tap]] | None:
    """The keyboard's buttons as labels and taps, or None when the choices must be numbered
    text instead."""
    room = MAX_BUTTONS - (1 if message.multiple else 0)
    if not message.choices or message.step_id is None or len(message.choices) > room:
        return None
    kind: Kind = "select" if message.multiple else "pick"
    taps = [Tap(kind, message.step_id, choice.id) for choice in message.choices]
    if message.multiple:
        taps.append(Tap("done", message.step_id))
    labels = [choice.label for choice in message.choices] + [message.submit_label or DONE_LABEL]
    if any(tap.data is None for tap in taps):
        return None
    return list(zip(labels, taps, strict=False))


def _taps(markup: InlineKeyboardMarkup | None) -> list[tuple[InlineKeyboardButton, Tap]]:
    buttons = [button for row in markup.inline_keyboard for button in row] if markup else []
    return [(button, tap) for button in buttons if (tap := read(button.callback_data))]


def selected(markup: InlineKeyboardMarkup | None, step_id: str) -> tuple[str, ...]:
    """The choices of `step_id` marked selected on a multiple-choice keyboard."""
    return tuple(
        tap.choice_id
        for _, tap in _taps(markup)
        if tap.kind == "unselect" and tap.step_id == step_id
    )


def labels(markup: InlineKeyboardMarkup | None, step_id: str, chosen: Sequence[str]) -> list[str]:
    """The labels of the chosen choices, as the keyboard shows them (without the ✅)."""
    return [
        button.text.removeprefix(SELECTED)
        for button, tap in _taps(markup)
        if tap.step_id == step_id and tap.choice_id in chosen and tap.kind != "done"
    ]


def toggled(markup: InlineKeyboardMarkup, tap: Tap) -> InlineKeyboardMarkup:
    """The keyboard after a select or unselect `tap`."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    select = tap.kind == "select"
    after = Tap("unselect" if select else "select", tap.step_id, tap.choice_id)

    def toggle(button: InlineKeyboardButton) -> InlineKeyboardButton:
        if read(button.callback_data) != tap:
            return button
        label = button.text.removeprefix(SELECTED)
        return InlineKeyboardButton(
            f"{SELECTED}{label}" if select else label, callback_data=after.data
        )

    return InlineKeyboardMarkup([[toggle(b) for b in row] for row in markup.inline_keyboard])
