"""`onramp report` in a terminal: one rich table per dashboard page, read from the same
document as the JSON (so `--min-group` hides the same figures everywhere)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from babel.dates import format_timedelta
from rich import box
from rich.console import Console, Group, RenderableType
from rich.text import Text

from bot.health.report import Report, Threshold, document
from bot.plain_table import PlainTable

ABSENCE_WARNING = 2  # the issue: "below two or three the project is in danger"
OVERVIEW_LABELS = {
    "new_members": "New members (CHAOSS New Contributors)",
    "onboarded": "Finished onboarding",
    "matched": "Mentorships started",
    "first_contributions": "First contributions (first kudos received)",
    "active_members": "Active members",
}
FUNNEL_LABELS = {
    "joined": "Joined",
    "consented": "Consented",
    "onboarded": "Finished onboarding",
    "asked_mentor": "Asked for a mentor",
    "matched": "Matched with a mentor",
    "first_contribution": "First contribution",
    "retained": "Retained (active 2 of the 4 weeks after)",
}


def render(report: Report, threshold: Threshold, console: Console) -> None:
    doc = document(report, threshold)
    filters = doc["filters"]
    console.print(
        Text(
            f"Community health from {_moment(filters['start'])} to {_moment(filters['end'])} "
            f"(end excluded); platform: {filters['platform']}; language: {filters['locale']}",
            style="bold",
        )
    )
    if not any(trend["current"] or trend["previous"] for trend in doc["overview"].values()):
        console.print(Text("Nothing was recorded in this period or the one before.", style="dim"))
    for page in (_overview, _onboarding, _mentorship, _recognition, _retention, _campaigns):
        console.print()
        console.print(page(doc))
    console.print()
    console.print(_at_risk(doc))


def _table(title: str, *columns: str, caption: str | None = None) -> PlainTable:
    """A table whose title and note are lines of their own: a narrow table would wrap them."""
    table = PlainTable(box=box.SIMPLE_HEAD)
    table.title = title
    table.caption = caption
    table.add_column(columns[0])
    for column in columns[1:]:
        table.add_column(column, justify="right", no_wrap=True)
    return table


def _page(table: PlainTable) -> Group:
    title, note = str(table.title or ""), table.caption
    table.title = table.caption = None
    parts: list[RenderableType] = [Text(title, style="bold"), table]
    if note:
        parts.append(Text(str(note), style="dim"))
    return Group(*parts)


def _moment(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


def _overview(doc: dict[str, Any]) -> RenderableType:
    table = _table(
        "Overview",
        "",
        "This period",
        "Previous period",
        "Change",
        caption="The previous period is as long, just before this one.",
    )
    for key, label in OVERVIEW_LABELS.items():
        trend = doc["overview"][key]
        table.add_row(
            label,
            _n(trend["current"]),
            _n(trend["previous"]),
            _change(trend["change"]),
        )
    return _page(table)


def _onboarding(doc: dict[str, Any]) -> RenderableType:
    onboarding = doc["onboarding"]
    funnel = _table(
        f"Onboarding funnel (flow {onboarding['flow']})",
        "Step",
        "Members",
        "Conversion",
        caption="Of the members who joined in the period; conversion: the share of the step "
        "before's members who also reached this one (CHAOSS Conversion Rate).",
    )
    for step in onboarding["funnel"]:
        funnel.add_row(
            FUNNEL_LABELS.get(step["step"], step["step"]), _n(step["members"]), _pct(step["rate"])
        )
    dropoff = _table("Where stalled members stopped", "Flow / step", "Stalled", "Median time")
    for d in onboarding["dropoff"]:
        dropoff.add_row(f"{d['flow']} / {d['step']}", _n(d["stalled"]), _time(d["median_seconds"]))
    if not onboarding["dropoff"]:
        dropoff.add_row("(no stalled member)", "", "")
    first = onboarding["first_message"]
    line = Text(
        f"Joining → the bot's first message: {_n(first['count'])} member(s), "
        f"median {_time(first['median_seconds'])}, p90 {_time(first['p90_seconds'])}"
    )
    return Group(_page(funnel), Text(), _page(dropoff), line)


def _mentorship(doc: dict[str, Any]) -> RenderableType:
    m = doc["mentorship"]
    table = _table("Mentorship", "", "Value")
    for c in m["requests"]:
        table.add_row(f"Mentor requests, {c['month'][:7]}", _n(c["count"]))
    wait = m["wait"]
    table.add_row(
        "Wait for a mentor, median / p90 (CHAOSS Time to First Response)",
        f"{_time(wait['median_seconds'])} / {_time(wait['p90_seconds'])}",
    )
    for status, n in m["offers"].items():
        table.add_row(f"Offers {status}", _n(n))
    table.add_row("Mentors", _n(m["mentors"]))
    table.add_row(
        "Active mentorships / capacity", f"{_n(m['load_active'])} / {_n(m['load_capacity'])}"
    )
    factor = m["absence_factor"]
    warning = isinstance(factor, int) and 0 < factor <= ABSENCE_WARNING
    table.add_row(
        "Mentor Absence Factor (CHAOSS Contributor Absence Factor)",
        Text(
            _n(factor) + (" — few mentors carry the mentoring" if warning else ""),
            style="bold red" if warning else "",
        ),
    )
    table.add_row("Mentors with a mentorship in the period", _n(m["mentors_active"]))
    checkins = m["checkins"]
    table.add_row(
        "Check-ins answered / asked",
        f"{_n(checkins['answered'])} / {_n(checkins['asked'])} ({_pct(checkins['rate'])})",
    )
    return _page(table)


def _recognition(doc: dict[str, Any]) -> RenderableType:
    r = doc["recognition"]
    months = sorted({k["month"] for k in r["kudos"]})
    table = _table("Recognition: kudos per kind of contribution", "Kind", *(m[:7] for m in months))
    cells: dict[str, dict[str, Any]] = {}
    for k in r["kudos"]:
        cells.setdefault(k["category"], {})[k["month"]] = k["count"]
    for category, by_month in sorted(cells.items()):
        table.add_row(category, *(_n(by_month.get(m, 0)) for m in months))
    if not cells:
        table.add_row("(no kudos)")
    table.caption = (
        f"Givers {_n(r['givers'])}, receivers {_n(r['receivers'])}; badges: "
        + (", ".join(f"{b} {_n(n)}" for b, n in r["badges"].items()) or "none")
        + "; New Contributors (CHAOSS) per month: "
        + (", ".join(f"{c['month'][:7]} {_n(c['count'])}" for c in r["new_contributors"]) or "none")
    )
    return _page(table)


def _retention(doc: dict[str, Any]) -> RenderableType:
    retention = doc["retention"]
    cohorts = retention["cohorts"]
    width = max((len(c["active"]) for c in cohorts), default=0)
    table = _table(
        "Retention: members active in each month after joining",
        "Joined in",
        "Members",
        *(f"+{k}" for k in range(width)),
        caption=f"Inactive Contributors (CHAOSS, period {doc['filters']['inactive_period']}, "
        f"interval {doc['filters']['inactive_interval']}): {_n(retention['inactive'])} of "
        f"{_n(retention['active_before'])} active before.",
    )
    for c in cohorts:
        table.add_row(c["month"][:7], _n(c["size"]), *(_n(n) for n in c["active"]))
    if not cohorts:
        table.add_row("(no cohort)", "")
    return _page(table)


def _campaigns(doc: dict[str, Any]) -> RenderableType:
    campaigns = _table("Campaigns", "Campaign", "State", "Reach", "Excluded", "Sent by platform")
    for c in doc["campaigns"]["campaigns"]:
        excluded = ", ".join(f"{why} {_n(n)}" for why, n in c["excluded"].items())
        sent = "; ".join(
            f"{platform}: " + ", ".join(f"{status} {_n(n)}" for status, n in counts.items())
            for platform, counts in c["by_platform"].items()
        )
        campaigns.add_row(c["title"] or c["key"], c["state"], _n(c["reach"]), excluded, sent)
    if not doc["campaigns"]["campaigns"]:
        campaigns.add_row("(no campaign)", "", "", "", "")
    survey = _table("Survey answers", "Flow / question", "Answered", "Answers")
    for q in doc["campaigns"]["survey"]:
        values = ", ".join(f"{value}: {_n(n)}" for value, n in q["values"].items())
        survey.add_row(f"{q['flow']} / {q['step']}", _n(q["answered"]), values)
    if not doc["campaigns"]["survey"]:
        return _page(campaigns)
    return Group(_page(campaigns), Text(), _page(survey))


def _at_risk(doc: dict[str, Any]) -> RenderableType:
    risks = doc["at_risk"]
    filters = doc["filters"]
    table = _table(
        "At risk (the names are on the dashboard, for managers)",
        "",
        "Count",
    )
    table.add_row(
        f"Newcomers stalled for more than {filters['stalled_after']}", _n(risks["stalled"])
    )
    table.add_row(
        f"Mentor requests waiting more than {filters['waiting_after']}", _n(risks["waiting"])
    )
    table.add_row("Mentorships with unanswered check-ins", _n(risks["silent"]))
    return _page(table)


def _n(value: int | str | None) -> str:
    if value is None:
        return "–"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _pct(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.0%}"


def _change(change: float | None) -> str:
    return "–" if change is None else f"{change:+.0%}"


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    # One way for every length: "45 sec", "61 sec", "2 min" (Babel's; a minute and a half
    # before it says minutes), not "45 s" beside "61 sec".
    return format_timedelta(timedelta(seconds=seconds), locale="en", format="short", threshold=1.5)
