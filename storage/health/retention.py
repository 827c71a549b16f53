"""The Retention page: monthly cohorts (members who joined in a month, and how many of them
were active in each month after) and CHAOSS Inactive Contributors."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import and_, case, func, select

from storage.health import sql
from storage.health.types import Cohort, Filters, Retention
from storage.models import Member, MemberActivity
from storage.session import Session

M: Any = Member.__table__  # type: ignore[attr-defined]
ACTIVITY: Any = MemberActivity.__table__  # type: ignore[attr-defined]


async def retention(session: Session, filters: Filters) -> Retention:
    dialect = sql.dialect_of(session)
    inactive, active_before = await _inactive(session, filters)
    return Retention(await _cohorts(session, filters, dialect), inactive, active_before)


def _months(first: date, last: date) -> list[date]:
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return months


def _next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _instant(day_: date) -> datetime:
    return datetime(day_.year, day_.month, day_.day, tzinfo=UTC)


async def _cohorts(session: Session, filters: Filters, dialect: str) -> list[Cohort]:
    """Cohorts from the month of `start` to the month of `end`; each member who joined in a
    month (before `end`) and, per month since, how many of them had a day of activity."""
    months = _months(sql.first_day(filters.start), sql.last_day(filters.end))
    joined_month = sql.month(M.c.created_at, dialect)
    joined = (
        M.c.created_at >= datetime(months[0].year, months[0].month, 1, tzinfo=UTC),  # all of it
        M.c.created_at < filters.end,
        sql.in_scope(filters),
    )
    last = sql.last_day(filters.end)
    following = [*months[1:], _next(months[-1])]

    def active_in(first: date, after: date) -> Any:
        """Whether a member who joined by then had a day in the month from `first` to
        `after`: one probe of their days (the primary key) per month since they joined,
        instead of reading every day of every member and counting them distinct."""
        return func.count(
            case(
                (
                    and_(
                        M.c.created_at < _instant(after),
                        sql.exists_where(
                            ACTIVITY.c.member_id == M.c.id,
                            ACTIVITY.c.day >= first,
                            ACTIVITY.c.day < after,
                            ACTIVITY.c.day <= last,
                        ),
                    ),
                    1,
                )
            )
        )

    statement = (
        select(
            joined_month,
            func.count(),
            *(active_in(first, after) for first, after in zip(months, following, strict=True)),
        )
        .where(*joined)
        .group_by(joined_month)
    )
    size: dict[date, int] = {}
    active: dict[tuple[date, date], int] = {}
    for cohort, members, *counts in await session.execute(statement):
        size[sql.first_of_month(cohort)] = int(members)
        for month, count in zip(months, counts, strict=True):
            active[(sql.first_of_month(cohort), month)] = int(count)
    return [
        Cohort(month, size.get(month, 0), [active.get((month, m), 0) for m in months[k:]])
        for k, month in enumerate(months)
    ]


async def _inactive(session: Session, filters: Filters) -> tuple[int, int]:
    """(CHAOSS Inactive Contributors, its base): members active in the `inactive_period`
    before `end` but before its last `inactive_interval`, and of those, the ones not active
    in that interval. Two probes of each member's days (the primary key), not a distinct
    count of the period's days."""
    since = sql.first_day(filters.end - filters.inactive_period)
    cut = sql.first_day(filters.end - filters.inactive_interval)

    def active(first: date, last: date, inclusive: bool) -> Any:
        upto = ACTIVITY.c.day <= last if inclusive else ACTIVITY.c.day < last
        return sql.exists_where(ACTIVITY.c.member_id == M.c.id, ACTIVITY.c.day >= first, upto)

    still = active(cut, sql.last_day(filters.end), inclusive=True)
    statement = (
        select(func.count(), func.count(case((~still, 1))))
        .select_from(M)
        .where(active(since, cut, inclusive=False), sql.in_scope(filters, M.c.id))
    )
    total, inactive = (await session.execute(statement)).one()
    return int(inactive or 0), int(total or 0)
