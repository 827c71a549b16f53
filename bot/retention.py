"""Housekeeping: every kind of data deleted once `[retention]` says it has been kept long
enough (bot/settings.py, `RetentionSettings`), in bounded batches, and expired dashboard links
and sessions.

The runtime runs it every 6 hours on the replica that sends messages (the one holding the
sender's lock, bot/leadership.py; on SQLite, the one process). On PostgreSQL it also holds an
advisory lock while it runs, so that two replicas never prune at once while that lock moves.
Each batch is its own short transaction; each kind's count is logged and added to the
`onramp_rows_pruned_total{kind}` counter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import func, select

from bot import metrics
from bot.settings import RetentionSettings
from storage import housekeeping
from storage import retention as prune
from storage.session import Database, Session
from storage.statuses import OutboxStatus

log = logging.getLogger("onramp.retention")
LOCK_CLASS, LOCK_NAME = 7202, "onramp:housekeeping"

Batch = Callable[[Session], Awaitable[int]]


def batches(retention: RetentionSettings, now: datetime, limit: int) -> dict[str, Batch]:
    """One batch of each kind whose retention is limited, by the name it is counted under."""
    kinds: dict[str, Batch] = {}

    def every(kind: str, days: int | None, batch: Callable[..., Awaitable[int]]) -> None:
        if days is not None:
            kinds[kind] = partial(batch, before=now - timedelta(days=days), limit=limit)

    every("processed_events", retention.processed_events_days, prune.processed_events)
    for status, days in (
        (OutboxStatus.SENT, retention.sent_messages_days),
        (OutboxStatus.CANCELLED, retention.cancelled_messages_days),
        (OutboxStatus.FAILED, retention.failed_messages_days),
    ):
        every(f"{status.value}_messages", days, partial(prune.messages, status=status))
    every("failed_events", retention.failed_events_days, prune.failed_events)
    every("answers", retention.answers_days, prune.answers)
    every("finished_runs", retention.finished_runs_days, prune.finished_runs)
    if retention.activity_days is not None:  # whole UTC days
        first_kept = (now - timedelta(days=retention.activity_days)).date()
        kinds["activity"] = partial(prune.activity, before=first_kept, limit=limit)
    every("audit_log", retention.audit_log_days, prune.audit_log)
    return kinds


async def run(
    db: Database,
    retention: RetentionSettings,
    now: datetime,
    *,
    leading: bool = True,
    limit: int = prune.BATCH,
) -> dict[str, int] | None:
    """Prune every kind; how many rows of each went, or None when this replica does not lead
    or another one is pruning already."""
    if not leading:
        return None
    async with _alone(db) as alone:
        if not alone:
            return None
        pruned = {}
        for kind, batch in batches(retention, now, limit).items():
            pruned[kind] = await _all(db, batch, limit)
        if retention.activity_days is not None:
            day = (now - timedelta(days=retention.activity_days)).date()
            async with db.transaction() as session:
                pruned["active_day_summaries"] = await prune.active_day_summaries(session, day)
        async with db.transaction() as session:
            links, sessions = await housekeeping.prune_dashboard_access(session, now=now)
        pruned["dashboard_access"] = links + sessions
    for kind, count in pruned.items():
        metrics.pruned(kind, count)
    log.info("housekeeping", extra={f"pruned_{kind}": count for kind, count in pruned.items()})
    return pruned


async def _all(db: Database, batch: Batch, limit: int) -> int:
    total = 0
    while True:
        async with db.transaction() as session:
            deleted = await batch(session)
        total += deleted
        if deleted < limit:
            return total
        await asyncio.sleep(0)  # between batches, whatever else waits runs


@contextlib.asynccontextmanager
async def _alone(db: Database) -> AsyncIterator[bool]:
    """PostgreSQL: whether this process took the housekeeping lock, held until the end."""
    if db.sqlite:  # one process
        yield True
        return
    async with db.engine.connect() as connection:
        key = (LOCK_CLASS, func.hashtext(LOCK_NAME))
        taken = bool((await connection.execute(select(func.pg_try_advisory_lock(*key)))).scalar())
        await connection.commit()
        try:
            yield taken
        finally:
            if taken:
                await connection.execute(select(func.pg_advisory_unlock(*key)))
                await connection.commit()
