"""The pieces every community-health query shares, written once for SQLite and PostgreSQL:
the month of a timestamp, seconds between two, the first and last day a period touches, which
members the filters keep, and the median and 90th percentile of durations.

Timestamps are naive UTC on both databases (storage/types.UTCDateTime): SQLite keeps them as
`YYYY-MM-DD HH:MM:SS[.ffffff]` text, PostgreSQL as `timestamp`. A percentile is not an
aggregate SQLite has, so durations are selected (one number per member at most) and their
median and 90th percentile computed here.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, Float, and_, case, cast, func, literal_column, or_, select
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Exists
from sqlmodel import col

from storage.health.types import Filters, Spread
from storage.models import Identity, Member
from storage.session import Session


def month(column: Any, dialect: str) -> ColumnElement[str]:
    """'YYYY-MM' of a timestamp or date column."""
    if dialect == "sqlite":
        # The text's first seven characters: what strftime('%Y-%m') gives for the ISO text
        # SQLAlchemy writes, at a fraction of its cost over a million rows.
        return func.substr(column, 1, 7)
    return func.to_char(column, "YYYY-MM")


def seconds_between(start: Any, end: Any, dialect: str) -> ColumnElement[float]:
    """`end - start` in seconds, as a float."""
    if dialect == "sqlite":
        # Julian days carry about 10 µs of floating-point noise: round to the millisecond.
        return func.round((func.julianday(end) - func.julianday(start)) * 86400.0, 3)
    return cast(func.extract("epoch", end - start), Float)


def day_of(column: Any, dialect: str) -> ColumnElement[Any]:
    """The UTC day of a timestamp column: the text's first ten characters on SQLite (the ISO
    form SQLAlchemy writes, compared with the ISO text of a Date), a date on PostgreSQL."""
    if dialect == "sqlite":
        return func.substr(column, 1, 10)
    return cast(column, Date)


def as_date(value: Any) -> date:
    """A day as `day_of` or a Date column gives it back (ISO text on SQLite)."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def as_utc(value: Any) -> datetime:
    """A timestamp as an aggregate gives it back: aware UTC (naive UTC, or ISO text on SQLite,
    where an expression's type is not always known)."""
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def first_of_month(text: str) -> date:
    """'2026-03' (from `month`) as 2026-03-01."""
    year, number = text.split("-")[:2]
    return date(int(year), int(number), 1)


def exists_where(*conditions: Any) -> Exists:
    """EXISTS (SELECT 1 … WHERE conditions). Not SQLAlchemy's `exists()`, whose `SELECT *`
    keeps SQLite (3.40) from answering from a covering index: it would read every row too."""
    return select(literal_column("1")).where(*conditions).exists()


def in_scope(filters: Filters, member_id: Any = None) -> ColumnElement[bool]:
    """The condition keeping the members the filters name (platform, locale), on a member id
    column (Member.id by default). True when the filters name neither."""
    column = col(Member.id) if member_id is None else member_id
    conditions: list[ColumnElement[bool]] = []
    if filters.platform:
        conditions.append(
            exists_where(
                col(Identity.member_id) == column, col(Identity.platform) == filters.platform
            )
        )
    if filters.locale:
        # An alias, so that the condition means the same inside a query on `member` itself.
        scope = Member.__table__.alias("scope")  # type: ignore[attr-defined]
        conditions.append(
            exists_where(
                scope.c.id == column,
                or_(scope.c.locale == filters.locale, scope.c.locale.like(f"{filters.locale}-%")),
            )
        )
    return and_(True, *conditions)


def spread(seconds: Iterable[float | None]) -> Spread:
    """How many durations (None left out), their median and 90th percentile (nearest rank,
    a negative one as 0), None when none. Picked by numpy's partial sort: a year of waits for
    a first message (100,000) in 3 ms, where sorting them here took 30."""
    import numpy as np  # only the health pages need it: a process that serves none never loads it

    values = np.asarray(seconds if isinstance(seconds, array) else list(seconds), dtype=float)
    values = values[~np.isnan(values)]  # None, as NaN
    count = len(values)
    if not count:
        return Spread(0, None, None)
    middle, p90 = count // 2, max(0, math.ceil(0.9 * count) - 1)
    ranks = sorted({middle - 1, middle, p90} - {-1})
    chosen = np.partition(values, ranks)

    def at(rank: int) -> float:
        return max(0.0, float(chosen[rank]))

    median = at(middle) if count % 2 else (at(middle - 1) + at(middle)) / 2
    return Spread(count, median, at(p90))


async def spread_in_database(session: Session, seconds: Any, *where: Any) -> Spread:
    """`spread` of the durations `seconds` of the rows `where` keeps, worked out by the
    database: their count and the (at most three) ranked values the median and the 90th
    percentile need, instead of every duration sent here and sorted (100,000 members' waits
    for a first message). Ranks as in `spread`: nearest rank, negatives as 0."""
    value = case((seconds < 0, 0.0), else_=seconds).label("value")
    ranked = (
        select(
            value,
            func.row_number().over(order_by=value).label("position"),
            func.count().over().label("n"),
        )
        .where(seconds.is_not(None), *where)
        .subquery("ranked")
    )
    n = ranked.c.n
    wanted = (n // 2, n // 2 + 1, (9 * n + 9) // 10)  # the median's one or two, p90's
    statement = select(ranked.c.value, ranked.c.position, n).where(ranked.c.position.in_(wanted))
    rows = (await session.execute(statement)).all()
    if not rows:
        return Spread(0, None, None)
    count = int(rows[0].n)
    at = {int(row.position): float(row.value) for row in rows}
    middle = count // 2
    median = at[middle + 1] if count % 2 else (at[middle] + at[middle + 1]) / 2
    return Spread(count, median, at[max(1, math.ceil(0.9 * count))])


def last_day(end: datetime) -> date:
    """The last UTC day an exclusive `end` still touches (a midnight `end`: the day before)."""
    return (end - timedelta(microseconds=1)).astimezone(UTC).date()


def first_day(start: datetime) -> date:
    return start.astimezone(UTC).date()


def dialect_of(session: Session) -> str:
    return str(session.get_bind().dialect.name)
