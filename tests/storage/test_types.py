"""UTCDateTime: aware UTC in, aware UTC out, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from storage.models import Member
from storage.session import Database
from tests.storage.rows import NOW, add, load


async def test_an_aware_utc_datetime_round_trips_as_aware_utc(db: Database) -> None:
    moment = NOW.replace(microsecond=123456)
    (member_id,) = await add(db, Member(created_at=moment, consent_at=moment))
    member = await load(db, Member, member_id)
    assert member.created_at == moment
    assert member.created_at.tzinfo is UTC
    assert member.consent_at is not None and member.consent_at.tzinfo is UTC


async def test_an_aware_datetime_in_another_zone_comes_back_as_the_same_instant_in_utc(
    db: Database,
) -> None:
    nairobi = NOW.astimezone(timezone(timedelta(hours=3)))
    (member_id,) = await add(db, Member(created_at=nairobi))
    member = await load(db, Member, member_id)
    assert member.created_at == NOW
    assert member.created_at.utcoffset() == timedelta(0)
    assert member.created_at.hour == NOW.hour


async def test_sql_comparisons_see_the_instant_whatever_zone_it_was_written_in(
    db: Database,
) -> None:
    (member_id,) = await add(db, Member(created_at=NOW.astimezone(timezone(timedelta(hours=-5)))))
    async with db.reading() as session:
        found = await session.execute(select(Member.id).where(Member.created_at == NOW))
        earlier = await session.execute(
            select(Member.id).where(Member.created_at < NOW - timedelta(seconds=1))
        )
    assert list(found.scalars()) == [member_id]
    assert list(earlier.scalars()) == []


async def test_a_null_utc_column_stays_null(db: Database) -> None:
    (member_id,) = await add(db, Member(consent_at=None))
    assert (await load(db, Member, member_id)).consent_at is None


async def test_a_naive_datetime_is_rejected_on_write(db: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        await add(db, Member(created_at=datetime(2026, 3, 2, 10, 0)))
    async with db.reading() as session:
        assert (await session.execute(select(Member))).first() is None


async def test_a_naive_datetime_is_rejected_in_a_comparison(db: Database) -> None:
    async with db.reading() as session:
        with pytest.raises(StatementError, match="naive datetime"):
            await session.execute(
                select(Member).where(Member.created_at < datetime(2026, 3, 2, 10, 0))
            )
