"""Onboarding: the funnel from joining to staying (CHAOSS Conversion Rate), where stalled
members stopped in each flow, and how soon the bot first wrote to newcomers."""

from __future__ import annotations

from bot.health.dashboard import charts
from bot.health.dashboard.sections import Cell, Page, Section, Table, View
from storage.health.types import Onboarding


def build(data: Onboarding, view: View) -> Page:
    number, no_data = view.formats.number, view.t("no_data")
    steps = [view.t(f"step_{step.key}") for step in data.funnel]
    funnel = Section(
        "funnel",
        view.t("funnel_title"),
        view.t("funnel_about"),
        Table(
            [view.t("col_step"), view.t("col_members"), view.t("col_conversion")],
            [
                [Cell(name, step.key), view.count(step.members), view.share(step.rate)]
                for name, step in zip(steps, data.funnel, strict=True)
            ],
        ),
        charts.funnel(
            view.t("funnel_title"), steps, [s.members for s in data.funnel], number, no_data
        ),
    )
    dropoff_title = view.t("dropoff_title")
    dropoff = Section(
        "dropoff",
        dropoff_title,
        view.t("dropoff_about", stalled_after=view.length(view.filters.stalled_after)),
        Table(
            [
                view.t("col_flow"),
                view.t("col_flow_step"),
                view.t("col_stalled"),
                view.t("col_median_time"),
            ],
            [
                [
                    Cell(row.flow_id),
                    Cell(row.step_id),
                    view.count(row.stalled),
                    view.seconds(row.median_seconds),
                ]
                for row in data.dropoff
            ],
        ),
        charts.bars(
            dropoff_title,
            [f"{row.flow_id} · {row.step_id}" for row in data.dropoff],
            [(view.t("col_stalled"), [row.stalled for row in data.dropoff])]
            if data.dropoff
            else [],
            number,
            no_data,
        ),
    )
    spread = data.first_message
    first = Section(
        "first_message",
        view.t("first_message_title"),
        view.t("first_message_about"),
        Table(
            [view.t("col_members"), view.t("col_median"), view.t("col_p90")],
            [[view.count(spread.count), view.seconds(spread.median), view.seconds(spread.p90)]],
        ),
    )
    return Page([funnel, dropoff, first])
