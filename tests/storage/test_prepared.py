"""Prepared statements on SQLite give exactly what SQLAlchemy itself gives.

Each check runs the same statement twice on the same data: once through the prepared path
(`LoopSession` with a plan cache) and once through SQLAlchemy (no cache), and compares.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session as OrmSession

from storage.migrate import upgrade
from storage.models import DueWork, Member, Outbox
from storage.prepared import plan_for
from storage.session import Database, LoopSession

NOW = datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=UTC)
OUTBOX = Outbox.__table__  # type: ignore[attr-defined]
MEMBER = Member.__table__  # type: ignore[attr-defined]


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'prepared.db'}")
    await upgrade(db.engine)
    yield db
    await db.dispose()


def _outbox_row(n: int, **overrides: Any) -> dict[str, Any]:
    row = {
        "dedupe_key": f"m{n}",
        "member_id": None,
        "platform": "memory",
        "recipient": "ada",
        "payload": {"text": f"héllo {n} 👋", "choices": [{"id": "a", "label": "A"}]},
        "status": "pending",
        "attempts": 0,
        "not_before": NOW,
        "created_at": NOW,
    }
    return row | overrides


QUEUE = insert(OUTBOX).returning(OUTBOX.c.id, OUTBOX.c.payload, OUTBOX.c.not_before)
BY_RECIPIENT = (
    select(OUTBOX.c.id, OUTBOX.c.payload, OUTBOX.c.not_before, OUTBOX.c.sent_at)
    .where(OUTBOX.c.recipient == bindparam("who"), OUTBOX.c.status == "pending")
    .order_by(OUTBOX.c.id)
)


async def _both(db: Database, statement: Any, params: Any) -> tuple[Any, Any]:
    """The statement's result through the prepared path, then through SQLAlchemy; each in a
    transaction that is rolled back, so both see the same data."""
    results = []
    for plans in ({}, None):
        with OrmSession(db._sync_engine) as orm, orm.begin():
            session = LoopSession(orm, plans)
            result = await session.core(statement, params)
            rows = [tuple(row) for row in result.all()] if result.returns_rows else []
            results.append((rows, result.rowcount))
            orm.rollback()
    return results[0], results[1]


async def test_a_prepared_select_converts_json_and_time_like_sqlalchemy(sqlite: Database) -> None:
    async with sqlite.transaction() as session:
        await session.core(insert(OUTBOX), [_outbox_row(1), _outbox_row(2, status="sent")])
    prepared, plain = await _both(sqlite, BY_RECIPIENT, {"who": "ada"})
    assert prepared == plain
    [(_, payload, not_before, sent_at)] = prepared[0]
    assert payload["text"] == "héllo 1 👋"
    assert not_before == NOW and not_before.tzinfo is UTC  # microseconds and zone kept
    assert sent_at is None


async def test_returning_gives_one_row_per_inserted_row_in_order(sqlite: Database) -> None:
    rows = [_outbox_row(n) for n in range(3)]
    prepared, plain = await _both(sqlite, QUEUE, rows)
    assert prepared == plain
    assert [payload["text"] for _, payload, _ in prepared[0]] == [f"héllo {n} 👋" for n in range(3)]
    assert len({row_id for row_id, _, _ in prepared[0]}) == 3


async def test_rowcount_of_an_update_with_a_constant_in_its_where_clause(sqlite: Database) -> None:
    async with sqlite.transaction() as session:
        await session.core(insert(OUTBOX), [_outbox_row(1), _outbox_row(2, status="sent")])
    statement = (
        update(OUTBOX)
        .where(OUTBOX.c.recipient == bindparam("who"), OUTBOX.c.status == "pending")
        .values(status="sending", lease_until=bindparam("until"))
    )
    prepared, plain = await _both(sqlite, statement, {"who": "ada", "until": NOW})
    assert prepared == plain == ([], 1)  # the "sent" row is not matched: the constant bound


async def test_an_executemany_update_counts_every_row(sqlite: Database) -> None:
    async with sqlite.transaction() as session:
        await session.core(insert(OUTBOX), [_outbox_row(n) for n in range(4)])
    statement = (
        update(OUTBOX)
        .where(OUTBOX.c.dedupe_key == bindparam("key"))
        .values(sent_at=bindparam("at"), status="sent")
    )
    params = [{"key": f"m{n}", "at": NOW + timedelta(seconds=n)} for n in (0, 2, 9)]
    prepared, plain = await _both(sqlite, statement, params)
    assert prepared == plain == ([], 2)


async def test_written_values_read_back_identically_through_sqlalchemy(sqlite: Database) -> None:
    """What the prepared path writes (JSON, aware times, booleans), SQLAlchemy reads as it
    would have written it."""
    member = {
        "display_name": "Ada",
        "locale": "fr",
        "timezone": "Africa/Nairobi",
        "roles": ["newcomer"],
        "profile": {"interests": ["docs", "translation"], "note": "مرحبا"},
        "consent": True,
        "consent_at": NOW,
        "opted_out": False,
        "source": None,
        "created_at": NOW,
        "last_active_at": NOW - timedelta(days=1),
    }
    async with sqlite.transaction() as session:
        result = await session.core(insert(MEMBER).returning(MEMBER.c.id), member)
        [member_id] = result.scalars()
    async with sqlite.reading() as session:
        loaded = await session.get(Member, member_id)
    assert loaded is not None
    for name, value in member.items():
        assert getattr(loaded, name) == value, name


def test_statements_sqlalchemy_must_run_get_no_plan(sqlite: Database) -> None:
    dialect = sqlite.engine.dialect
    in_list = select(OUTBOX.c.id).where(OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
    assert plan_for(in_list, dialect, {"ids": [1, 2]}) is None
    # A default computed per row (DueWork.created_at: the time) is SQLAlchemy's to compute.
    computed = insert(DueWork.__table__)  # type: ignore[attr-defined]
    assert plan_for(computed, dialect, {"key": "k", "kind": "x", "due_at": NOW}) is None
    assert plan_for(BY_RECIPIENT, dialect, {"who": "ada"}) is not None


async def test_constant_defaults_are_filled_in_by_the_prepared_path(sqlite: Database) -> None:
    row = _outbox_row(1)
    del row["status"], row["attempts"]  # columns with constant defaults: "pending" and 0
    assert plan_for(QUEUE, sqlite.engine.dialect, row) is not None
    prepared, plain = await _both(sqlite, QUEUE, [row])
    assert prepared == plain
    async with sqlite.transaction() as session:
        await session.core(QUEUE, [row])
    async with sqlite.reading() as session:
        stored = (await session.execute(select(Outbox))).scalars().one()
    assert (stored.status, stored.attempts) == ("pending", 0)


async def test_a_statement_with_defaults_still_gets_them_through_sqlalchemy(
    sqlite: Database,
) -> None:
    async with sqlite.transaction() as session:
        await session.core(
            insert(DueWork.__table__),  # type: ignore[attr-defined]
            {"key": "k", "kind": "x", "due_at": NOW, "payload": {}},
        )
    async with sqlite.reading() as session:
        row = (await session.execute(select(DueWork))).scalars().one()
    assert row.status == "pending" and row.attempts == 0 and row.created_at is not None
