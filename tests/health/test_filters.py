"""The health filters as typed: lengths and dates into a UTC period, platform and language
checked against what exists, and one plain sentence for every nonsense value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.health.filters import DEFAULT_SINCE, FilterError, describe, parse_filters
from storage.health.types import Filters
from tests.clock import START

NOW = START  # 2026-03-02 10:00 UTC
PLATFORMS = ("console", "slack", "telegram", "whatsapp", "zulip")
LOCALES = ("ar", "en", "es", "fr", "pt", "sw")


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def test_the_default_is_the_last_90_days_up_to_now_everywhere() -> None:
    filters = parse_filters(now=NOW)
    assert DEFAULT_SINCE == "90d"
    assert filters == Filters(start=NOW - timedelta(days=90), end=NOW)
    assert filters.platform is None and filters.locale is None
    assert filters.inactive_period == timedelta(days=180)
    assert filters.inactive_interval == timedelta(days=90)


@pytest.mark.parametrize(
    ("since", "days"),
    [("90d", 90), ("12w", 84), ("6m", 180), ("1y", 365), (" 30D ", 30), ("7 d", 7)],
)
def test_a_length_counts_back_from_now(since: str, days: int) -> None:
    assert parse_filters(since=since, now=NOW).start == NOW - timedelta(days=days)


def test_a_date_starts_at_the_beginning_of_that_utc_day() -> None:
    assert parse_filters(since="2026-01-01", now=NOW).start == at(2026, 1, 1)


def test_until_includes_its_day() -> None:
    filters = parse_filters(since="2026-01-01", until="2026-01-31", now=NOW)
    assert (filters.start, filters.end) == (at(2026, 1, 1), at(2026, 2, 1))
    # The previous period, for trends, is as long and just before.
    assert (filters.previous.start, filters.previous.end) == (at(2025, 12, 1), at(2026, 1, 1))


def test_a_length_counts_back_from_until_when_it_is_given() -> None:
    """`--since 90d --until 2026-03-31` is the 90 days to March 31, whatever the date today
    (it was 90 days back from today, so a past quarter came out empty or too long)."""
    filters = parse_filters(since="90d", until="2026-03-31", now=NOW + timedelta(days=200))
    assert (filters.start, filters.end) == (at(2026, 1, 1), at(2026, 4, 1))
    assert parse_filters(since="90d", now=NOW).start == NOW - timedelta(days=90)  # no until


@pytest.mark.parametrize("blank", ["", "   "])
def test_an_empty_field_is_not_given(blank: str) -> None:
    # An HTML form sends its empty boxes; they mean the default, not an error.
    filters = parse_filters(
        since=blank,
        until=blank,
        platform=blank,
        locale=blank,
        inactive_period=blank,
        inactive_interval=blank,
        now=NOW,
        platforms=PLATFORMS,
        locales=LOCALES,
    )
    assert filters == parse_filters(now=NOW)


@pytest.mark.parametrize(
    ("typed", "days"),
    [("٩٠d", 90), ("९०d", 90), ("９０ｄ", 90), ("१२w", 84)],
)
def test_digits_of_every_script_count(typed: str, days: int) -> None:
    assert parse_filters(since=typed, now=NOW).start == NOW - timedelta(days=days)


def test_a_date_in_arabic_indic_digits() -> None:
    assert parse_filters(since="٢٠٢٦-٠١-٠١", now=NOW).start == at(2026, 1, 1)


def test_a_naive_now_is_taken_as_utc() -> None:
    naive = NOW.replace(tzinfo=None)
    assert parse_filters(now=naive) == parse_filters(now=NOW)


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        (
            {"since": "90x"},
            "since",
            'The start "90x" is not a length like 90d, 12w, 6m or 1y.',
        ),
        (
            {"since": "-5d"},
            "since",
            'The start "-5d" is neither a length like 90d, 12w, 6m or 1y '
            "nor a date like 2026-01-01.",
        ),
        (
            {"since": "ninety days"},
            "since",
            'The start "ninety days" is neither a length like 90d, 12w, 6m or 1y '
            "nor a date like 2026-01-01.",
        ),
        (
            {"since": "0d"},
            "since",
            'The start "0d" is not between 1 day and 100 years; '
            "give a length like 90d, 12w, 6m or 1y.",
        ),
        (
            {"since": "101y"},
            "since",
            'The start "101y" is not between 1 day and 100 years; '
            "give a length like 90d, 12w, 6m or 1y.",
        ),
        (
            {"since": "2026-02-30"},
            "since",
            'The start "2026-02-30" is not a day of the calendar; give a date like 2026-01-01.',
        ),
        (
            {"until": "2026-13-01"},
            "until",
            'The end "2026-13-01" is not a day of the calendar; give a date like 2026-01-01.',
        ),
        (
            {"until": "90d"},
            "until",
            'The end "90d" is not a date like 2026-01-01.',
        ),
        (
            {"since": "1969-12-31"},
            "since",
            'The start "1969-12-31" is not between 1970-01-01 and 9998-12-31; '
            "give a date like 2026-01-01.",
        ),
        (
            {"since": "2026-02-01", "until": "2026-01-01"},
            "until",
            "The period is empty: it would start on 2026-02-01 and end on 2026-01-01; "
            "give a start before the end.",
        ),
        (
            {"since": "2027-01-01"},
            "since",
            "The period is empty: it would start on 2027-01-01 and end now (2026-03-02); "
            "give a start before the end.",
        ),
        (
            {"since": "1970-01-01", "until": "2080-01-01"},
            "since",
            "The period is longer than 100 years; give a shorter one.",
        ),
        (
            {"inactive_interval": "200d"},
            "inactive_interval",
            "The inactivity interval (200d) must be shorter than the period it is looked "
            "for in (180d).",
        ),
        (
            {"inactive_period": "forever"},
            "inactive_period",
            'The inactive period "forever" is not a length like 90d, 12w, 6m or 1y.',
        ),
        (
            {"platform": "slak"},
            "platform",
            "There is no platform \"slak\" (did you mean 'slack'?); choose one of console, "
            "slack, telegram, whatsapp, zulip, or leave it empty for all.",
        ),
        (
            {"platform": "irc"},
            "platform",
            'There is no platform "irc"; choose one of console, slack, telegram, whatsapp, '
            "zulip, or leave it empty for all.",
        ),
        (
            {"locale": "frr"},
            "locale",
            "There is no language \"frr\" (did you mean 'fr'?); choose one of ar, en, es, fr, "
            "pt, sw, or leave it empty for all.",
        ),
    ],
)
def test_nonsense_is_refused_in_one_sentence(
    kwargs: dict[str, str], field: str, message: str
) -> None:
    with pytest.raises(FilterError) as refused:
        parse_filters(**kwargs, now=NOW, platforms=PLATFORMS, locales=LOCALES)
    assert refused.value.field == field
    assert str(refused.value) == message
    assert isinstance(refused.value, ValueError)


@pytest.mark.parametrize("huge", ["9" * 30 + "d", "9" * 5000 + "y", "99999999999w", "٩" * 40 + "d"])
def test_huge_numbers_are_refused_quickly(huge: str) -> None:
    with pytest.raises(FilterError, match="between 1 day and 100 years"):
        parse_filters(since=huge, now=NOW)


def test_a_long_or_odd_value_is_shown_on_one_short_line() -> None:
    with pytest.raises(FilterError) as refused:
        parse_filters(since="x" * 500 + "\n\x1b[31m", now=NOW)
    message = str(refused.value)
    assert "\n" not in message and "\x1b" not in message
    assert len(message) < 160


def test_platform_and_language_keep_their_known_spelling() -> None:
    filters = parse_filters(
        platform=" Slack ", locale="PT_br", now=NOW, platforms=PLATFORMS, locales=["pt-BR", "en"]
    )
    assert (filters.platform, filters.locale) == ("slack", "pt-BR")


def test_without_known_names_any_platform_and_language_is_taken() -> None:
    filters = parse_filters(platform="matrix", locale="de", now=NOW)
    assert (filters.platform, filters.locale) == ("matrix", "de")


def test_describe_gives_stable_strings() -> None:
    filters = parse_filters(
        since="2026-01-01",
        until="2026-01-31",
        platform="slack",
        inactive_period="26w",
        inactive_interval="4w",
        now=NOW,
        platforms=PLATFORMS,
    )
    assert describe(filters) == {
        "start": "2026-01-01T00:00:00+00:00",
        "end": "2026-02-01T00:00:00+00:00",
        "platform": "slack",
        "locale": "all",
        "inactive_period": "182d",
        "inactive_interval": "28d",
        "stalled_after": "7d",
        "waiting_after": "2d",
    }
    assert describe(parse_filters(now=NOW))["platform"] == "all"


def test_describe_shows_hours_below_a_day() -> None:
    filters = Filters(start=NOW - timedelta(days=1), end=NOW, waiting_after=timedelta(hours=36))
    assert describe(filters)["waiting_after"] == "36h"


@given(st.text(max_size=60))
def test_any_text_is_a_period_or_a_filter_error(text: str) -> None:
    for field in ("since", "until", "inactive_period", "inactive_interval"):
        try:
            filters = parse_filters(**{field: text}, now=NOW)
        except FilterError as refused:
            assert str(refused) and "\n" not in str(refused)
        else:
            assert filters.start < filters.end
            assert filters.previous.start < filters.start
