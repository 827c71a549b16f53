"""Pruning: old dedupe keys and old delivered or cancelled messages go, everything else stays."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from storage.housekeeping import prune
from storage.models import Outbox, ProcessedEvent
from storage.session import Database
from tests.storage.rows import NOW, add, message

EVENTS_BEFORE = NOW - timedelta(days=7)
SENT_BEFORE = NOW - timedelta(days=30)
OLD = SENT_BEFORE - timedelta(days=1)
NEW = NOW - timedelta(days=1)


def _event(key: str, received_at: datetime) -> ProcessedEvent:
    return ProcessedEvent(dedupe_key=key, platform="console", received_at=received_at)


async def _prune(db: Database) -> tuple[int, int]:
    async with db.transaction() as session:
        return await prune(session, events_before=EVENTS_BEFORE, sent_before=SENT_BEFORE)


async def _left(db: Database) -> tuple[list[str], list[str]]:
    async with db.reading() as session:
        events = await session.execute(select(ProcessedEvent.dedupe_key))
        messages = await session.execute(select(Outbox.dedupe_key))
        return sorted(events.scalars()), sorted(messages.scalars())


async def test_prune_deletes_processed_events_older_than_the_cut_off(db: Database) -> None:
    await add(
        db,
        _event("old", EVENTS_BEFORE - timedelta(seconds=1)),
        _event("at-cut-off", EVENTS_BEFORE),
        _event("new", NEW),
    )
    assert await _prune(db) == (1, 0)
    assert (await _left(db))[0] == ["at-cut-off", "new"]


async def test_prune_deletes_old_sent_and_cancelled_messages_only(db: Database) -> None:
    await add(
        db,
        message("old-sent", "a", status="sent", created_at=OLD),
        message("old-cancelled", "b", status="cancelled", created_at=OLD),
        message("old-pending", "c", status="pending", created_at=OLD),
        message("old-sending", "d", status="sending", created_at=OLD, lease_until=NOW),
        message("old-failed", "e", status="failed", created_at=OLD),
        message("new-sent", "f", status="sent", created_at=NEW),
        message("new-cancelled", "g", status="cancelled", created_at=NEW),
    )
    assert await _prune(db) == (0, 2)
    assert (await _left(db))[1] == [
        "new-cancelled",
        "new-sent",
        "old-failed",
        "old-pending",
        "old-sending",
    ]


async def test_prune_returns_both_counts(db: Database) -> None:
    await add(
        db,
        _event("e1", OLD),
        _event("e2", OLD),
        _event("e3", NEW),
        message("m1", "a", status="sent", created_at=OLD),
    )
    assert await _prune(db) == (2, 1)
    assert await _prune(db) == (0, 0)
