"""The median and 90th percentile worked out by the database agree with `spread` in Python."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete

from storage.health import sql
from storage.models import Member
from storage.session import Database

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DURATIONS = [
    [],
    [5.0],
    [5.0, 1.0],
    [3.0, 1.0, 2.0],
    [-4.0, 10.0, 7.0, 7.0],  # a negative wait (clocks) counts as 0
    [float(n * n % 17) for n in range(10)],
    [float(n * 7 % 23) + 0.5 for n in range(11)],
    [60.0] * 6 + [3600.0, 86400.0],
]


@pytest.mark.parametrize("durations", DURATIONS)
async def test_the_database_s_spread_is_python_s(db: Database, durations: list[float]) -> None:
    async with db.transaction() as session:
        await session.execute(delete(Member))
        session.add_all(
            [
                Member(created_at=START, first_reached_at=START + timedelta(seconds=seconds))
                for seconds in durations
            ]
            + [Member(created_at=START)]  # never reached: not counted
        )
    async with db.reading() as session:
        dialect = sql.dialect_of(session)
        member = Member.__table__  # type: ignore[attr-defined]
        seconds = sql.seconds_between(member.c.created_at, member.c.first_reached_at, dialect)
        found = await sql.spread_in_database(session, seconds, member.c.created_at >= START)
    assert found == sql.spread(durations)
