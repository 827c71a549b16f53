"""At risk: newcomers stalled in onboarding, mentor requests left waiting, mentorships whose
check-ins go unanswered, each with what a manager can do next. The one page with names."""

from __future__ import annotations

from bot.health.dashboard.sections import Cell, Page, Section, Table, View
from storage.health.types import AtRisk


def build(data: AtRisk, view: View) -> Page:
    filters = view.filters

    def first_of(shown: int, total: int) -> str | None:
        """Said under a list cut short: how many it shows of how many there are."""
        if shown >= total:
            return None
        return view.t(
            "first_of", shown=view.formats.number(shown), total=view.formats.number(total)
        )

    stalled = Section(
        "stalled",
        view.t("stalled_title"),
        view.t("stalled_about", duration=view.length(filters.stalled_after)),
        Table(
            [
                view.t("col_name"),
                view.t("col_platform"),
                view.t("col_flow"),
                view.t("col_flow_step"),
                view.t("col_since"),
            ],
            [
                [
                    Cell(row.name),
                    Cell(row.platform),
                    Cell(row.flow_id),
                    Cell(row.step_id or "–", row.step_id),
                    view.moment(row.since),
                ]
                for row in data.stalled
            ],
        ),
        action=view.t("stalled_action"),
        note=first_of(len(data.stalled), data.counts.stalled),
    )
    waiting = Section(
        "waiting",
        view.t("waiting_title"),
        view.t("waiting_about", duration=view.length(filters.waiting_after)),
        Table(
            [view.t("col_name"), view.t("col_platform"), view.t("col_requested")],
            [
                [Cell(row.name), Cell(row.platform), view.moment(row.requested_at)]
                for row in data.waiting
            ],
        ),
        action=view.t("waiting_action"),
        note=first_of(len(data.waiting), data.counts.waiting),
    )
    silent = Section(
        "silent",
        view.t("silent_title"),
        view.t("silent_about"),
        Table(
            [
                view.t("col_newcomer"),
                view.t("col_mentor"),
                view.t("col_unanswered"),
                view.t("col_last_asked"),
            ],
            [
                [
                    Cell(row.newcomer),
                    Cell(row.mentor),
                    view.count(row.unanswered),
                    view.moment(row.last_asked_at),
                ]
                for row in data.silent
            ],
        ),
        action=view.t("silent_action"),
        note=first_of(len(data.silent), data.counts.silent),
    )
    return Page([stalled, waiting, silent], notice=view.t("at_risk_notice"))
