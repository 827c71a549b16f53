"""Numbers, shares, durations, dates and months as a reader writes them (Babel), in their
language and their time zone. Storage keeps UTC; only what is shown is converted."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_skeleton, format_timedelta
from babel.numbers import format_decimal, format_percent


def babel_locale(code: str | None, default: str) -> Locale:
    for candidate in (code, default, "en"):
        if candidate:
            try:
                return Locale.parse(candidate.replace("-", "_"))
            except (UnknownLocaleError, ValueError):
                continue
    return Locale("en")


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


class Formats:
    """How one reader sees values."""

    def __init__(self, locale: Locale, timezone: ZoneInfo) -> None:
        self.locale = locale
        self.timezone = timezone
        # Whole numbers already written: a page's tables repeat the same few (a thousand
        # mentors' loads are 0 to 40), and Babel takes tens of microseconds for each.
        self._numbers: dict[int, str] = {}

    @property
    def rtl(self) -> bool:
        return bool(self.locale.character_order == "right-to-left")

    @property
    def lang(self) -> str:
        return str(self.locale).replace("_", "-")

    def number(self, value: float | None) -> str:
        if value is None:
            return "–"
        if type(value) is not int:
            return format_decimal(value, locale=self.locale)
        shown = self._numbers.get(value)
        if shown is None:
            shown = self._numbers[value] = format_decimal(value, locale=self.locale)
        return shown

    def share(self, value: float | None) -> str:
        return "–" if value is None else format_percent(value, locale=self.locale)

    def duration(self, seconds: float | None) -> str:
        if seconds is None:
            return "–"
        return format_timedelta(
            timedelta(seconds=seconds), threshold=1.5, format="short", locale=self.locale
        )

    def length(self, length: timedelta) -> str:
        """A filter's length, in words: `180 days`, `48 hours`."""
        unit: Literal["day", "hour"] = (
            "day" if length % timedelta(days=1) == timedelta(0) else "hour"
        )
        return format_timedelta(length, granularity=unit, threshold=10_000, locale=self.locale)

    def local(self, moment: datetime) -> datetime:
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return aware.astimezone(self.timezone)

    def day(self, moment: datetime | date) -> str:
        shown = self.local(moment) if isinstance(moment, datetime) else moment
        return format_date(shown, format="medium", locale=self.locale)

    def moment(self, moment: datetime) -> str:
        return format_datetime(self.local(moment), format="medium", locale=self.locale)

    def month(self, first_day: date) -> str:
        return format_skeleton("yMMM", first_day, locale=self.locale)

    def zone_name(self) -> str:
        return str(self.timezone.key)
