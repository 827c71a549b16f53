"""The filter form's values, read from a page's query string with bot.health.filters.

A value nobody can use never stops a page: it is dropped (its default is used) and the page
says which and why, for each one, until what is left can be used."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.health.filters import FilterError, parse_filters
from storage.health.types import Filters

FIELDS = ("since", "until", "platform", "locale")
RETENTION_FIELDS = ("inactive_period", "inactive_interval")


@dataclass(frozen=True)
class FilterForm:
    filters: Filters
    given: dict[str, str]  # what the form shows again: the values used, as typed
    problems: list[FilterError]


def read_filters(
    query: Mapping[str, str],
    now: datetime,
    *,
    retention: bool,
    platforms: Collection[str],
    locales: Collection[str],
) -> FilterForm:
    names = FIELDS + RETENTION_FIELDS if retention else FIELDS
    given = {name: query.get(name, "")[:100] for name in names}
    problems: list[FilterError] = []
    for _ in range(len(names) + 1):
        try:
            filters = parse_filters(
                **{name: value or None for name, value in given.items()},
                now=now,
                platforms=platforms,
                locales=locales,
            )
        except FilterError as error:
            problems.append(error)
            if not given.get(error.field):
                break  # a default itself is refused: nothing more to drop
            given[error.field] = ""
            continue
        return FilterForm(filters, given, problems)
    return FilterForm(parse_filters(now=now), dict.fromkeys(names, ""), problems)
