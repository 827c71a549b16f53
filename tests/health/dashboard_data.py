"""Hand-built figures for the dashboard's tests: an empty community and a small one, with a
member name and a marker that must never appear outside the at-risk page."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from storage.health.types import (
    FUNNEL_STEPS,
    AtRisk,
    AtRiskCounts,
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
    SilentMentorship,
    Spread,
    StalledNewcomer,
    StepDropoff,
    SurveyQuestion,
    Trend,
    WaitingRequest,
)

NAME = "Zanele Okafor"  # a member's name: on the at-risk page only
NONE = Spread(0, None, None)
WHEN = datetime(2026, 2, 20, 9, 30, tzinfo=UTC)


class EmptySource:
    """A community with no members yet."""

    async def overview(self, filters: Filters) -> Overview:
        zero = Trend(0, 0)
        return Overview(zero, zero, zero, zero, zero)

    async def onboarding(self, filters: Filters) -> Onboarding:
        return Onboarding([FunnelStep(k, 0, None) for k in FUNNEL_STEPS], [], NONE)

    async def mentorship(self, filters: Filters) -> Mentorship:
        return Mentorship([], NONE, {}, [], 0, 0, 0, 0)

    async def recognition(self, filters: Filters) -> Recognition:
        return Recognition([], 0, 0, {}, [])

    async def retention(self, filters: Filters) -> Retention:
        return Retention([], 0, 0)

    async def campaigns(self, filters: Filters) -> Campaigns:
        return Campaigns([], [])

    async def at_risk(self, filters: Filters) -> AtRisk:
        return AtRisk([], [], [], AtRiskCounts(0, 0, 0))


class SmallSource:
    """A few dozen members: every section has something to draw. `seen` keeps the filters
    each page was asked with."""

    def __init__(self) -> None:
        self.seen: list[Filters] = []

    async def overview(self, filters: Filters) -> Overview:
        self.seen.append(filters)
        return Overview(Trend(40, 32), Trend(25, 25), Trend(9, 12), Trend(6, 0), Trend(58, 51))

    async def onboarding(self, filters: Filters) -> Onboarding:
        counts = (40, 36, 25, 14, 9, 6, 5)
        steps = [
            FunnelStep(k, n, None if i == 0 else n / counts[i - 1])
            for i, (k, n) in enumerate(zip(FUNNEL_STEPS, counts, strict=True))
        ]
        dropoff = [
            StepDropoff("onboarding", "interests", 7, 3600.0 * 30),
            StepDropoff("onboarding", "consent", 3, 600.0),
        ]
        return Onboarding(steps, dropoff, Spread(40, 2.0, 9.5))

    async def mentorship(self, filters: Filters) -> Mentorship:
        months = [MonthCount(date(2026, m, 1), n) for m, n in ((1, 5), (2, 8), (3, 3))]
        offers = {"accepted": 9, "declined": 3, "expired": 2}
        load = [MentorLoad(3, 3), MentorLoad(2, 4), MentorLoad(1, 2)]
        return Mentorship(months, Spread(9, 7200.0, 86400.0 * 2), offers, load, 2, 3, 20, 13)

    async def recognition(self, filters: Filters) -> Recognition:
        kudos = [
            KindMonth(date(2026, 1, 1), "code", 4),
            KindMonth(date(2026, 1, 1), "translation", 3),
            KindMonth(date(2026, 2, 1), "outreach", 2),
            KindMonth(date(2026, 2, 1), "code", 5),
        ]
        new = [MonthCount(date(2026, 1, 1), 2), MonthCount(date(2026, 2, 1), 4)]
        return Recognition(kudos, 8, 11, {"first_kudos": 6}, new)

    async def retention(self, filters: Filters) -> Retention:
        cohorts = [
            Cohort(date(2026, 1, 1), 20, [20, 12, 9]),
            Cohort(date(2026, 2, 1), 15, [15, 8]),
            Cohort(date(2026, 3, 1), 5, [5]),
        ]
        return Retention(cohorts, 7, 30)

    async def campaigns(self, filters: Filters) -> Campaigns:
        result = CampaignResult(
            "onboarding_survey",
            "How is onboarding going?",
            "done",
            WHEN,
            18,
            {"opted_out": 2, "reply_window": 1},
            {"slack": {"delivered": 10, "failed": 1}, "telegram": {"read": 7}},
        )
        survey = [SurveyQuestion("onboarding_survey", "blocker", 12, {"time": 5, "docs": 4})]
        return Campaigns([result], survey)

    async def at_risk(self, filters: Filters) -> AtRisk:
        stalled = [StalledNewcomer(1, NAME, "slack", "onboarding", "interests", WHEN)]
        waiting = [WaitingRequest(2, "Bea", "telegram", WHEN - timedelta(days=3))]
        silent = [SilentMentorship(3, "Chen", "Dara", 2, WHEN)]
        # Twelve stalled in all: the page shows the first one and says so.
        return AtRisk(stalled, waiting, silent, AtRiskCounts(12, 1, 1))
