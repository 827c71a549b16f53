"""Mentorship: requests over time, the wait for a mentor (CHAOSS Time to First Response),
what became of offers, each mentor's load, the Mentor Absence Factor (CHAOSS Contributor
Absence Factor) and how many check-ins get an answer."""

from __future__ import annotations

from markupsafe import Markup

from bot.health.dashboard import charts
from bot.health.dashboard.sections import Cell, Page, Section, Table, View
from storage.health.types import MentorLoad, Mentorship

ABSENCE_WARNING_AT = 2  # half the mentoring on this many people or fewer: one departure hurts
# More mentors than this are charted in this many groups of consecutive numbers ("Mentor
# 1–50"), busiest first; the table under the chart still has every mentor. A bar per mentor
# for a thousand of them is unreadable, and drawing it alone took most of a second.
LOAD_BARS = 25


def build(data: Mentorship, view: View) -> Page:
    number, no_data = view.formats.number, view.t("no_data")
    months = [view.month(row.month) for row in data.requests]
    requests = Section(
        "requests",
        view.t("requests_title"),
        view.t("requests_about"),
        Table(
            [view.t("col_month"), view.t("col_requests")],
            [
                [month, view.count(row.count)]
                for month, row in zip(months, data.requests, strict=True)
            ],
        ),
        charts.line(
            view.t("requests_title"),
            [m.shown for m in months],
            [(view.t("col_requests"), [r.count for r in data.requests])] if data.requests else [],
            number,
            no_data,
        ),
    )
    wait = Section(
        "wait",
        view.t("wait_title"),
        view.t("wait_about"),
        Table(
            [view.t("col_requests"), view.t("col_median"), view.t("col_p90")],
            [
                [
                    view.count(data.wait.count),
                    view.seconds(data.wait.median),
                    view.seconds(data.wait.p90),
                ]
            ],
        ),
    )
    statuses = sorted(data.offers.items(), key=lambda item: -item[1])
    offers = Section(
        "offers",
        view.t("offers_title"),
        view.t("offers_about"),
        Table(
            [view.t("col_status"), view.t("col_offers")],
            [[Cell(view.label("offer", key), key), view.count(n)] for key, n in statuses],
        ),
        charts.bars(
            view.t("offers_title"),
            [view.label("offer", key) for key, _ in statuses],
            [(view.t("col_offers"), [n for _, n in statuses])] if statuses else [],
            number,
            no_data,
        ),
    )
    names = [view.t("mentor_number", number=number(i + 1)) for i in range(len(data.load))]
    load = Section(
        "load",
        view.t("load_title"),
        view.t("load_about"),
        Table(
            [view.t("col_mentor"), view.t("col_active"), view.t("col_capacity")],
            [
                [Cell(name, i + 1), view.count(row.active), view.count(row.capacity)]
                for i, (name, row) in enumerate(zip(names, data.load, strict=True))
            ],
        ),
        _load_chart(data.load, view),
    )
    carried = data.mentors_active > 0 and data.absence_factor <= ABSENCE_WARNING_AT
    absence = Section(
        "absence",
        view.t("absence_title"),
        view.t("absence_about"),
        Table(
            [view.t("col_absence_factor"), view.t("col_mentors_active")],
            [[view.count(data.absence_factor), view.count(data.mentors_active)]],
        ),
        warning=view.t("absence_warning", count=number(data.absence_factor)) if carried else None,
    )
    asked, answered = data.checkins_asked, data.checkins_answered
    checkins = Section(
        "checkins",
        view.t("checkins_title"),
        view.t("checkins_about"),
        Table(
            [view.t("col_asked"), view.t("col_answered"), view.t("col_answer_rate")],
            [
                [
                    view.count(asked),
                    view.count(answered),
                    view.share(answered / asked if asked else None),
                ]
            ],
        ),
    )
    return Page([requests, wait, offers, load, absence, checkins])


def _load_chart(load: list[MentorLoad], view: View) -> Markup:
    """Active mentorships against capacity: per mentor, or per group of mentors (their
    sums) when there are more than LOAD_BARS."""
    number = view.formats.number
    size = max(1, -(-len(load) // LOAD_BARS))  # mentors per bar, rounded up
    labels, active, capacity = [], [], []
    for first in range(0, len(load), size):
        group = load[first : first + size]
        last = first + len(group)
        shown = number(last) if len(group) == 1 else f"{number(first + 1)}–{number(last)}"
        labels.append(view.t("mentor_number", number=shown))
        active.append(sum(row.active for row in group))
        capacity.append(sum(row.capacity for row in group))
    return charts.bars(
        view.t("load_title"),
        labels,
        [(view.t("col_active"), active), (view.t("col_capacity"), capacity)] if load else [],
        number,
        view.t("no_data"),
    )
