"""Overview: the period's headline figures, each with its trend against the period before."""

from __future__ import annotations

from bot.health.dashboard import charts
from bot.health.dashboard.sections import Card, Cell, Page, Section, Table, View
from storage.health.types import Overview, Trend

FIGURES = ("new_members", "onboarded", "matched", "first_contributions", "active_members")


def change(trend: Trend) -> float | None:
    """The change from the previous period, as a share of it; None when it had none."""
    if trend.previous == 0:
        return None
    return (trend.current - trend.previous) / trend.previous


def card(view: View, label: str, trend: Trend) -> Card:
    share = change(trend)
    previous = view.t("trend_previous", count=view.formats.number(trend.previous))
    value = view.formats.number(trend.current)
    if share is None:
        new = trend.current > 0
        shown = view.t("trend_new") if new else view.t("trend_same")
        return Card(label, value, shown, "up" if new else "same", previous)
    if share == 0:
        return Card(label, value, view.t("trend_same"), "same", previous)
    arrow = "▲" if share > 0 else "▼"
    return Card(
        label,
        value,
        f"{arrow} {view.formats.share(abs(share))}",
        "up" if share > 0 else "down",
        previous,
    )


def build(data: Overview, view: View) -> Page:
    trends = [(view.t(f"card_{name}"), getattr(data, name)) for name in FIGURES]
    cards = [card(view, label, trend) for label, trend in trends]
    rows = [
        [
            Cell(label),
            view.count(trend.current),
            view.count(trend.previous),
            view.share(change(trend)),
        ]
        for label, trend in trends
    ]
    headers = [
        view.t("col_figure"),
        view.t("col_this_period"),
        view.t("col_previous_period"),
        view.t("col_change"),
    ]
    title = view.t("overview_chart_title")
    chart = charts.bars(
        title,
        [label for label, _ in trends],
        [
            (view.t("col_this_period"), [trend.current for _, trend in trends]),
            (view.t("col_previous_period"), [trend.previous for _, trend in trends]),
        ],
        view.formats.number,
        view.t("no_data"),
    )
    section = Section("figures", title, view.t("overview_chart_about"), Table(headers, rows), chart)
    return Page([section], cards=cards)
