"""Wiring: content, database, dispatcher, sender, clock and adapters, started and stopped."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import metrics, privacy_web, retention, web
from bot.adapter import Adapter, AdapterFactory, Receipt, available_adapters, refused_adapters
from bot.adapter_texts import adapter_texts
from bot.campaigns import delivery as campaign_delivery
from bot.campaigns import planning as campaign_planning
from bot.clock import DueWorkRunner
from bot.commands import command_menu
from bot.dispatcher import Dispatcher, utcnow
from bot.events import DeliveryUpdate, Event
from bot.features import build_registry
from bot.health import day_sets, digest_schedule
from bot.leadership import Leadership
from bot.mentorship import batch as mentorship_batch
from bot.registry import Registry
from bot.sender import Sender
from bot.settings import Settings
from bot.version import VERSION
from flows import timezones
from flows.content import ContentTree, load_tree_or_raise
from flows.schema import AskStep
from storage import outbox, pseudonyms
from storage.migrate import upgrade
from storage.session import Database

log = logging.getLogger("onramp.runtime")


class _NotAnErrorAtStop(logging.Filter):
    """A periodic job cancelled because the bot is stopping is logged by APScheduler as "Error
    running job", with a traceback: it is not one (its transaction is rolled back, and the
    job runs again after the restart)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, asyncio.CancelledError)


JOBS_LOG = logging.getLogger("apscheduler.executors.default")
JOBS_LOG.addFilter(_NotAnErrorAtStop())
SENDER_LOCK_WAIT_SECONDS = 5.0  # at start, how long to wait for the first try for the sender's lock
LEADERSHIP_RETRY_SECONDS = 5.0  # how often a replica that does not lead tries to (bot/leadership)


def tune_garbage_collector() -> None:
    """For a process that serves: call once, after start-up.

    Everything loaded by then (content, SQLAlchemy's compiled statements) lives as long as the
    process, so it is kept out of the collector's full sweeps, which otherwise show up as
    latency spikes; and as a turn makes thousands of short-lived objects, young ones are
    collected less often. Process-wide, so it belongs to the entry point, not the runtime.
    """
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


class UnknownAdapterError(LookupError):
    pass


def build_adapters(settings: Settings, names: list[str] | None = None) -> dict[str, Adapter]:
    factories = available_adapters()
    chosen = names or settings.adapters.enabled or configured_adapters(settings, factories)
    unknown = [name for name in chosen if name not in factories]
    refused = refused_adapters() if unknown else {}
    for name in unknown:
        if name in refused:  # installed, but not an Adapter: say so, not "unknown"
            raise refused[name]
    if unknown:
        raise UnknownAdapterError(
            f"unknown adapter(s): {', '.join(unknown)}; installed: {', '.join(sorted(factories))}"
        )
    return {name: factories[name](settings) for name in chosen}


def configured_adapters(settings: Settings, factories: dict[str, AdapterFactory]) -> list[str]:
    """The platforms whose secrets are set (an adapter says so with a `configured(settings)`
    class method), or the console when none are: what `onramp run` serves by default."""
    found = []
    for name, factory in sorted(factories.items()):
        if factory.configured(settings):
            found.append(name)
    return found or ["console"]


class Onramp:
    def __init__(
        self,
        settings: Settings,
        content: ContentTree,
        db: Database,
        adapters: Mapping[str, Adapter],
        clock: Callable[[], datetime] = utcnow,
        registry: Registry | None = None,
    ) -> None:
        """`registry` is what the features add (`bot.features.build_registry()`, which the
        CLI passes; built here when none is given, a convenience for tests and benchmarks)."""
        self.settings = settings
        self.content = content
        self.db = db
        self.adapters = dict(adapters)
        self.clock = clock
        self.registry = registry if registry is not None else build_registry()
        # /privacy reads the retention in force (and, once the web app serves them, hands out
        # download links: bot/web.py).
        privacy_web.serve(self.registry, privacy_web.Served(settings, adapters=self.adapters))
        self.sender = Sender(
            db, self.adapters, settings.sender, clock, settings.campaigns.reserve_share
        )
        self.dispatcher = Dispatcher(
            db,
            content,
            clock,
            claim=self.sender.claim_in,
            attempts=settings.events.attempts,
            registry=self.registry,
        )
        self.timers = DueWorkRunner(
            db, content, settings.clock, clock, self.sender.kick, self.registry
        )
        self.timers.platform_rates = campaign_delivery.platform_rates(self.adapters)
        self.timers.campaigns = campaign_delivery.Context(
            settings.campaigns, settings.clock, campaign_planning.reach(self.adapters)
        )
        self.scheduler: AsyncIOScheduler | None = None
        self._sender_task: asyncio.Task[None] | None = None
        self._warming: asyncio.Task[None] | None = None
        self._leading: list[asyncio.Task[None]] = []
        self.web: web.WebServer | None = None  # serving once started, if [web] says so
        metrics.declare(self.adapters)

    @classmethod
    async def create(
        cls,
        settings: Settings,
        adapters: Mapping[str, Adapter] | None = None,
        clock: Callable[[], datetime] = utcnow,
        registry: Registry | None = None,
    ) -> Onramp:
        """Load content (refusing invalid content, or actions `registry` lacks), open the
        database and apply migrations."""
        registry = registry if registry is not None else build_registry()
        content = load_tree_or_raise(
            settings.content.path, settings.content.min_coverage, registry.actions
        )
        db = Database.from_url(
            settings.database.url,
            sqlite_synchronous=settings.database.sqlite_synchronous,
            echo=settings.database.echo,
        )
        if settings.database.migrate_on_start:
            await upgrade(db.engine)
        return cls(
            settings,
            content,
            db,
            adapters if adapters is not None else build_adapters(settings),
            clock,
            registry,
        )

    async def receive(self, event: Event) -> Receipt:
        """The inbox every adapter is given."""
        metrics.received(event.platform)
        if isinstance(event, DeliveryUpdate):  # about a message perhaps still being recorded
            await self.sender.recorded(event.delivery_id)
        receipt = await self.dispatcher.handle(event)
        if receipt.duplicate:
            metrics.deduplicated(event.platform)
        if not receipt.outbox_ids:
            return receipt
        if not receipt.claimed and not self.sender.leading():
            # Another replica sends them: told, it sends them; nothing here to wait for.
            self.sender.kick(receipt.outbox_ids)
            return replace(receipt, settled=None, claimed=())
        settled = self.sender.settled(receipt.outbox_ids)
        if receipt.claimed or self.dispatcher.claim is not None:
            self.sender.deliver_claimed(receipt.claimed)
        else:
            self.sender.kick(receipt.outbox_ids)
        return replace(receipt, settled=settled, claimed=())

    async def start(self) -> None:
        if web.wanted(self.settings.web, self.adapters):
            # uvicorn gives up on requests (whole seconds) before the whole stop must be over.
            grace = max(1, math.ceil(self.settings.runtime.stop_timeout_seconds) - 1)
            self.web = web.WebServer(web.create_app(self), self.settings.web, grace)
            self.web.bind()  # first: a busy port stops start-up before anything has started
        async with self.db.transaction() as session:
            # The pseudonyms' key (logs, audit entries), made once if the operator set none.
            pseudonyms.install(await pseudonyms.key_of(session))
            if self.db.sqlite:  # one process owns a SQLite database: nothing is in flight
                await outbox.reclaim_all_sending(session)
        self._sender_task = asyncio.create_task(self.sender.run(), name="onramp-sender")
        if not self.db.sqlite:  # one replica sends (bot/sender.py): this one, if it can
            sending = Leadership(self.db, "sender", retry_seconds=LEADERSHIP_RETRY_SECONDS)
            self.sender.leading = sending.leading.is_set
            self._leading.append(asyncio.create_task(sending.run(self.sender.lead)))
            with contextlib.suppress(TimeoutError):  # (the database answers, or it is down)
                await asyncio.wait_for(sending.tried.wait(), SENDER_LOCK_WAIT_SECONDS)
        if self._asks_time_zones():  # opened (built, the first time) before anyone answers
            self._warming = asyncio.create_task(self._warm_time_zones(), name="onramp-timezones")
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        tick = timedelta(seconds=self.settings.clock.tick_seconds)
        self._every(self.timers.tick, "due-work", tick, at_once=True)
        self._every(self.match_mentors, "mentor-matching", self.content.matching.offers.batch_every)
        self._every(self.housekeeping, "housekeeping", timedelta(hours=6))
        # The health metrics' day sets: the days that closed since, now and then hourly.
        self._every(self.store_day_sets, "health-day-sets", timedelta(hours=1), at_once=True)
        # Weekly digests: planned for every manager now, then hourly for those who became one.
        await self.plan_digests()
        self._every(self.plan_digests, "digest-planning", timedelta(hours=1))
        self.scheduler.start()
        menu = command_menu(self.content, self.registry)
        for name, adapter in self.adapters.items():
            adapter.set_commands(menu, self._locales_default_first())
            adapter.set_texts(adapter_texts(self.content))
            await adapter.start(self.receive)
            # e.g. long polling: on one replica at a time; none in an adapter's webhook mode
            if adapter.leads:
                leadership = Leadership(
                    self.db, f"{name}:lead", retry_seconds=LEADERSHIP_RETRY_SECONDS
                )
                self._leading.append(
                    asyncio.create_task(leadership.run(adapter.lead), name=f"onramp-lead-{name}")
                )
        if self.web is not None:  # serving once the adapters can take events
            await self.web.start()
        log.info(
            "onramp started",
            extra={
                "version": VERSION,
                "adapters": ",".join(self.adapters),
                "web_port": self.web.port if self.web else None,
            },
        )

    def _asks_time_zones(self) -> bool:
        return any(
            isinstance(step, AskStep) and step.input == "timezone"
            for flow in self.content.flows.values()
            for step in flow.steps
        )

    async def _warm_time_zones(self) -> None:
        """The time-zone index, in a thread: its first build on a machine (a child process,
        about two seconds) must not hold up the event loop."""
        try:
            await asyncio.to_thread(timezones.warm_up)
        except Exception:  # the first lookup will try again, and say why if it fails
            log.exception("could not open the time-zone index")

    def _every(
        self, job: Callable[[], Awaitable[Any]], name: str, every: timedelta, at_once: bool = False
    ) -> None:
        """`job` every `every` (and at once, if asked), never two runs at a time; a run missed
        while the process was busy is not made up."""
        assert self.scheduler is not None
        first = {"next_run_time": datetime.now(UTC)} if at_once else {}
        self.scheduler.add_job(
            job,
            "interval",
            seconds=every.total_seconds(),
            id=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            **first,
        )

    def _locales_default_first(self) -> list[str]:
        community = self.content.community
        return [community.default_locale] + [
            locale for locale in community.locales if locale != community.default_locale
        ]

    async def match_mentors(self) -> mentorship_batch.BatchResult:
        """Offer every newcomer still waiting for a mentor, all at once (the periodic batch)."""
        result = await mentorship_batch.run(self.db, self.content, self.clock(), self.registry)
        if result.queued:
            self.sender.kick(result.queued)
        if result.changes:
            log.info("mentor matching", extra={"offers": len(result.changes)})
        return result

    async def plan_digests(self) -> int:
        """A weekly digest due for every manager who has none planned (bot/health/digest.py)."""
        return await digest_schedule.start_all(self.db, self.content, self.clock())

    async def store_day_sets(self) -> int:
        """Store the health metrics' sets of the days that closed (bot/health/day_sets.py)."""
        return await day_sets.fill(self.db, self.clock(), self.content.community.onboarding_flow)

    async def housekeeping(self) -> dict[str, int] | None:
        """Everything `[retention]` says was kept long enough, deleted on the replica that
        sends (bot/retention.py)."""
        leading = self.sender.leading()
        return await retention.run(self.db, self.settings.retention, self.clock(), leading=leading)

    async def run_until_closed(self, stop_requested: asyncio.Event | None = None) -> None:
        """Serve until a stop is requested (SIGTERM, SIGINT), an adapter that owns the session
        (the console) closes, the web server stops of its own accord (it should not), or
        forever."""
        endings = [asyncio.ensure_future(adapter.closed()) for adapter in self.adapters.values()]
        requested = asyncio.ensure_future((stop_requested or asyncio.Event()).wait())
        try:
            waited = [*endings, requested]
            if self.web is not None and self.web.task is not None:
                waited.append(self.web.task)
            await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for ending in [*endings, requested]:
                ending.cancel()
        if self.web is not None and self.web.task is not None and self.web.task.done():
            log.error("the web server stopped unexpectedly; shutting down")

    async def stop(self) -> None:
        """Stop in the order that loses nothing and sends nothing twice, within
        `[runtime] stop_timeout_seconds`:

        1. intake: the web server stops accepting and answers the requests in flight, which
           wait for their events' commits; leaders stop polling (an update handed over but
           not acknowledged is fetched again after the restart, and deduplicated);
        2. the timers, so no new due work starts;
        3. the sender, once no message is out with a platform unrecorded: a message sent but
           not recorded would go again after the restart; the rest stay queued for it;
        4. the adapters (the sender needed their clients until then), then the database.

        Whatever is still waiting at the deadline is abandoned: nothing of it was committed or
        marked sent, so the next start does it again."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.settings.runtime.stop_timeout_seconds
        if self.web is not None:  # first: no new requests while everything else stops
            try:
                await _within(deadline, self.web.stop(), "web requests in flight")
            except Exception:
                log.exception("web server failed while stopping")
        for task in self._leading:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._leading.clear()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._sender_task is not None:
            await _within(deadline, self.sender.quiesce(), "messages being sent")
            sending, self._sender_task = self._sender_task, None
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sending
        for adapter in self.adapters.values():
            with contextlib.suppress(Exception):
                # An adapter finishing its own work (an edit, a webhook answer) gets what is
                # left of the time, and a second at least to close its connections.
                await _within(max(deadline, loop.time() + 1.0), adapter.stop(), adapter.name)
        await self.db.dispose()
        log.info("onramp stopped", extra={"seconds": round(loop.time() - started, 2)})


async def _within(deadline: float, work: Awaitable[None], what: str) -> None:
    """Await `work` until the loop time `deadline`; past it, cancel it and say so."""
    try:
        async with asyncio.timeout_at(deadline):
            await work
    except TimeoutError:
        log.warning("stop timed out; abandoning the rest", extra={"waiting_for": what})
