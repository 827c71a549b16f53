"""The filters' period in SQL and in months: the condition keeping timestamps inside it, and
monthly counts laid out over every month it touches (a month with nothing in it shows as 0,
so a chart's axis never skips one)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_
from sqlalchemy.sql.elements import ColumnElement

from storage.health.sql import first_of_month
from storage.health.types import Filters, MonthCount


def during(column: Any, filters: Filters) -> ColumnElement[bool]:
    """`start <= column < end`."""
    return and_(column >= filters.start, column < filters.end)


def months(filters: Filters) -> list[date]:
    """The first day of every month from the one holding `start` to the one holding the
    period's last instant (`end` is exclusive)."""
    first = filters.start.date().replace(day=1)
    last = (filters.end - timedelta(microseconds=1)).date().replace(day=1)
    found: list[date] = []
    while first <= last:
        found.append(first)
        first = (first + timedelta(days=32)).replace(day=1)
    return found


def every_month(filters: Filters, counts: Iterable[tuple[str, int]]) -> list[MonthCount]:
    """('YYYY-MM', n) rows from a GROUP BY on `sql.month`, as one MonthCount per month of the
    period, 0 where there were none."""
    found: Mapping[date, int] = {first_of_month(text): int(n) for text, n in counts}
    return [MonthCount(first, found.get(first, 0)) for first in months(filters)]
