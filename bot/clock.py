"""Durable time: due-work rows claimed with leases, ticked by APScheduler.

Per-member work never lives in APScheduler's own job store: only the claimer and a few
housekeeping jobs run there, so several replicas can share one database safely.
"""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.settings import ClockSettings
from bot.turn import Turn, member_turn
from flows.content import ContentTree
from storage import due
from storage.models import DueWork
from storage.session import Database, Session

if TYPE_CHECKING:
    from bot.registry import DueKind, Registry

log = logging.getLogger("onramp.clock")

# A handler does the work inside the member's turn; returning a time postpones it to then.
DueHandler = Callable[[Turn, DueWork], Awaitable[datetime | None]]
# Quiet hours as (start, end) local hours, or True for the [clock] settings' own.
QuietHours = bool | Callable[[ContentTree], tuple[int, int]]
Grace = Callable[[ContentTree], timedelta] | None


@dataclass
class SystemWork:
    """What a piece of work about no one member (a campaign's send) gets: its transaction,
    the content, the time, and the outbox rows it queued (delivered right after commit)."""

    session: Session
    db: Database
    content: ContentTree
    now: datetime
    work: DueWork
    runner: DueWorkRunner
    queued: list[int]


SystemHandler = Callable[[SystemWork], Awaitable[datetime | None]]


def quiet_until(now: datetime, timezone: str | None, start: int, end: int) -> datetime | None:
    """If it is night for the member (between `start` and `end` o'clock), when night ends."""
    if not timezone or start == end:
        return None
    try:
        local = now.astimezone(zoneinfo.ZoneInfo(timezone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    hour = local.hour
    quiet = (hour >= start or hour < end) if start > end else (start <= hour < end)
    if not quiet:
        return None
    morning = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if morning <= local:
        morning += timedelta(days=1)
    return morning.astimezone(now.tzinfo)


class DueWorkRunner:
    def __init__(
        self,
        db: Database,
        content: ContentTree,
        settings: ClockSettings,
        clock: Callable[[], datetime],
        on_queued: Callable[[tuple[int, ...]], None],
        registry: Registry,
    ) -> None:
        self.db = db
        self.registry = registry  # the handler of each kind of due work
        self.content = content
        self.settings = settings
        self.clock = clock
        self.on_queued = on_queued
        # Messages a second each platform may take (its most generous limit): how much work
        # like a campaign's keeps queued ahead of the sender. Set by the runtime.
        self.platform_rates: dict[str, float] = {}
        self.campaigns: Any = None  # bot.campaigns.delivery.Context, set by the runtime

    async def tick(self) -> int:
        """Run every piece of work that is due; returns how many ran."""
        now = self.clock()
        async with self.db.transaction() as session:
            claimed = await due.claim(
                session,
                now,
                timedelta(seconds=self.settings.lease_seconds),
                self.settings.batch_size,
            )
        if not claimed:
            return 0
        # The batch is one transaction (one commit, as the dispatcher's group commit), each
        # piece of work in a savepoint of its own: one that fails is rolled back alone.
        queued: list[int] = []
        failures: list[tuple[DueWork, Exception]] = []
        async with self.db.transaction() as session:
            for work in claimed:
                try:
                    async with session.nested():
                        queued.extend(await self._run(session, work))
                except _LeaseLost:
                    log.warning(
                        "due work lease lost; another worker has it", extra={"kind": work.kind}
                    )
                except Exception as exc:
                    log.exception("due work failed", extra={"kind": work.kind})
                    failures.append((work, exc))
        for work, error in failures:
            retry = None
            if work.attempts < self.settings.max_attempts:
                retry = self.clock() + timedelta(seconds=30 * 2 ** (work.attempts - 1))
            async with self.db.transaction() as session:
                await due.failed(session, work, f"{type(error).__name__}: {error}", retry)
        if queued:
            self.on_queued(tuple(queued))
        return len(claimed)

    def _quiet_hours(self, kind: DueKind) -> tuple[int, int] | None:
        if kind.quiet_hours is False:
            return None
        if kind.quiet_hours is True:
            return self.settings.quiet_hours_start, self.settings.quiet_hours_end
        return kind.quiet_hours(self.content)

    async def _run(self, session: Session, work: DueWork) -> tuple[int, ...]:
        """Do one piece of work; the outbox rows it queued."""
        kind = self.registry.due_kinds.get(work.kind)
        if kind is None:
            raise LookupError(f"no handler for due work of kind {work.kind!r}")
        now = self.clock()
        if kind.grace is not None and now - work.due_at > kind.grace(self.content):
            late = now - work.due_at
            log.warning(
                "due work skipped: older than its grace",
                extra={"kind": work.kind, "late_seconds": int(late.total_seconds())},
            )
            if not await due.skip(session, work.id or 0, now, f"late by {late}"):
                raise _LeaseLost(work.key)
            return ()
        if kind.system is not None:
            return await self._run_system(session, work, kind.system, now)
        turn = await self._turn(session, work)
        postpone = None
        quiet = self._quiet_hours(kind)
        if turn is not None and quiet is not None:
            postpone = quiet_until(turn.now, turn.member.timezone, *quiet)
        if turn is not None and postpone is None:
            postpone = await kind.handler(turn, work)
        if postpone is not None:
            await due.schedule(
                session,
                key=work.key,
                kind=work.kind,
                due_at=postpone,
                member_id=work.member_id,
                payload=work.payload,
            )
            return ()
        queued = await turn.flush() if turn is not None else ()
        if not await due.finish(session, work.id or 0, self.clock()):
            raise _LeaseLost(work.key)
        await session.flush()  # the member's own changes, inside this work's savepoint
        return queued

    async def _run_system(
        self, session: Session, work: DueWork, handler: SystemHandler, now: datetime
    ) -> tuple[int, ...]:
        system = SystemWork(session, self.db, self.content, now, work, self, [])
        postpone = await handler(system)
        if postpone is not None:
            await due.schedule(
                session,
                key=work.key,
                kind=work.kind,
                due_at=postpone,
                member_id=work.member_id,
                payload=work.payload,
            )
        elif not await due.finish(session, work.id or 0, self.clock()):
            raise _LeaseLost(work.key)
        await session.flush()
        return tuple(system.queued)

    async def _turn(self, session: Session, work: DueWork) -> Turn | None:
        if work.member_id is None:
            return None
        key = f"due:{work.id}:{int(work.due_at.timestamp())}"
        return await member_turn(
            session, self.db, self.content, work.member_id, self.clock(), key, self.registry
        )


class _LeaseLost(Exception):
    pass
