"""The median and 90th percentile (nearest rank) of durations: `spread`, counted by hand, and
worked out by the database, which agrees with it."""

from __future__ import annotations

from array import array
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete

from storage.health import sql
from storage.health.types import Spread
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


@pytest.mark.parametrize(
    ("durations", "expected"),
    [
        ([], Spread(0, None, None)),
        ([5.0], Spread(1, 5.0, 5.0)),
        ([5.0, 1.0], Spread(2, 3.0, 5.0)),  # p90: the 2nd of 2 (ceil(1.8))
        ([3.0, 1.0, 2.0], Spread(3, 2.0, 3.0)),
        ([-4.0, 10.0, 7.0, 7.0], Spread(4, 7.0, 10.0)),  # -4 counts as 0
        ([None, 2.0, None, 4.0], Spread(2, 3.0, 4.0)),  # none: left out (not matched yet)
        (array("d", [9.0, 1.0, 5.0, 3.0, 7.0]), Spread(5, 5.0, 9.0)),  # stored waits
        ([float(n) for n in range(1, 21)], Spread(20, 10.5, 18.0)),
    ],
)
def test_spread_by_hand(durations: Any, expected: Spread) -> None:
    assert sql.spread(durations) == expected
