"""`onramp report`'s three outputs from a hand-built report: rich tables, one JSON document,
one long CSV; and `--min-group`, which hides small counts, small cohorts and what they give
away, the same way in all three."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, date, datetime

from rich.console import Console

from bot.health.report import AtRiskCounts, Report, Threshold, csv_text, json_text
from bot.health.report_tables import render
from storage.health.types import (
    CampaignResult,
    Campaigns,
    Cohort,
    Filters,
    FunnelStep,
    KindMonth,
    MentorLoad,
    Mentorship,
    MonthCount,
    Onboarding,
    Overview,
    Recognition,
    Retention,
    Spread,
    StepDropoff,
    SurveyQuestion,
    Trend,
)

FILTERS = Filters(
    start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 3, 1, tzinfo=UTC), platform="slack"
)
JAN, FEB = date(2026, 1, 1), date(2026, 2, 1)


def sample() -> Report:
    return Report(
        filters=FILTERS,
        onboarding_flow="welcome",
        overview=Overview(
            new_members=Trend(40, 20),
            onboarded=Trend(30, 3),
            matched=Trend(12, 0),
            first_contributions=Trend(4, 8),
            active_members=Trend(55, 50),
        ),
        onboarding=Onboarding(
            funnel=[
                FunnelStep("joined", 40, None),
                FunnelStep("consented", 36, 0.9),
                FunnelStep("onboarded", 30, 30 / 36),
                FunnelStep("asked_mentor", 15, 0.5),
                FunnelStep("matched", 12, 0.8),
                FunnelStep("first_contribution", 3, 0.25),
                FunnelStep("retained", 2, 2 / 3),
            ],
            dropoff=[
                StepDropoff("welcome", "pick_language", 6, 3600.0),
                StepDropoff("welcome", "interests", 2, 90.0),
            ],
            first_message=Spread(40, 2.0, 30.0),
        ),
        mentorship=Mentorship(
            requests=[MonthCount(JAN, 9), MonthCount(FEB, 6)],
            wait=Spread(12, 7200.0, 86400.0),
            offers={"accepted": 12, "declined": 3, "expired": 1},
            load=[MentorLoad(3, 3), MentorLoad(2, 4), MentorLoad(0, 2)],
            absence_factor=2,
            mentors_active=2,
            checkins_asked=20,
            checkins_answered=15,
        ),
        recognition=Recognition(
            kudos=[
                KindMonth(JAN, "code", 10),
                KindMonth(JAN, "translation", 2),
                KindMonth(FEB, "code", 7),
            ],
            givers=9,
            receivers=11,
            badges={"first-steps": 5, "translator": 1},
            new_contributors=[MonthCount(JAN, 3), MonthCount(FEB, 1)],
        ),
        retention=Retention(
            cohorts=[Cohort(JAN, 25, [25, 12, 6]), Cohort(FEB, 3, [3, 1])],
            inactive=7,
            active_before=30,
        ),
        campaigns=Campaigns(
            campaigns=[
                CampaignResult(
                    key="survey-q1",
                    title="Spring survey",
                    state="done",
                    planned_at=datetime(2026, 2, 10, 9, tzinfo=UTC),
                    reach=30,
                    excluded={"no_consent": 4, "opted_out": 1},
                    by_platform={"slack": {"delivered": 28, "failed": 2}},
                )
            ],
            survey=[SurveyQuestion("feedback", "rating", 18, {"4": 10, "5": 6, "2": 2})],
        ),
        at_risk=AtRiskCounts(stalled=6, waiting=1, silent=0),
    )


def test_json_is_one_document_of_numbers() -> None:
    doc = json.loads(json_text(sample(), Threshold()))
    assert list(doc) == [
        "filters",
        "overview",
        "onboarding",
        "mentorship",
        "recognition",
        "retention",
        "campaigns",
        "at_risk",
    ]
    assert doc["filters"] == {
        "start": "2026-01-01T00:00:00+00:00",
        "end": "2026-03-01T00:00:00+00:00",
        "platform": "slack",
        "locale": "all",
        "inactive_period": "180d",
        "inactive_interval": "90d",
        "stalled_after": "7d",
        "waiting_after": "2d",
        "min_group": None,
    }
    assert doc["overview"]["new_members"] == {"current": 40, "previous": 20, "change": 1.0}
    assert doc["overview"]["first_contributions"]["change"] == -0.5
    assert doc["overview"]["matched"]["change"] is None  # nothing before: no ratio
    funnel = doc["onboarding"]["funnel"]
    assert [s["members"] for s in funnel] == [40, 36, 30, 15, 12, 3, 2]
    assert [s["rate"] for s in funnel] == [None, 0.9, 0.8333, 0.5, 0.8, 0.25, 0.6667]
    assert doc["onboarding"]["first_message"] == {
        "count": 40,
        "median_seconds": 2.0,
        "p90_seconds": 30.0,
    }
    mentorship = doc["mentorship"]
    assert mentorship["requests"] == [
        {"month": "2026-01-01", "count": 9},
        {"month": "2026-02-01", "count": 6},
    ]
    assert (mentorship["mentors"], mentorship["load_active"], mentorship["load_capacity"]) == (
        3,
        5,
        9,
    )
    assert mentorship["load"][0] == {"active": 3, "capacity": 3}
    assert mentorship["checkins"] == {"asked": 20, "answered": 15, "rate": 0.75}
    assert doc["retention"]["cohorts"][1] == {"month": "2026-02-01", "size": 3, "active": [3, 1]}
    assert doc["campaigns"]["campaigns"][0]["planned_at"] == "2026-02-10T09:00:00+00:00"
    assert doc["campaigns"]["survey"][0]["values"] == {"2": 2, "4": 10, "5": 6}
    assert doc["at_risk"] == {"stalled": 6, "waiting": 1, "silent": 0}


def test_min_group_hides_small_counts_and_what_gives_them_away() -> None:
    doc = json.loads(json_text(sample(), Threshold(5)))
    assert doc["filters"]["min_group"] == 5
    assert doc["overview"]["onboarded"] == {"current": 30, "previous": "<5", "change": None}
    funnel = doc["onboarding"]["funnel"]
    assert [s["members"] for s in funnel] == [40, 36, 30, 15, 12, "<5", "<5"]
    assert [s["rate"] for s in funnel] == [None, 0.9, 0.8333, 0.5, 0.8, None, None]
    assert doc["onboarding"]["dropoff"][1] == {
        "flow": "welcome",
        "step": "interests",
        "stalled": "<5",
        "median_seconds": None,
    }
    mentorship = doc["mentorship"]
    assert mentorship["load"] is None  # one row per mentor: never for funders
    assert (mentorship["mentors"], mentorship["load_active"]) == ("<5", 5)
    assert mentorship["offers"] == {"accepted": 12, "declined": "<5", "expired": "<5"}
    assert mentorship["absence_factor"] == "<5"
    assert doc["recognition"]["badges"] == {"first-steps": 5, "translator": "<5"}
    # The February cohort (3 members) is left out whole; January's months keep their figures.
    assert doc["retention"]["cohorts"] == [
        {"month": "2026-01-01", "size": 25, "active": [25, 12, 6]}
    ]
    assert doc["at_risk"] == {"stalled": 6, "waiting": "<5", "silent": 0}  # 0 stays 0


def test_a_spread_of_too_few_durations_is_hidden() -> None:
    doc = json.loads(json_text(sample(), Threshold(13)))
    assert doc["mentorship"]["wait"] == {
        "count": "<13",
        "median_seconds": None,
        "p90_seconds": None,
    }
    assert doc["onboarding"]["first_message"]["median_seconds"] == 2.0


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_is_long_one_figure_a_row() -> None:
    rows = read_csv(csv_text(sample(), Threshold()))
    assert list(rows[0]) == ["section", "metric", "dimension", "month", "value"]

    def value(section: str, metric: str, dimension: str = "", month: str = "") -> str:
        found = [
            r["value"]
            for r in rows
            if (r["section"], r["metric"], r["dimension"], r["month"])
            == (section, metric, dimension, month)
        ]
        assert len(found) == 1, (section, metric, dimension, month, found)
        return found[0]

    assert value("filters", "platform") == "slack"
    assert value("filters", "min_group") == ""
    assert value("overview", "new_members", "previous") == "20"
    assert value("overview", "matched", "change") == ""
    assert value("onboarding", "funnel_members", "matched") == "12"
    assert value("onboarding", "funnel_rate", "asked_mentor") == "0.5"
    assert value("onboarding", "dropoff_stalled", "welcome/pick_language") == "6"
    assert value("mentorship", "requests", "", "2026-02-01") == "6"
    assert value("mentorship", "load_active", "mentor 2") == "2"
    assert value("recognition", "kudos", "translation", "2026-01-01") == "2"
    assert value("retention", "cohort_active", "month 2", "2026-01-01") == "6"
    assert value("campaigns", "failed", "survey-q1/slack") == "2"
    assert value("campaigns", "survey_value", "feedback/rating/4") == "10"
    assert value("at_risk", "stalled") == "6"
    sections = {r["section"] for r in rows}
    assert sections == {
        "filters",
        "overview",
        "onboarding",
        "mentorship",
        "recognition",
        "retention",
        "campaigns",
        "at_risk",
    }


def test_csv_with_min_group_writes_the_same_hidden_figures() -> None:
    rows = read_csv(csv_text(sample(), Threshold(5)))
    by_key = {(r["section"], r["metric"], r["dimension"], r["month"]): r["value"] for r in rows}
    assert by_key[("filters", "min_group", "", "")] == "5"
    assert by_key[("onboarding", "funnel_members", "retained", "")] == "<5"
    assert by_key[("onboarding", "funnel_rate", "retained", "")] == ""
    assert ("retention", "cohort_size", "", "2026-02-01") not in by_key
    assert not any(dimension.startswith("mentor ") for _, _, dimension, _ in by_key)


def rendered(report: Report, threshold: Threshold | None = None) -> str:
    output = io.StringIO()
    render(report, threshold or Threshold(), Console(file=output, width=160, color_system=None))
    return output.getvalue()


def test_tables_show_every_page_with_trends_and_conversion() -> None:
    text = rendered(sample())
    for title in (
        "Overview",
        "Onboarding funnel (flow welcome)",
        "Where stalled members stopped",
        "Mentorship",
        "Recognition",
        "Retention",
        "Campaigns",
        "Survey answers",
        "At risk",
    ):
        assert title in text
    overview = next(line for line in text.splitlines() if "New members" in line)
    assert overview.split()[-3:] == ["40", "20", "+100%"]
    funnel = next(line for line in text.splitlines() if "Asked for a mentor" in line)
    assert funnel.split()[-2:] == ["15", "50%"]
    assert "few mentors carry the mentoring" in text  # absence factor 2
    assert "2 hr / 24 hr" in text  # the wait's median and p90
    # Every length one way, Babel's: "2 sec" as "61 sec" and "2 min" (it was "2 s" here).
    assert "median 2 sec, p90 30 sec" in text


def test_a_step_reached_without_the_one_before_converts_at_most_all_of_it() -> None:
    """More first contributions (20) than mentorships (5): of the 5 matched, 3 also made one.
    The rate is the dashboard's, 60% of the step before, not 20 / 5 (a year's report on the
    benchmark's community showed "466%")."""
    report = sample()
    funnel = list(report.onboarding.funnel)
    funnel[4] = FunnelStep("matched", 5, 5 / 15)
    funnel[5] = FunnelStep("first_contribution", 20, 0.6)
    funnel[6] = FunnelStep("retained", 10, 0.5)
    report = replace(report, onboarding=replace(report.onboarding, funnel=funnel))
    doc = json.loads(json_text(report, Threshold()))
    assert [s["rate"] for s in doc["onboarding"]["funnel"]][4:] == [0.3333, 0.6, 0.5]
    lines = rendered(report).splitlines()
    line = next(line for line in lines if line.strip().startswith("First contribution "))
    assert line.split()[-2:] == ["20", "60%"]
    # 3 carried on: a group under 5, so --min-group 5 hides the rate (20 and 5 stay shown).
    hidden = json.loads(json_text(report, Threshold(5)))["onboarding"]["funnel"]
    assert (hidden[5]["members"], hidden[5]["rate"]) == (20, None)


def test_tables_with_min_group() -> None:
    text = rendered(sample(), Threshold(5))
    retained = next(line for line in text.splitlines() if "Retained" in line)
    assert retained.split()[-2:] == ["<5", "–"]


def test_a_campaign_title_is_shown_as_written_never_as_console_markup() -> None:
    """A title from content (or a step id) is text: `[bold]` and `[link=…]` are shown, not
    obeyed, on a console that would obey them."""
    title = "Call [bold]June[/bold] [link=https://example.org]join[/link]"
    report = sample()
    campaigns = report.campaigns
    report = replace(
        report,
        campaigns=replace(campaigns, campaigns=[replace(campaigns.campaigns[0], title=title)]),
    )
    output = io.StringIO()
    console = Console(file=output, width=200, force_terminal=True, color_system="truecolor")
    render(report, Threshold(), console)
    shown = output.getvalue()
    assert "[bold]June[/bold]" in shown and "[link=https://example.org]join[/link]" in shown
    assert "\x1b]8;" not in shown  # no terminal hyperlink made of it
