"""`onramp report`'s numbers: every health page's figures gathered once (`build`), and written
as one JSON document or one long-format CSV file (`document`, `csv_text`); the terminal
tables are in `bot.health.report_tables`.

No names and no message text: the at-risk list is reduced to its counts. `--min-group N`
(`Threshold`) hides small groups for reports that leave the community (funders):

- every count from 1 to N-1 is written as the text `<N` (0 stays 0: nobody is no one);
- a ratio (a funnel step's conversion, a trend's change, the check-in answer rate) is left
  out (null) when either of its two counts is hidden, since with one count known it would
  give the other;
- a median or 90th percentile is left out when fewer than N durations make it;
- a retention cohort of 1 to N-1 members is left out, with all its months, and the per-mentor
  load rows are left out (each describes one mentor); their totals stay.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.health.filters import describe
from flows.content import ContentTree
from flows.schema import AskStep
from storage.health.at_risk import counts as at_risk_counts
from storage.health.campaigns import Question, Questions, campaigns
from storage.health.mentorship import mentorship
from storage.health.onboarding import onboarding
from storage.health.overview import overview
from storage.health.recognition import recognition
from storage.health.retention import retention
from storage.health.types import (
    AtRiskCounts,
    Campaigns,
    Filters,
    Mentorship,
    Onboarding,
    Overview,
    Recognition,
    Retention,
    Spread,
    Trend,
)
from storage.session import Session

OVERVIEW_METRICS = ("new_members", "onboarded", "matched", "first_contributions", "active_members")
Shown = int | str  # a count, or "<N" when --min-group hides it


@dataclass(frozen=True)
class Report:
    filters: Filters
    onboarding_flow: str
    overview: Overview
    onboarding: Onboarding
    mentorship: Mentorship
    recognition: Recognition
    retention: Retention
    campaigns: Campaigns
    at_risk: AtRiskCounts


def questions(content: ContentTree) -> Questions:
    """Every ask step of the content's flows, so survey answers show only choices and
    numbers: what a member typed is counted, never shown."""
    return {
        flow.id: {
            step.id: Question(
                choices=frozenset(choice.id for choice in step.choices or ()),
                number=step.input == "number",
            )
            for step in flow.steps
            if isinstance(step, AskStep)
        }
        for flow in content.flows.values()
    }


async def build(
    session: Session, filters: Filters, onboarding_flow: str, asks: Questions | None = None
) -> Report:
    """Every page's figures for `filters`, read in one session; `asks` from `questions()`."""
    return Report(
        filters=filters,
        onboarding_flow=onboarding_flow,
        overview=await overview(session, filters, onboarding_flow),
        onboarding=await onboarding(session, filters, onboarding_flow),
        mentorship=await mentorship(session, filters),
        recognition=await recognition(session, filters),
        retention=await retention(session, filters),
        campaigns=await campaigns(session, filters, asks),
        at_risk=await at_risk_counts(session, filters),
    )


@dataclass(frozen=True)
class Threshold:
    """`--min-group`: what a report leaving the community may show (see the module's doc).
    `None` shows everything."""

    min_group: int | None = None

    def hides(self, count: int) -> bool:
        return self.min_group is not None and 0 < count < self.min_group

    def count(self, count: int) -> Shown:
        return f"<{self.min_group}" if self.hides(count) else count

    def ratio(self, part: int, whole: int) -> float | None:
        if whole <= 0 or self.hides(part) or self.hides(whole):
            return None
        return round(part / whole, 4)

    def change(self, trend: Trend) -> float | None:
        """The change against the previous period (0.5: half as many again)."""
        ratio = self.ratio(trend.current, trend.previous)
        return None if ratio is None else round(ratio - 1, 4)

    def seconds(self, spread: Spread) -> tuple[float | None, float | None]:
        """The median and the 90th percentile, or (None, None) when too few make them."""
        if self.hides(spread.count):
            return None, None
        return spread.median, spread.p90

    def keeps_group(self, size: int) -> bool:
        return not self.hides(size)

    @property
    def shows_people(self) -> bool:
        """Whether rows about one person each (a mentor's load) are shown."""
        return self.min_group is None


def document(report: Report, threshold: Threshold) -> dict[str, Any]:
    """The report as one JSON-ready document: stable keys, numbers as numbers (a hidden count
    is the string "<N"), dates in ISO 8601, durations in seconds."""
    t = threshold
    o, m, r = report.onboarding, report.mentorship, report.recognition
    return {
        "filters": describe(report.filters) | {"min_group": t.min_group},
        "overview": {
            name: {
                "current": t.count(trend.current),
                "previous": t.count(trend.previous),
                "change": t.change(trend),
            }
            for name in OVERVIEW_METRICS
            for trend in [getattr(report.overview, name)]
        },
        "onboarding": {
            "flow": report.onboarding_flow,
            "funnel": [
                {"step": step.key, "members": t.count(step.members), "rate": rate}
                for step, rate in zip(o.funnel, funnel_rates(report, t), strict=True)
            ],
            "dropoff": [
                {
                    "flow": d.flow_id,
                    "step": d.step_id,
                    "stalled": t.count(d.stalled),
                    "median_seconds": None if t.hides(d.stalled) else d.median_seconds,
                }
                for d in o.dropoff
            ],
            "first_message": _spread(o.first_message, t),
        },
        "mentorship": {
            "requests": [_month(c.month, t.count(c.count)) for c in m.requests],
            "wait": _spread(m.wait, t),
            "offers": {status: t.count(n) for status, n in sorted(m.offers.items())},
            "mentors": t.count(len(m.load)),
            "load_active": t.count(sum(load.active for load in m.load)),
            "load_capacity": t.count(sum(load.capacity for load in m.load)),
            "load": [{"active": x.active, "capacity": x.capacity} for x in m.load]
            if t.shows_people
            else None,
            "absence_factor": t.count(m.absence_factor),
            "mentors_active": t.count(m.mentors_active),
            "checkins": {
                "asked": t.count(m.checkins_asked),
                "answered": t.count(m.checkins_answered),
                "rate": t.ratio(m.checkins_answered, m.checkins_asked),
            },
        },
        "recognition": {
            "kudos": [
                {"month": k.month.isoformat(), "category": k.category, "count": t.count(k.count)}
                for k in r.kudos
            ],
            "givers": t.count(r.givers),
            "receivers": t.count(r.receivers),
            "badges": {badge: t.count(n) for badge, n in sorted(r.badges.items())},
            "new_contributors": [_month(c.month, t.count(c.count)) for c in r.new_contributors],
        },
        "retention": {
            "cohorts": [
                {
                    "month": c.month.isoformat(),
                    "size": t.count(c.size),
                    "active": [t.count(n) for n in c.active],
                }
                for c in report.retention.cohorts
                if t.keeps_group(c.size)
            ],
            "inactive": t.count(report.retention.inactive),
            "active_before": t.count(report.retention.active_before),
        },
        "campaigns": {
            "campaigns": [
                {
                    "key": c.key,
                    "title": c.title,
                    "state": c.state,
                    "planned_at": _iso(c.planned_at),
                    "reach": t.count(c.reach),
                    "excluded": {why: t.count(n) for why, n in sorted(c.excluded.items())},
                    "by_platform": {
                        platform: {status: t.count(n) for status, n in sorted(counts.items())}
                        for platform, counts in sorted(c.by_platform.items())
                    },
                }
                for c in report.campaigns.campaigns
            ],
            "survey": [
                {
                    "flow": q.flow_id,
                    "step": q.step_id,
                    "answered": t.count(q.answered),
                    "values": {value: t.count(n) for value, n in sorted(q.values.items())},
                }
                for q in report.campaigns.survey
            ],
        },
        "at_risk": {
            "stalled": t.count(report.at_risk.stalled),
            "waiting": t.count(report.at_risk.waiting),
            "silent": t.count(report.at_risk.silent),
        },
    }


def json_text(report: Report, threshold: Threshold) -> str:
    return json.dumps(document(report, threshold), indent=2, ensure_ascii=False) + "\n"


def funnel_rates(report: Report, threshold: Threshold) -> list[float | None]:
    """Each funnel step's CHAOSS Conversion Rate, as the dashboard shows it: of the step
    before's members, the share who also reached this one (`FunnelStep.rate`), never above 1.
    Not this step's count over the one before's: members reach some steps without the one
    before (a first contribution without a mentor), and a year's report showed 466%. Hidden
    as the ratio of its two counts, those who carried on and the step before's."""
    funnel = report.onboarding.funnel
    rates: list[float | None] = [None]
    for before, step in itertools.pairwise(funnel):
        if step.rate is None:
            rates.append(None)
            continue
        carried = round(step.rate * before.members)
        rates.append(threshold.ratio(carried, before.members))
    return rates


CSV_COLUMNS = ("section", "metric", "dimension", "month", "value")
Row = tuple[str, str, str, str, Shown | float | None]


def rows(report: Report, threshold: Threshold) -> Iterator[Row]:
    """The report in long format, one figure a row, for a spreadsheet's pivot table: what it
    is (section, metric), what it is broken down by (dimension: a period, a step, a status,
    a platform, a category), the month it counts (YYYY-MM-DD, the month's first day; empty
    when it is not monthly) and the figure. The filters come first, as section `filters`."""
    doc = document(report, threshold)
    for key, value in doc["filters"].items():
        yield "filters", key, "", "", value
    for name, trend in doc["overview"].items():
        for period in ("current", "previous", "change"):
            yield "overview", name, period, "", trend[period]
    onboarding = doc["onboarding"]
    for step in onboarding["funnel"]:
        yield "onboarding", "funnel_members", step["step"], "", step["members"]
        yield "onboarding", "funnel_rate", step["step"], "", step["rate"]
    for d in onboarding["dropoff"]:
        where = f"{d['flow']}/{d['step']}"
        yield "onboarding", "dropoff_stalled", where, "", d["stalled"]
        yield "onboarding", "dropoff_median_seconds", where, "", d["median_seconds"]
    yield from _spread_rows("onboarding", "first_message", onboarding["first_message"])
    mentorship = doc["mentorship"]
    for c in mentorship["requests"]:
        yield "mentorship", "requests", "", c["month"], c["count"]
    yield from _spread_rows("mentorship", "wait", mentorship["wait"])
    for status, n in mentorship["offers"].items():
        yield "mentorship", "offers", status, "", n
    for key in ("mentors", "load_active", "load_capacity", "absence_factor", "mentors_active"):
        yield "mentorship", key, "", "", mentorship[key]
    for rank, load in enumerate(mentorship["load"] or [], start=1):
        yield "mentorship", "load_active", f"mentor {rank}", "", load["active"]
        yield "mentorship", "load_capacity", f"mentor {rank}", "", load["capacity"]
    for key, value in mentorship["checkins"].items():
        yield "mentorship", f"checkins_{key}", "", "", value
    recognition = doc["recognition"]
    for k in recognition["kudos"]:
        yield "recognition", "kudos", k["category"], k["month"], k["count"]
    yield "recognition", "givers", "", "", recognition["givers"]
    yield "recognition", "receivers", "", "", recognition["receivers"]
    for badge, n in recognition["badges"].items():
        yield "recognition", "badges", badge, "", n
    for c in recognition["new_contributors"]:
        yield "recognition", "new_contributors", "", c["month"], c["count"]
    retention = doc["retention"]
    for cohort in retention["cohorts"]:
        yield "retention", "cohort_size", "", cohort["month"], cohort["size"]
        for after, n in enumerate(cohort["active"]):
            yield "retention", "cohort_active", f"month {after}", cohort["month"], n
    yield "retention", "inactive", "", "", retention["inactive"]
    yield "retention", "active_before", "", "", retention["active_before"]
    for c in doc["campaigns"]["campaigns"]:
        yield "campaigns", "reach", c["key"], "", c["reach"]
        for why, n in c["excluded"].items():
            yield "campaigns", "excluded", f"{c['key']}/{why}", "", n
        for platform, counts in c["by_platform"].items():
            for status, n in counts.items():
                yield "campaigns", status, f"{c['key']}/{platform}", "", n
    for q in doc["campaigns"]["survey"]:
        where = f"{q['flow']}/{q['step']}"
        yield "campaigns", "survey_answered", where, "", q["answered"]
        for value, n in q["values"].items():
            yield "campaigns", "survey_value", f"{where}/{value}", "", n
    for key, n in doc["at_risk"].items():
        yield "at_risk", key, "", "", n


def csv_text(report: Report, threshold: Threshold) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows(report, threshold):
        writer.writerow((*row[:4], "" if row[4] is None else row[4]))
    return buffer.getvalue()


def _spread(spread: Spread, threshold: Threshold) -> dict[str, Shown | float | None]:
    median, p90 = threshold.seconds(spread)
    return {"count": threshold.count(spread.count), "median_seconds": median, "p90_seconds": p90}


def _spread_rows(section: str, metric: str, spread: dict[str, Any]) -> Iterator[Row]:
    for key, value in spread.items():
        yield section, f"{metric}_{key}", "", "", value


def _month(month: date, count: Shown) -> dict[str, Shown]:
    return {"month": month.isoformat(), "count": count}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
