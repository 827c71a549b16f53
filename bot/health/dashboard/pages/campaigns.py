"""Campaigns: reach, who was left out and why, delivery per platform, and survey answers
counted per choice (typed answers are counted, never shown)."""

from __future__ import annotations

from collections import Counter

from bot.health.dashboard import charts
from bot.health.dashboard.sections import Cell, Page, Section, Table, View
from storage.health.types import Campaigns

# Recipient statuses in the order a message goes through them.
STATUS_ORDER = (
    "planned",
    "queued",
    "sent",
    "delivered",
    "read",
    "failed",
    "cancelled",
    "expired",
    "excluded",
)


def build(data: Campaigns, view: View) -> Page:
    number, no_data = view.formats.number, view.t("no_data")
    reach = Section(
        "reach",
        view.t("campaigns_title"),
        view.t("campaigns_about"),
        Table(
            [
                view.t("col_campaign"),
                view.t("col_state"),
                view.t("col_planned"),
                view.t("col_reach"),
            ],
            [
                [
                    Cell(c.title, c.key),
                    Cell(view.label("state", c.state), c.state),
                    view.moment(c.planned_at) if c.planned_at else Cell("–", None),
                    view.count(c.reach),
                ]
                for c in data.campaigns
            ],
        ),
        charts.bars(
            view.t("campaigns_title"),
            [c.title for c in data.campaigns],
            [(view.t("col_reach"), [c.reach for c in data.campaigns])] if data.campaigns else [],
            number,
            no_data,
        ),
    )
    reasons: Counter[str] = Counter()
    for campaign in data.campaigns:
        reasons.update(campaign.excluded)
    ranked = reasons.most_common()
    exclusions = Section(
        "exclusions",
        view.t("exclusions_title"),
        view.t("exclusions_about"),
        Table(
            [view.t("col_reason"), view.t("col_excluded")],
            [[Cell(view.label("reason", key), key), view.count(n)] for key, n in ranked],
        ),
        charts.bars(
            view.t("exclusions_title"),
            [view.label("reason", key) for key, _ in ranked],
            [(view.t("col_excluded"), [n for _, n in ranked])] if ranked else [],
            number,
            no_data,
        ),
    )
    per_platform: dict[str, Counter[str]] = {}
    for campaign in data.campaigns:
        for platform, statuses in campaign.by_platform.items():
            per_platform.setdefault(platform, Counter()).update(statuses)
    platforms = sorted(per_platform)
    seen = {status for counts in per_platform.values() for status in counts}
    columns = [s for s in STATUS_ORDER if s in seen] + sorted(seen - set(STATUS_ORDER))
    delivery = Section(
        "delivery",
        view.t("delivery_title"),
        view.t("delivery_about"),
        Table(
            [view.t("col_platform")] + [view.label("status", s) for s in columns],
            [
                [Cell(p)] + [view.count(per_platform[p].get(s, 0)) for s in columns]
                for p in platforms
            ],
        ),
        charts.stacked(
            view.t("delivery_title"),
            platforms,
            [
                (view.label("status", s), [per_platform[p].get(s, 0) for p in platforms])
                for s in columns
            ],
            number,
            no_data,
        ),
    )
    rows: list[list[Cell]] = []
    for question in data.survey:
        name = Cell(
            f"{question.flow_id} · {question.step_id}", f"{question.flow_id}.{question.step_id}"
        )
        rows.append([name, Cell("", None), view.count(question.answered)])
        typed = question.answered - sum(question.values.values())
        for value, n in sorted(question.values.items(), key=lambda item: (-item[1], item[0])):
            rows.append([name, Cell(value), view.count(n)])
        if typed > 0:
            rows.append([name, Cell(view.t("typed_answers"), "(typed)"), view.count(typed)])
    survey = Section(
        "survey",
        view.t("survey_title"),
        view.t("survey_about"),
        Table([view.t("col_question"), view.t("col_answer"), view.t("col_answers")], rows),
    )
    return Page([reach, exclusions, delivery, survey])
