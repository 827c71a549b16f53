"""The Retention page: monthly cohorts (members who joined in a month, and how many of them
were active in each month after) and CHAOSS Inactive Contributors."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from pyroaring import BitMap

from storage.health import daysets, periods, sql
from storage.health.daysets import ONE_DAY, Kind
from storage.health.types import Cohort, Filters, Retention
from storage.session import Session


async def retention(session: Session, filters: Filters) -> Retention:
    """Both from the days' sets of active members (storage/health/daysets.py), read once."""
    kept = await daysets.scope(session, filters)
    since = sql.first_day(filters.end - filters.inactive_period)
    first = min(since, sql.first_day(filters.start).replace(day=1))
    active = await daysets.days(session, Kind.ACTIVE, first, sql.last_day(filters.end))
    inactive, active_before = _inactive(active, kept, filters)
    cohorts = await _cohorts(session, active, kept, filters)
    return Retention(cohorts, inactive, active_before)


def _next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


async def _cohorts(
    session: Session, active: Mapping[date, BitMap], kept: BitMap | None, filters: Filters
) -> list[Cohort]:
    """Cohorts from the month of `start` to the month of `end`: the members who joined in a
    month (before `end`) and, per month since, how many of them had a day of activity in it
    (up to `end`)."""
    last = sql.last_day(filters.end)
    months = periods.months(filters)
    in_month = [daysets.union(active, month, min(_next(month) - ONE_DAY, last)) for month in months]
    cohorts = []
    for k, month in enumerate(months):
        until = min(daysets.midnight(_next(month)), filters.end)
        joined = await daysets.between(session, Kind.JOINED, daysets.midnight(month), until)
        if kept is not None:
            joined &= kept
        cohorts.append(
            Cohort(month, len(joined), [joined.intersection_cardinality(a) for a in in_month[k:]])
        )
    return cohorts


def _inactive(
    active: Mapping[date, BitMap], kept: BitMap | None, filters: Filters
) -> tuple[int, int]:
    """(CHAOSS Inactive Contributors, its base): members active in the `inactive_period`
    before `end` but before its last `inactive_interval`, and of those, the ones not active
    in that interval."""
    since = sql.first_day(filters.end - filters.inactive_period)
    cut = sql.first_day(filters.end - filters.inactive_interval)
    before = daysets.union(active, since, cut - ONE_DAY)
    if kept is not None:
        before &= kept
    still = daysets.union(active, cut, sql.last_day(filters.end))
    return before.difference_cardinality(still), len(before)
