"""The adapter contract: what every platform module provides, and how the core finds them."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Literal, Protocol, runtime_checkable

from bot.events import Event
from bot.messages import OutgoingMessage

ENTRY_POINT_GROUP = "onramp.adapters"


@dataclass(frozen=True)
class Capabilities:
    max_buttons: int = 0  # 0: choices are shown as numbered text
    max_text_length: int = 4000
    markdown: Literal["markdown", "mrkdwn", "telegram_html", "zulip", "whatsapp", "plain"] = (
        "markdown"
    )
    can_start_dm: bool = True  # may the bot write first?
    has_slash_commands: bool = False
    # May the bot open a conversation with several members at once (a Slack group DM, a
    # Zulip direct message to several people)? Its recipient is then `group:ID,ID,…`.
    can_group_dm: bool = False
    # Words that, sent alone, opt a member out of announcements by the platform's own
    # convention (WhatsApp's "STOP" to marketing), lower-case; the core runs /announcements off.
    opt_out_keywords: tuple[str, ...] = ()
    # Hours after a member's last message during which the bot may write freely; after that
    # only an approved template goes (WhatsApp's 24-hour window). None: no such window.
    reply_window_hours: float | None = None


@dataclass(frozen=True)
class Receipt:
    """What the core answers an adapter for one event, once it is committed.

    `settled` resolves when the replies have had their first delivery attempt; a webhook
    adapter acks at once and ignores it, the console waits so the chat reads in order.
    """

    duplicate: bool
    outbox_ids: tuple[int, ...] = ()
    settled: Awaitable[None] | None = field(default=None, compare=False)
    # The core's own: rows leased for delivery in the event's transaction (never an adapter's).
    claimed: tuple[Any, ...] = field(default=(), compare=False, repr=False)


Inbox = Callable[[Event], Awaitable[Receipt]]
# One of the bot's own texts (content/system.yaml) that takes no variables, by key, in a
# locale (None or one it lacks: the community's default): what an adapter prints itself.
SystemText = Callable[[str, str | None], str]


@dataclass(frozen=True)
class RateLimit:
    """At most `count` messages per `seconds` among all messages that name the same `key`
    (the platform's name is added to it): e.g. 1 per second per Slack channel."""

    key: str
    count: int
    seconds: float


@dataclass(frozen=True)
class CommandInfo:
    """A command for a platform's command menu (Telegram's setMyCommands): its name and a
    one-line description per locale."""

    name: str
    descriptions: Mapping[str, str]


class AdapterConfigError(ValueError):
    """An adapter cannot run as configured (a missing secret, a token the platform refuses).
    `onramp run` prints it and exits instead of a traceback."""


class DeliveryError(Exception):
    """A send that did not go through. `retry_after` in seconds when the platform said so."""

    def __init__(
        self, reason: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent


@runtime_checkable
class Adapter(Protocol):
    name: str
    capabilities: Capabilities

    async def start(self, inbox: Inbox) -> None:
        """Begin receiving; every event goes to `inbox`. Returns once receiving has started."""

    async def stop(self) -> None: ...

    async def send(self, message: OutgoingMessage) -> str:
        """Deliver one message and return the platform's id for it; raise DeliveryError."""

    def routes(self) -> Sequence[Any]:
        """Web routes this adapter serves (webhooks); empty for console and memory."""


# What an adapter may also provide; the core looks for each with getattr and does without:
#
#   def rate_limits(self, message: OutgoingMessage) -> Sequence[RateLimit]
#       the platform's limits this message counts against; the sender waits for all of them.
#   def ready(self) -> bool
#       for /readyz: connected and able to send.
#   def set_commands(self, commands: Sequence[CommandInfo], locales: Sequence[str]) -> None
#       the commands members can use, called once before start(), for a platform's menu.
#   def set_texts(self, text: SystemText) -> None
#       the bot's own texts, called once before start(), for what the adapter says itself
#       rather than the core (the console's goodbye), in the member's language.
#   async def lead(self) -> None
#       work only one replica may do (long polling); run while this replica leads, cancelled
#       when it stops leading (`bot/leadership.py`). An adapter that has such work only in
#       some modes says whether it has it now with a `leads: bool` attribute (default True),
#       so that no replica takes the lock for nothing.
#   @classmethod configured(cls, settings) -> bool
#       are this platform's secrets in the environment? `onramp run` then serves it by default.
#   @classmethod render_preview(cls, message: OutgoingMessage) -> str
#       the message's text as the platform will show it, in its own markup, with no secrets
#       and nothing started: `onramp campaign preview` shows it to the managers.


AdapterFactory = Callable[..., Adapter]


def available_adapters() -> dict[str, AdapterFactory]:
    """Every adapter installed under the `onramp.adapters` entry-point group."""
    return {ep.name: ep.load() for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _capabilities(platform: str) -> Capabilities | None:
    factory = available_adapters().get(platform)
    return getattr(factory, "capabilities", None)


@functools.cache
def can_start_dm(platform: str) -> bool:
    """Whether the bot may write to a member of `platform` first (not on Telegram)."""
    capabilities = _capabilities(platform)
    return bool(getattr(capabilities, "can_start_dm", True))


@functools.cache
def can_group_dm(platform: str) -> bool:
    """Whether the installed adapter of `platform` declares group conversations (its class's
    capabilities: known without starting it, so the command line knows too)."""
    return bool(getattr(_capabilities(platform), "can_group_dm", False))


@functools.cache
def opt_out_keywords(platform: str) -> frozenset[str]:
    """The words that, sent alone on `platform`, opt out of announcements (its installed
    adapter's class capabilities)."""
    keywords = getattr(_capabilities(platform), "opt_out_keywords", ())
    return frozenset(word.casefold() for word in keywords)
