"""The health filters as people type them: `90d`, `2026-01-01`, a platform, a language.

One reader for `onramp report` and the dashboard's query string, so both accept the same
words and refuse nonsense with the same sentence. A length (`90d`, `12w`, `6m`, `1y`) counts
back from now; a date is a UTC day. Months are 30 days and years 365, so a period's length
never depends on the calendar it falls in (and its previous period is as long).

Digits of every script count (`٩٠d` is `90d`), read by the project's number reader, because a
manager types on their own keyboard. An empty value means "not given": an HTML form sends
its empty fields.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from importlib.metadata import entry_points

from bot.adapter import ENTRY_POINT_GROUP
from flows.numbers import NotANumber, whole_number
from flows.problems import did_you_mean
from storage.health.types import Filters

TEST_ONLY = {"memory"}  # the in-process adapter of tests and benchmarks, never a community's

DEFAULT_SINCE = "90d"
DEFAULT_INACTIVE_PERIOD = "180d"
DEFAULT_INACTIVE_INTERVAL = "90d"

UNIT_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}
MAX_DAYS = 100 * 365  # longer periods are typos, and their previous period would predate 1870
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9998, 12, 31)  # the day after it (an end) must still be a date
LENGTHS = "a length like 90d, 12w, 6m or 1y"
DATES = "a date like 2026-01-01"

# `\d` matches the decimal digits of every script; whole_number() then reads them.
_LENGTH = re.compile(r"(\d+)\s*([a-z])")
_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


class FilterError(ValueError):
    """A filter value nobody can use. The message is one sentence for a person; `field` (the
    parameter's name) and `value` (as typed) let a page point at the box to fix."""

    def __init__(self, field: str, value: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


def parse_filters(
    *,
    since: str | None = None,
    until: str | None = None,
    platform: str | None = None,
    locale: str | None = None,
    inactive_period: str | None = None,
    inactive_interval: str | None = None,
    now: datetime,
    platforms: Collection[str] = (),
    locales: Collection[str] = (),
) -> Filters:
    """The Filters these texts describe, or FilterError saying what is wrong.

    `since`: a length back from the end (`until`'s, else `now`) or a date (from the start of
    that UTC day); default 90d. `until`: a date, included (the period ends when the next day
    starts); default now. So `--since 90d --until 2026-03-31` is the 90 days to March 31.
    `platform`/`locale`: empty for all; checked against `platforms`/`locales` when given.
    """
    now = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    end = now if _blank(until) else _day_start(_date("until", until or "") + timedelta(days=1))
    start = _since(_given(since, DEFAULT_SINCE), end)
    if start >= end:
        field, value = ("since", since or "") if _blank(until) else ("until", until or "")
        ends = f"now ({now.date().isoformat()})" if _blank(until) else f"on {_shown(until or '')}"
        raise FilterError(
            field,
            value,
            f"The period is empty: it would start on {start.date().isoformat()} and end {ends}; "
            "give a start before the end.",
        )
    if end - start > timedelta(days=MAX_DAYS):
        raise FilterError(
            "since", since or "", "The period is longer than 100 years; give a shorter one."
        )
    period = _length("inactive_period", _given(inactive_period, DEFAULT_INACTIVE_PERIOD))
    interval = _length("inactive_interval", _given(inactive_interval, DEFAULT_INACTIVE_INTERVAL))
    if interval >= period:
        raise FilterError(
            "inactive_interval",
            inactive_interval or "",
            f"The inactivity interval ({_format_length(interval)}) must be shorter than the "
            f"period it is looked for in ({_format_length(period)}).",
        )
    return Filters(
        start=start,
        end=end,
        platform=_choice("platform", platform, platforms),
        locale=_choice("locale", locale, locales),
        inactive_period=period,
        inactive_interval=interval,
    )


def describe(filters: Filters) -> dict[str, str]:
    """The filters as strings, in a stable order: ISO instants, `all` for no platform or
    language, lengths in days (or hours below a day)."""
    return {
        "start": filters.start.isoformat(),
        "end": filters.end.isoformat(),
        "platform": filters.platform or "all",
        "locale": filters.locale or "all",
        "inactive_period": _format_length(filters.inactive_period),
        "inactive_interval": _format_length(filters.inactive_interval),
        "stalled_after": _format_length(filters.stalled_after),
        "waiting_after": _format_length(filters.waiting_after),
    }


def _blank(text: str | None) -> bool:
    return text is None or not text.strip()


def _given(text: str | None, default: str) -> str:
    return default if text is None or not text.strip() else text


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def _since(text: str, end: datetime) -> datetime:
    if _DATE.fullmatch(_normal(text)):
        return _day_start(_date("since", text))
    if _LENGTH.fullmatch(_normal(text)):
        return end - _length("since", text)
    raise FilterError(
        "since", text, f'The start "{_shown(text)}" is neither {LENGTHS} nor {DATES}.'
    )


def _length(field: str, text: str) -> timedelta:
    what = "start" if field == "since" else field.replace("_", " ")
    match = _LENGTH.fullmatch(_normal(text))
    if match is None or match[2] not in UNIT_DAYS:
        raise FilterError(field, text, f'The {what} "{_shown(text)}" is not {LENGTHS}.')
    count = whole_number(match[1], low=1, high=MAX_DAYS, strict=False)
    days = MAX_DAYS + 1 if isinstance(count, NotANumber) else count * UNIT_DAYS[match[2]]
    if days > MAX_DAYS:
        raise FilterError(
            field,
            text,
            f'The {what} "{_shown(text)}" is not between 1 day and 100 years; give {LENGTHS}.',
        )
    return timedelta(days=days)


def _date(field: str, text: str) -> date:
    what = "start" if field == "since" else "end"
    match = _DATE.fullmatch(_normal(text))
    if match is None:
        raise FilterError(field, text, f'The {what} "{_shown(text)}" is not {DATES}.')
    year, month, day = (_digits(part) for part in match.groups())
    try:
        found = date(year, month, day)
    except ValueError:
        raise FilterError(
            field, text, f'The {what} "{_shown(text)}" is not a day of the calendar; give {DATES}.'
        ) from None
    if not FIRST_DAY <= found <= LAST_DAY:
        raise FilterError(
            field,
            text,
            f'The {what} "{_shown(text)}" is not between {FIRST_DAY} and {LAST_DAY}; give {DATES}.',
        )
    return found


def _digits(text: str) -> int:
    """A few digits the patterns above matched, in any script (never more than four)."""
    number = whole_number(text, strict=False)
    return -1 if isinstance(number, NotANumber) else number


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _choice(field: str, text: str | None, known: Collection[str]) -> str | None:
    if text is None or not text.strip():
        return None
    value = text.strip()
    if not known:
        return value
    by_folded = {_folded(name): name for name in known}
    found = by_folded.get(_folded(value))
    if found is not None:
        return found
    hint = did_you_mean(value, known)
    choices = ", ".join(sorted(known))
    what = "language" if field == "locale" else "platform"
    suggestion = f" ({hint})" if hint else ""
    raise FilterError(
        field,
        text,
        f'There is no {what} "{_shown(value)}"{suggestion}; choose one of {choices}, '
        "or leave it empty for all.",
    )


def _folded(name: str) -> str:
    """`pt_BR`, `pt-br` and `PT-BR` name the same language."""
    return name.casefold().replace("_", "-")


def _shown(text: str) -> str:
    """The value as typed, made safe for one line: control characters out, and cut short."""
    clean = "".join(c for c in text if unicodedata.category(c)[0] != "C").strip()
    return clean if len(clean) <= 40 else clean[:39] + "…"


def _format_length(length: timedelta) -> str:
    if length % timedelta(days=1) == timedelta(0):
        return f"{length.days}d"
    return f"{int(length.total_seconds() // 3600)}h"


def installed_platforms() -> list[str]:
    """The platforms a community can be on here (every installed adapter), for the platform
    filter of the dashboard and `onramp report`, whichever adapters this process runs."""
    return sorted(
        entry.name for entry in entry_points(group=ENTRY_POINT_GROUP) if entry.name not in TEST_ONLY
    )
