"""Retention: the monthly cohort grid as a heat-map table, and CHAOSS Inactive Contributors
with its period and interval."""

from __future__ import annotations

from bot.health.dashboard import charts
from bot.health.dashboard.sections import Cell, Page, Section, Table, View
from storage.health.types import Retention


def build(data: Retention, view: View) -> Page:
    number = view.formats.number
    width = max((len(cohort.active) for cohort in data.cohorts), default=0)
    headers = [view.t("col_cohort"), view.t("col_size")] + [
        view.t("month_after", number=number(k)) for k in range(width)
    ]
    rows = []
    for cohort in data.cohorts:
        row = [view.month(cohort.month), view.count(cohort.size)]
        for active in cohort.active:
            share = active / cohort.size if cohort.size else None
            # The share is what the eye compares; the count is in the CSV.
            row.append(Cell(view.formats.share(share), active, number=True, shade=share))
        row.extend(Cell("", None) for _ in range(width - len(cohort.active)))
        rows.append(row)
    cohorts = Section(
        "cohorts",
        view.t("cohorts_title"),
        view.t("cohorts_about"),
        Table(headers, rows),
        heatmap=True,
    )
    filters = view.filters
    share = data.inactive / data.active_before if data.active_before else None
    inactive = Section(
        "inactive",
        view.t("inactive_title"),
        view.t(
            "inactive_about",
            period=view.length(filters.inactive_period),
            interval=view.length(filters.inactive_interval),
        ),
        Table(
            [view.t("col_inactive"), view.t("col_active_before"), view.t("col_inactive_share")],
            [[view.count(data.inactive), view.count(data.active_before), view.share(share)]],
        ),
        charts.bars(
            view.t("inactive_title"),
            [view.t("col_active_before"), view.t("col_inactive")],
            [(view.t("inactive_title"), [data.active_before, data.inactive])]
            if data.active_before
            else [],
            number,
            view.t("no_data"),
        ),
    )
    return Page([cohorts, inactive])
