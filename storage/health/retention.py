"""The Retention page: monthly cohorts (members who joined in a month, and how many of them
were active in each month after) and CHAOSS Inactive Contributors."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import case, exists, func, select

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
    sizes = select(joined_month, func.count()).where(*joined).group_by(joined_month)
    size = {sql.first_of_month(m): int(n) for m, n in await session.execute(sizes)}
    active_month = sql.month(ACTIVITY.c.day, dialect)
    actives = (
        select(joined_month, active_month, func.count(func.distinct(M.c.id)))
        .select_from(M.join(ACTIVITY, ACTIVITY.c.member_id == M.c.id))
        .where(*joined, ACTIVITY.c.day <= sql.last_day(filters.end))
        .group_by(joined_month, active_month)
    )
    active: dict[tuple[date, date], int] = {}
    for cohort, month, count in await session.execute(actives):
        active[(sql.first_of_month(cohort), sql.first_of_month(month))] = int(count)
    return [
        Cohort(month, size.get(month, 0), [active.get((month, m), 0) for m in months[k:]])
        for k, month in enumerate(months)
    ]


async def _inactive(session: Session, filters: Filters) -> tuple[int, int]:
    """(CHAOSS Inactive Contributors, its base): members active in the `inactive_period`
    before `end` but before its last `inactive_interval`, and of those, the ones not active
    in that interval."""
    since = sql.first_day(filters.end - filters.inactive_period)
    cut = sql.first_day(filters.end - filters.inactive_interval)
    before = (
        select(ACTIVITY.c.member_id)
        .where(
            ACTIVITY.c.day >= since,
            ACTIVITY.c.day < cut,
            sql.in_scope(filters, ACTIVITY.c.member_id),
        )
        .distinct()
        .subquery("before")
    )
    later = ACTIVITY.alias("later")
    still = exists().where(
        later.c.member_id == before.c.member_id,
        later.c.day >= cut,
        later.c.day <= sql.last_day(filters.end),
    )
    statement = select(func.count(), func.count(case((~still, 1)))).select_from(before)
    total, inactive = (await session.execute(statement)).one()
    return int(inactive or 0), int(total or 0)
