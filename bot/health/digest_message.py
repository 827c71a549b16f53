"""What the weekly digest says: the week's numbers against the week before, who needs a
manager's attention (the first few of each kind by name, then how many more), and the link
to the dashboard. In the manager's language, dates on their calendar. No member's message
text: the numbers are counts, the at-risk list is names only.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import UnknownLocaleError
from babel.numbers import format_decimal

from bot.turn import Turn
from flows.markup import Markdown, escape
from storage.health.at_risk import at_risk
from storage.health.overview import overview
from storage.health.types import AtRisk, Filters, Trend

WEEK = timedelta(days=7)
SHOWN = 3  # names of each kind in the message; the rest are counted


async def compose(turn: Turn, now: datetime, link: str | None) -> str:
    """The digest of the week that ends `now`, as the manager of `turn` reads it; `link`:
    the dashboard's address, when it is served."""
    filters = Filters(now - WEEK, now)
    numbers = await overview(turn.session, filters, turn.content.community.onboarding_flow)
    risk = await at_risk(turn.session, filters, limit=SHOWN)
    start, end = _local_days(turn, filters.start, filters.end)
    lines = [
        turn.system_text("digest_heading", start=start, end=end),
        "",
        _figure(turn, "digest_new_members", numbers.new_members),
        _figure(turn, "digest_onboarded", numbers.onboarded),
        _figure(turn, "digest_matched", numbers.matched),
        _figure(turn, "digest_first_contributions", numbers.first_contributions),
        _figure(turn, "digest_active_members", numbers.active_members),
        "",
        *_at_risk(turn, risk),
    ]
    if link is not None:
        lines += ["", turn.system_text("digest_link", link=Markdown(f"<{link}>"))]
    return "\n".join(lines)


def _figure(turn: Turn, label_key: str, trend: Trend) -> str:
    arrow = (
        "▲" if trend.current > trend.previous else "▼" if trend.current < trend.previous else "="
    )
    return turn.system_text(
        "digest_figure",
        label=turn.system_text(label_key),
        current=_number(turn, trend.current),
        previous=_number(turn, trend.previous),
        trend=arrow,
    )


def _at_risk(turn: Turn, risk: AtRisk) -> list[str]:
    stalled = [_name(turn, row.name) for row in risk.stalled]
    waiting = [_name(turn, row.name) for row in risk.waiting]
    silent = [f"{_name(turn, row.newcomer)} & {_name(turn, row.mentor)}" for row in risk.silent]
    if not (stalled or waiting or silent):
        return [turn.system_text("digest_at_risk_none")]
    lines = [turn.system_text("digest_at_risk")]
    total = risk.counts
    if stalled:
        lines.append(turn.system_text("digest_stalled", names=_names(turn, stalled, total.stalled)))
    if waiting:
        lines.append(turn.system_text("digest_waiting", names=_names(turn, waiting, total.waiting)))
    if silent:
        lines.append(turn.system_text("digest_silent", names=_names(turn, silent, total.silent)))
    return lines


def _name(turn: Turn, name: str) -> str:
    return name or turn.system_text("someone")


def _names(turn: Turn, names: list[str], total: int) -> Markdown:
    """The first few names (member text, escaped), then "and N more" (of `total`) in the
    manager's language."""
    shown = escape(", ".join(names[:SHOWN]))
    more = total - len(names[:SHOWN])
    if more <= 0:
        return shown
    return Markdown(f"{shown} {turn.system_text('digest_and_more', more)}")


def _number(turn: Turn, value: int) -> str:
    try:
        return format_decimal(value, locale=turn.locale)
    except (UnknownLocaleError, ValueError):
        return str(value)


def _local_days(turn: Turn, start: datetime, end: datetime) -> tuple[date, date]:
    """The first and last day of the week on the manager's calendar."""
    try:
        zone = ZoneInfo(turn.member.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return start.astimezone(zone).date(), (end - timedelta(microseconds=1)).astimezone(zone).date()
