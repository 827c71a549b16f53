"""Transactions commit on success and roll back on error; inserts can ignore conflicts."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from storage.database import SQLITE_MMAP_BYTES
from storage.models import ProcessedEvent
from storage.session import Database, Session, dialect_insert
from tests.storage.rows import NOW, count


def _event(key: str) -> ProcessedEvent:
    return ProcessedEvent(dedupe_key=key, platform="console", received_at=NOW)


async def test_a_transaction_commits_when_its_block_ends(db: Database) -> None:
    async with db.transaction() as session:
        session.add(_event("a"))
    assert await count(db, ProcessedEvent) == 1


async def test_a_transaction_rolls_back_when_its_block_raises(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            session.add(_event("a"))
            await session.flush()
            raise RuntimeError("boom")
    assert await count(db, ProcessedEvent) == 0


async def test_insert_ignoring_conflicts_keeps_the_first_row(db: Database) -> None:
    table = ProcessedEvent.__table__  # type: ignore[attr-defined]
    statement = dialect_insert(db.engine.dialect.name)(table).on_conflict_do_nothing()
    async with db.transaction() as session:
        for platform in ("console", "slack"):
            result = await session.core(
                statement, {"dedupe_key": "same", "platform": platform, "received_at": NOW}
            )
            assert result.rowcount == (1 if platform == "console" else 0)
    assert await count(db, ProcessedEvent) == 1
    assert await count(db, ProcessedEvent, ProcessedEvent.platform == "console") == 1


@pytest.mark.timeout(60)
async def test_a_read_in_progress_holds_up_no_write(db: Database) -> None:
    """A long read (a dashboard page, `onramp report` beside the bot) must not take the write
    lock: a write meanwhile would wait for it (on SQLite, blocking the event loop for the
    30 s busy timeout, then failing)."""
    async with db.transaction() as session:
        session.add(_event("before"))
    async with db.reading() as reading:
        assert await _keys(reading) == ["before"]
        async with db.transaction() as session:  # while the read is still open
            session.add(_event("during"))
    async with db.reading() as reading:
        assert await _keys(reading) == ["before", "during"]


async def _keys(session: Session) -> list[str]:
    statement = select(ProcessedEvent.dedupe_key).order_by(ProcessedEvent.dedupe_key)
    return list((await session.execute(statement)).scalars())


async def test_on_sqlite_only_reading_connections_map_the_database_file(db: Database) -> None:
    """A mapping's touched pages count in the process's RSS: the writer, busy all day, keeps
    to SQLite's own page cache; readers (the dashboard's scans) map the file."""
    if not db.sqlite:
        pytest.skip("SQLite's memory-mapped reads")
    async with db.transaction() as session:
        writing = (await session.execute(text("PRAGMA mmap_size"))).scalar()
    async with db.reading() as session:
        reading = (await session.execute(text("PRAGMA mmap_size"))).scalar()
    assert (writing, reading) == (0, SQLITE_MMAP_BYTES)
