"""What adapters hand the core: platform events in the core's own words."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class Event:
    platform: str
    dedupe_key: str  # unique per platform delivery: Slack event_id, Telegram update_id, ...
    actor: str  # the platform's user id
    conversation: str  # where it happened (a DM channel, a group chat id)
    # Is `conversation` a private chat between the bot and this member? Replies always go to
    # the member's private chat; a group's id is never taken for one.
    private: bool = True
    workspace: str = ""
    display_name: str | None = None
    # The member's handle on the platform, without "@" (a Telegram username), where it has
    # one: how others mention them in typed text.
    username: str | None = None
    locale_hint: str | None = None  # the platform's idea of the member's language
    received_at: datetime = field(default_factory=_now)


@dataclass(frozen=True, kw_only=True)
class MemberJoined(Event):
    source: str | None = None  # where they came from, e.g. a Telegram deep-link payload
    # May the bot write to them privately? A Telegram bot may not until the member has started
    # it: it then welcomes them in `conversation` (the group) with a button that opens a
    # private chat, and onboarding begins there.
    can_dm: bool = True


@dataclass(frozen=True, kw_only=True)
class MessageReceived(Event):
    text: str


@dataclass(frozen=True, kw_only=True)
class ChoiceMade(Event):
    step_id: str  # the question the button belonged to; stale buttons are recognised
    choice_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class CommandInvoked(Event):
    name: str
    args: str = ""


@dataclass(frozen=True, kw_only=True)
class UnsupportedReceived(Event):
    """Something the bot cannot read yet (a photo, a voice note, a reaction, a location…): the
    member is told politely what it can read, and nothing else changes."""

    kind: str  # the platform's name for it, e.g. "image", "reaction"


@dataclass(frozen=True, kw_only=True)
class ProfileChanged(Event):
    """The member changed their profile on the platform (Slack's `user_change`): `display_name`
    is the name they go by now. Nothing is answered, and nobody unknown becomes a member."""


DeliveryStatus = Literal["sent", "delivered", "read", "failed"]


@dataclass(frozen=True, kw_only=True)
class DeliveryUpdate(Event):
    """The platform's later word on a message the bot sent (WhatsApp status notifications):
    recorded on its outbox row, whatever order the updates arrive in. `delivery_id` is what
    `Adapter.send` returned for it; `actor` and `conversation` are the recipient."""

    delivery_id: str
    status: DeliveryStatus
    error: str | None = None  # why, for "failed"


def parse_typed_command(text: str) -> tuple[str, str] | None:
    """'/language fr' -> ('language', 'fr'). For platforms where commands are typed."""
    stripped = text.strip()
    if not stripped.startswith("/") or len(stripped) < 2:
        return None
    name, _, args = stripped[1:].partition(" ")
    name = name.split("@", 1)[0].casefold()  # Telegram: /start@OnrampBot
    if not name.replace("_", "").isalnum() or len(name) > 32:
        return None
    return name, args.strip()
