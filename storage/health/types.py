"""What the community-health metrics are made of: the filters every metric takes, and one
result type per dashboard page. Plain frozen dataclasses of numbers, dates and (on the at-risk
list only) names, so the same results feed `onramp report`, the dashboard, its CSV downloads
and the weekly digest.

The CHAOSS metric each figure implements is named where it is defined.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class Filters:
    """Which members and which time a metric looks at.

    `start`/`end` are UTC instants, `end` exclusive; the previous period, for trends, is the
    same length just before `start`. `platform` and `locale` keep members with an identity on
    that platform / that language. Inactive Contributors (CHAOSS) looks `inactive_period` back
    from `end` for members who were active then but not in the last `inactive_interval`.
    """

    start: datetime
    end: datetime
    platform: str | None = None
    locale: str | None = None
    inactive_period: timedelta = timedelta(days=180)
    inactive_interval: timedelta = timedelta(days=90)
    stalled_after: timedelta = timedelta(days=7)  # at risk: a newcomer's flow untouched so long
    waiting_after: timedelta = timedelta(hours=48)  # at risk: a mentor request unanswered so long

    @property
    def previous(self) -> Filters:
        length = self.end - self.start
        return Filters(
            self.start - length,
            self.start,
            self.platform,
            self.locale,
            self.inactive_period,
            self.inactive_interval,
            self.stalled_after,
            self.waiting_after,
        )


@dataclass(frozen=True)
class Trend:
    """A count in the period and in the period before it."""

    current: int
    previous: int


@dataclass(frozen=True)
class Spread:
    """Durations in seconds: how many, the median and the 90th percentile (None when none)."""

    count: int
    median: float | None
    p90: float | None


@dataclass(frozen=True)
class MonthCount:
    month: date  # the first day of the month
    count: int


# Overview --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Overview:
    new_members: Trend  # members created in the period (CHAOSS New Contributors, chat)
    onboarded: Trend  # onboarding flow completed in the period
    matched: Trend  # mentorships started in the period
    first_contributions: Trend  # members whose first kudos received falls in the period
    active_members: Trend  # members with at least one day of activity in the period


# Onboarding ------------------------------------------------------------------------------------
FUNNEL_STEPS = (
    "joined",
    "consented",
    "onboarded",
    "asked_mentor",
    "matched",
    "first_contribution",
    "retained",
)


@dataclass(frozen=True)
class FunnelStep:
    """Of the members who joined in the period, how many reached this step (at any time up
    to `end`, whatever they reached before). CHAOSS Conversion Rate: of the step before's
    members, the share who also reached this one."""

    key: str  # one of FUNNEL_STEPS
    members: int
    rate: float | None  # never above 1; None for the first step, or when the one before has 0


@dataclass(frozen=True)
class StepDropoff:
    """Members whose run of `flow_id` stopped at `step_id` (active, untouched for
    `stalled_after`, or expired there), and the median time from the run's start to its last
    move."""

    flow_id: str
    step_id: str
    stalled: int
    median_seconds: float | None


@dataclass(frozen=True)
class Onboarding:
    funnel: list[FunnelStep]
    dropoff: list[StepDropoff]
    first_message: Spread  # from joining to the bot's first message sent to them


# Mentorship ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MentorLoad:
    """One mentor's active mentorships against their capacity; no name (see at risk)."""

    active: int
    capacity: int


@dataclass(frozen=True)
class Mentorship:
    requests: list[MonthCount]  # mentor requests per month in the period
    wait: Spread  # request → accepted offer (CHAOSS Time to First Response)
    offers: dict[str, int]  # offers made in the period by status: accepted, declined, expired…
    load: list[MentorLoad]  # every mentor with a profile, busiest first
    absence_factor: int  # fewest mentors carrying half the period's mentorships (CHAOSS)
    mentors_active: int  # mentors with at least one mentorship in the period
    checkins_asked: int
    checkins_answered: int


# Recognition -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class KindMonth:
    month: date
    category: str  # code, docs, design, translation, data, outreach, fundraising…
    count: int


@dataclass(frozen=True)
class Recognition:
    kudos: list[KindMonth]  # live kudos per category per month
    givers: int  # distinct members who gave kudos in the period
    receivers: int
    badges: dict[str, int]  # badges awarded in the period, by badge id
    new_contributors: list[MonthCount]  # members whose first kudos received is in the month


# Retention -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cohort:
    """Members who joined in `month`; `active[k]`: how many of them were active in the k-th
    month after (0: the month they joined), up to the month of `end`."""

    month: date
    size: int
    active: list[int]


@dataclass(frozen=True)
class Retention:
    cohorts: list[Cohort]
    inactive: int  # CHAOSS Inactive Contributors with the filters' period and interval
    active_before: int  # members active in the period before the interval (the base)


# Campaigns -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CampaignResult:
    key: str
    title: str
    state: str
    planned_at: datetime | None
    reach: int  # recipients not excluded
    excluded: dict[str, int]  # by reason
    by_platform: dict[str, dict[str, int]]  # platform → recipient status → count


@dataclass(frozen=True)
class SurveyQuestion:
    """A question of a flow a campaign starts: answers counted by value for choices and
    numbers; typed text is only counted, never shown."""

    flow_id: str
    step_id: str
    answered: int
    values: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Campaigns:
    campaigns: list[CampaignResult]
    survey: list[SurveyQuestion]


# At risk (managers only: the one page with names) -----------------------------------------------
@dataclass(frozen=True)
class StalledNewcomer:
    member_id: int
    name: str
    platform: str
    flow_id: str
    step_id: str | None
    since: datetime  # the run's last move


@dataclass(frozen=True)
class WaitingRequest:
    member_id: int
    name: str
    platform: str
    requested_at: datetime


@dataclass(frozen=True)
class SilentMentorship:
    mentorship_id: int
    newcomer: str
    mentor: str
    unanswered: int  # check-ins asked and not answered
    last_asked_at: datetime


@dataclass(frozen=True)
class AtRiskCounts:
    stalled: int  # newcomers whose onboarding stopped moving
    waiting: int  # mentor requests unanswered past `waiting_after`
    silent: int  # mentorships with unanswered check-ins


@dataclass(frozen=True)
class AtRisk:
    """The first rows of each list (at most the `limit` asked for), and how many there are."""

    stalled: list[StalledNewcomer]
    waiting: list[WaitingRequest]
    silent: list[SilentMentorship]
    counts: AtRiskCounts
