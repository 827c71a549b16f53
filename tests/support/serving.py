"""Serving a platform: the whole runtime (real web server, real database, the tests' clock)
running one platform's adapter against that platform's emulator, for as long as a test needs.

Every platform's end-to-end tests use it (tests/adapters/test_<platform>.py): they subclass
`Served` with what is particular to their wire (delivering a webhook, confirming a poll) and
open `serving(...)` with their adapter and emulator:

    class Served(harness.Served[TelegramAdapter, TelegramEmulator]):
        async def deliver(self, update: JSON) -> int: ...

    async with harness.serving(settings, emulator, {"telegram": adapter}, served=Served) as s:
        await s.deliver(...)
        await s.outbox_idle()
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import func, select
from sqlmodel import col

from bot.runtime import Onramp
from bot.settings import Settings
from storage.models import Outbox, ProcessedEvent
from tests.clock import FakeClock, RunningClock
from tests.support.waiting import until

A = TypeVar("A")  # the platform's adapter
E = TypeVar("E")  # the platform's emulator
OPEN = ("pending", "sending")  # outbox rows not yet delivered nor given up on


@dataclass
class Served(Generic[A, E]):
    """A running Onramp serving one platform, and the emulator it talks to."""

    onramp: Onramp
    adapter: A
    emulator: E

    def url(self, path: str) -> str:
        """The bot's own web server, at `path` (a webhook: `/telegram/webhook`)."""
        assert self.onramp.web is not None, "the web server is not serving"
        return f"http://127.0.0.1:{self.onramp.web.port}{path}"

    async def count(self, table: type, *where: Any) -> int:
        """Rows of `table` (that match `where`)."""
        statement = select(func.count()).select_from(table).where(*where)
        async with self.onramp.db.reading() as session:
            return int((await session.execute(statement)).scalar())

    async def outbox(self) -> list[Outbox]:
        async with self.onramp.db.reading() as session:
            return list((await session.execute(select(Outbox).order_by(col(Outbox.id)))).scalars())

    async def outbox_idle(self) -> None:
        """Every queued message has been delivered (or given up on)."""

        async def idle() -> bool:
            return await self.count(Outbox, col(Outbox.status).in_(OPEN)) == 0

        await until(idle, "the outbox to empty")

    async def handled(self, key: str) -> bool:
        """Whether the event with dedupe key `key` is committed."""
        return await self.count(ProcessedEvent, col(ProcessedEvent.dedupe_key) == key) == 1

    async def settled(self, key: str) -> None:
        """The event with `key` is committed and its replies have gone out."""
        await until(lambda: self.handled(key), f"event {key}")
        await self.outbox_idle()


S = TypeVar("S", bound=Served[Any, Any])


@contextlib.asynccontextmanager
async def serving(
    settings: Settings,
    emulator: Any,
    adapters: Mapping[str, Any] | None = None,
    *,
    served: type[S] = Served,  # type: ignore[assignment]  (the default is the plain one)
    clock: FakeClock | RunningClock | None = None,
) -> AsyncIterator[S]:
    """Onramp serving `adapters` (by default the enabled ones, found by their entry points, as
    `onramp run` finds them) against `emulator`, started and, at the end, stopped.

    The tests' clock, never the wall clock, so quiet hours and lateness are the same whatever
    the hour the suite runs at; unless a test moves time itself (`clock=`), it runs in real
    time, as retries and leases must come due. An adapter that keeps time itself (WhatsApp's
    24-hour window) is given the same clock by its test."""
    onramp = await Onramp.create(settings, adapters, clock=clock or RunningClock())
    await onramp.start()  # which sets the command menus, and runs what leads (polling)
    try:
        adapter = next(iter(onramp.adapters.values()))  # the one platform served
        yield served(onramp, adapter, emulator)
    finally:
        await onramp.stop()
