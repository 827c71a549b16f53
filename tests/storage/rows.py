"""Rows for the storage tests: builders, a fixed clock reading, and emptying a database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import func, select, text
from sqlmodel import SQLModel

from storage import activity, recognition
from storage.database import create_engine
from storage.health import daysets
from storage.members import create_member
from storage.migrate import upgrade
from storage.models import Outbox
from storage.session import Database, Session
from storage.types import JSONDocument, UTCDateTime

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)

Row = TypeVar("Row", bound=SQLModel)


async def add(db: Database, *rows: SQLModel) -> list[int]:
    """Insert the rows in one transaction and return their ids, in order."""
    async with db.transaction() as session:
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]  # type: ignore[attr-defined]


async def load(db: Database, model: type[Row], row_id: int) -> Row:
    """A fresh copy of one row as the database holds it now."""
    async with db.reading() as session:
        row = await session.get(model, row_id)
        assert row is not None, f"{model.__name__} {row_id} is gone"
        return row


async def count(db: Database, model: type[SQLModel], *where: Any) -> int:
    async with db.reading() as session:
        statement = select(func.count()).select_from(model)
        return int((await session.execute(statement.where(*where))).scalar_one())


async def new_member(db: Database, external_id: str, display_name: str = "") -> int:
    async with db.transaction() as session:
        _, member = await create_member(
            session,
            platform="console",
            workspace="",
            external_id=external_id,
            display_name=display_name,
        )
        assert member.id is not None
        return member.id


def message(
    key: str,
    recipient: str = "ada",
    *,
    platform: str = "console",
    status: str = "pending",
    not_before: datetime = NOW,
    lease_until: datetime | None = None,
    attempts: int = 0,
    member_id: int | None = None,
    created_at: datetime = NOW,
) -> Outbox:
    return Outbox(
        dedupe_key=key,
        platform=platform,
        recipient=recipient,
        payload={},
        status=status,
        not_before=not_before,
        lease_until=lease_until,
        attempts=attempts,
        member_id=member_id,
        created_at=created_at,
    )


async def empty_postgres_database(url: str) -> None:
    """Delete every row of every table (not alembic_version) and restart the id sequences."""
    import storage.models  # noqa: F401  (registers every table on SQLModel.metadata)

    tables = ", ".join(f'"{table.name}"' for table in SQLModel.metadata.sorted_tables)
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            # Fail rather than hang if a test left a transaction open on the shared database.
            await connection.execute(text("SET LOCAL lock_timeout = '5s'"))
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


async def rebuild_milestones(db: Database) -> None:
    """Every member's milestones worked out from the rows: for tests that insert rows directly
    rather than through the functions that keep them (tests/storage/test_milestones.py shows
    the two agree)."""
    async with db.engine.begin() as connection:
        await connection.run_sync(activity.rebuild)


async def store_day_sets(db: Database, now: datetime, onboarding_flow: str = "onboarding") -> int:
    """The health metrics' summaries of every day closed at `now` stored, as the hourly job
    stores them (bot/health/day_sets.py, the funnel's for `onboarding_flow`); how many days."""
    return await daysets.fill(db, now, longest=400, onboarding_flow=onboarding_flow)


# The member table as migrations 0009-0012 left it, for tests that write rows at an older
# revision (the model has columns those revisions lack).
MEMBER_BEFORE_0013 = sa.table(
    "member",
    sa.column("id", sa.Integer()),
    sa.column("display_name", sa.String()),
    sa.column("roles", JSONDocument),
    sa.column("profile", JSONDocument),
    sa.column("opted_out", sa.Boolean()),
    sa.column("created_at", UTCDateTime()),
    sa.column("last_active_at", UTCDateTime()),
)


async def thank(
    session: Session,
    giver: int,
    receiver: int,
    when: datetime,
    category: str = "code",
    weight: float = 1.0,
) -> int:
    """A kudos given the way the bot gives one (storage/recognition.give: its milestone and
    running totals kept), in `session`; its id."""
    return await recognition.give(
        session,
        giver_id=giver,
        receiver_id=receiver,
        category=category,
        reason="thanks",
        now=when,
        weight=weight,
        shouted=False,
    )


async def old_members(connection: Any, names: dict[int, str], joined: datetime) -> None:
    """Members written as migrations 0009-0012 left the table (id → name), for the tests of a
    later migration that start from an older revision."""
    await connection.execute(
        MEMBER_BEFORE_0013.insert(),
        [
            {
                "id": member_id,
                "display_name": name,
                "roles": [],
                "profile": {},
                "opted_out": False,
                "created_at": joined,
                "last_active_at": joined,
            }
            for member_id, name in names.items()
        ],
    )


@asynccontextmanager
async def from_revision(url: str, revision: str) -> AsyncIterator[Any]:
    """The database at `url` brought to `revision`, and a connection to write what a database
    held then (in one transaction); on leaving, migrated to the head (a migration's test)."""
    engine = create_engine(url)
    try:
        await upgrade(engine, revision)
        async with engine.begin() as connection:
            yield connection
        await upgrade(engine)
    finally:
        await engine.dispose()


@asynccontextmanager
async def opened(url: str) -> AsyncIterator[Database]:
    """The database at `url`, disposed of on leaving."""
    db = Database.from_url(url)
    try:
        yield db
    finally:
        await db.dispose()
