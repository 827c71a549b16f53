"""The adapter contract: the base class every platform's adapter inherits (`Adapter`), the
types it trades with the core, and how the core finds the installed ones (entry points)."""

from __future__ import annotations

import abc
import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Literal

from bot.events import Event
from bot.messages import OutgoingMessage

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from bot.settings import Settings

ENTRY_POINT_GROUP = "onramp.adapters"
log = logging.getLogger("onramp.adapters")


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
    # The largest file, in bytes, the bot may send with a message (`OutgoingMessage.document`,
    # a member's data export); 0: the platform carries no files, and the core sends a link.
    max_document_bytes: int = 0


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


class Adapter(abc.ABC):
    """What every platform's adapter is: inherit it, set `name` and `capabilities` on the
    class, write the four abstract methods, and override an optional capability only where
    the platform has it; its default here is what the core does without it.

    An entry point under `onramp.adapters` must name a subclass (`adapter_class` checks it):
    the core calls every method below directly, so a class that merely looks like an adapter
    is refused with one line rather than failing later at one of the call sites.
    """

    # The entry-point name (`slack`), which is also every event's and message's `platform`.
    name: str
    # Read from the class, without building the adapter (campaign planning, `can_start_dm`),
    # so set them on the class; an instance may replace them (the memory adapter in tests).
    capabilities: Capabilities
    # Whether this adapter has leader-only work now (`lead()`): True for a class that defines
    # `lead`, else False; an adapter with such work in some modes only (Telegram's polling,
    # not its webhook) sets it per instance so that no replica takes the lock for nothing.
    leads: bool = False

    def __init__(self, settings: Settings) -> None:  # noqa: B027 (optional: a no-op by design)
        """The core builds an adapter as `factory(settings)` (`bot/runtime.build_adapters`)
        and starts it later: read your section of `settings` and the environment's secrets
        here, raise AdapterConfigError for what is missing, and connect nothing yet."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "lead" in cls.__dict__ and "leads" not in cls.__dict__:
            cls.leads = True

    # The required part.

    @abc.abstractmethod
    async def start(self, inbox: Inbox) -> None:
        """Begin receiving; every event goes to `inbox`. Returns once receiving has started."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop receiving and finish or drop background work; called once, at shutdown."""

    @abc.abstractmethod
    async def send(self, message: OutgoingMessage) -> str:
        """Deliver one message and return the platform's id for it; raise DeliveryError."""

    @abc.abstractmethod
    def routes(self) -> Sequence[BaseRoute]:
        """Web routes this adapter serves (webhooks), mounted by bot/web.py as they are;
        empty for console and memory."""

    # The optional part: each default is what the core does for a platform without it.

    def rate_limits(self, message: OutgoingMessage) -> Sequence[RateLimit]:
        """The platform's limits this message counts against; the sender waits for all of
        them, and a campaign's pace is the most generous one. None by default: no limit."""
        return ()

    def ready(self) -> bool:
        """For /readyz: connected and able to send. Called on every probe; keep it cheap."""
        return True

    def set_commands(self, commands: Sequence[CommandInfo], locales: Sequence[str]) -> None:  # noqa: B027 (optional: a no-op by design)
        """The commands members can use, default locale first; called once before start(),
        for a platform's own command menu (Telegram's setMyCommands)."""

    def set_texts(self, text: SystemText) -> None:  # noqa: B027 (optional: a no-op by design)
        """The bot's own texts; called once before start(), for what the adapter says itself
        rather than the core (the console's goodbye), in the member's language."""

    async def already_sent(self, message: OutgoingMessage) -> str | None:
        """The platform's id for this message if the platform already has it, else None.
        Asked before a message goes again after an attempt whose outcome was lost (the
        process stopped between handing it over and recording it, or its lease ran out), so
        that a crash sends nothing twice where the platform can say. None by default: the
        core cannot tell, and sends it again."""
        return None

    async def lead(self) -> None:  # noqa: B027 (optional: a no-op by design)
        """Work only one replica may do (long polling, an event queue): run while this
        replica holds the lock (`bot/leadership.py`), cancelled when it stops leading. Only
        run when `leads` is true."""

    async def closed(self) -> None:
        """Returns when the adapter has ended the session itself (the console: the member
        typed /quit or stdin ended); `Onramp.run_until_closed` then stops the bot. By
        default it never returns: a platform's session lasts until the bot is stopped."""
        await asyncio.Event().wait()

    @classmethod
    def configured(cls, settings: Settings) -> bool:
        """Are this platform's secrets in the environment? `onramp run` with no adapter
        named serves every configured one (the console when none is). False by default."""
        return False

    @classmethod
    def render_preview(cls, message: OutgoingMessage) -> str:
        """The message's text as the platform will show it, in its own markup, with no
        secrets and nothing started: `onramp campaign preview` shows it to the managers.
        By default the text as the core wrote it."""
        return message.text


AdapterFactory = type[Adapter]


class NotAnAdapterError(AdapterConfigError):
    """An `onramp.adapters` entry point that does not name a subclass of `Adapter`."""


def adapter_class(name: str, loaded: object) -> AdapterFactory:
    """`loaded` (what the entry point `name` named) if it is a conforming adapter class;
    otherwise NotAnAdapterError with a line that says what to fix."""
    where = f"the adapter entry point {name!r} ({getattr(loaded, '__qualname__', loaded)!r})"
    if not (isinstance(loaded, type) and issubclass(loaded, Adapter)):
        raise NotAnAdapterError(
            f"{where} is not a subclass of bot.adapter.Adapter; a platform's adapter must "
            "inherit it (see docs/developers/adding-a-platform.md)"
        )
    if not isinstance(getattr(loaded, "name", None), str):
        raise NotAnAdapterError(f"{where} sets no `name` on its class")
    if not isinstance(getattr(loaded, "capabilities", None), Capabilities):
        raise NotAnAdapterError(f"{where} sets no `capabilities = Capabilities(...)` on its class")
    if loaded.__abstractmethods__:
        missing = ", ".join(sorted(loaded.__abstractmethods__))
        raise NotAnAdapterError(f"{where} does not define {missing}")
    return loaded


_warned: set[str] = set()


def _installed() -> tuple[dict[str, AdapterFactory], dict[str, NotAnAdapterError]]:
    found: dict[str, AdapterFactory] = {}
    refused: dict[str, NotAnAdapterError] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found[entry_point.name] = adapter_class(entry_point.name, entry_point.load())
        except NotAnAdapterError as exc:
            refused[entry_point.name] = exc
    return found, refused


def available_adapters() -> dict[str, AdapterFactory]:
    """Every conforming adapter class installed under the `onramp.adapters` entry-point
    group, by name. A non-conforming one is left out (and logged): every command that only
    reads the installed platforms keeps working; `refused_adapters` says why."""
    found, refused = _installed()
    for name, exc in refused.items():
        if name not in _warned:  # once a process: this is called on many turns
            _warned.add(name)
            log.warning("%s", exc)
    return found


def refused_adapters() -> dict[str, NotAnAdapterError]:
    """The installed entry points that do not name a conforming adapter, with the reason:
    `onramp run` refuses to serve one of them with that line."""
    return _installed()[1]


def _capabilities(platform: str) -> Capabilities | None:
    factory = available_adapters().get(platform)
    return None if factory is None else factory.capabilities


@functools.cache
def can_start_dm(platform: str) -> bool:
    """Whether the bot may write to a member of `platform` first (not on Telegram)."""
    capabilities = _capabilities(platform)
    return True if capabilities is None else capabilities.can_start_dm


@functools.cache
def can_group_dm(platform: str) -> bool:
    """Whether the installed adapter of `platform` declares group conversations (its class's
    capabilities: known without starting it, so the command line knows too)."""
    capabilities = _capabilities(platform)
    return False if capabilities is None else capabilities.can_group_dm


@functools.cache
def opt_out_keywords(platform: str) -> frozenset[str]:
    """The words that, sent alone on `platform`, opt out of announcements (its installed
    adapter's class capabilities)."""
    capabilities = _capabilities(platform)
    keywords = () if capabilities is None else capabilities.opt_out_keywords
    return frozenset(word.casefold() for word in keywords)
