"""The features' settings as pydantic models: `content/matching.yaml`, `checkins.yaml`,
`recognition.yaml` and `badges.yaml`. The flow language they name flows and steps in lives
in `flows/schema.py`; unknown keys are rejected here too."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, model_validator

from flows.schema import (
    ANY_LOCALE,
    SCHEMA_VERSION,
    ChoiceId,
    Duration,
    Id,
    LocalizedText,
    Strict,
)

Hour = Annotated[int, Field(ge=0, le=23)]


class MatchingWeights(Strict):
    """How much each criterion counts (0 leaves it out)."""

    topics: float = Field(3.0, ge=0)
    timezone: float = Field(2.0, ge=0)
    language: float = Field(2.0, ge=0)
    experience: float = Field(1.0, ge=0)


class Offers(Strict):
    """How offers to mentors are made and when they lapse."""

    timeout: Duration = timedelta(hours=48)  # no answer by then: the next mentor is asked
    pause_after_expired: int = Field(3, ge=1, le=100)  # offers left to expire in a row
    batch_every: Duration = timedelta(minutes=15)  # how often waiting newcomers are matched


EXPERIENCE_LEVELS = ("new", "some", "experienced")


class Experience(Strict):
    """What members' answers about their experience mean: the ask step that asks it in the
    onboarding flow (newcomers) and in the sign-up flow (mentors), each keeping its answer as
    the profile's `experience`, and the choice ids that mean each level."""

    newcomer_step: Id = "experience"
    mentor_step: Id = "experience"
    new: tuple[ChoiceId, ...] = ("new",)
    some: tuple[ChoiceId, ...] = ("some",)
    experienced: tuple[ChoiceId, ...] = ("experienced",)

    @model_validator(mode="after")
    def _each_answer_once(self) -> Experience:
        seen: dict[str, str] = {}
        for level in EXPERIENCE_LEVELS:
            for answer in getattr(self, level):
                if answer in seen:
                    raise ValueError(f"'{answer}' is under both '{seen[answer]}' and '{level}'")
                seen[answer] = level
        return self

    def level(self, answer: object) -> int | None:
        """0 (new), 1 (some) or 2 (experienced) for a choice id; None for anything else (no
        answer, or one no level lists)."""
        for number, level in enumerate(EXPERIENCE_LEVELS):
            if answer in getattr(self, level):
                return number
        return None


class Matching(Strict):
    """`content/matching.yaml`: how newcomers and mentors are paired (optional; these are
    the defaults)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    weights: MatchingWeights = MatchingWeights()
    hard: tuple[Literal["language", "timezone", "topics"], ...] = ("language",)
    full_overlap_hours: float = Field(3.0, gt=0, le=24)
    min_overlap_hours: float = Field(1.0, ge=0, le=24)
    newcomer_hours: tuple[Hour, Hour] = (9, 21)
    candidates: int = Field(24, ge=1, le=1000)
    offers: Offers = Offers()
    experience: Experience = Experience()
    signup_flow: Id = "mentor_signup"  # /mentor signup
    offer_flow: Id = "mentor_offer"  # what a mentor is asked; its actions accept or decline

    @model_validator(mode="after")
    def _something_counts(self) -> Matching:
        if not any(self.weights.model_dump().values()):
            raise ValueError("every weight is 0: give at least one criterion a weight")
        return self


class CheckinSchedule(Strict):
    """Days after the match: each of `days`, then every `every` days, until `until`."""

    days: tuple[Annotated[int, Field(ge=1, le=3650)], ...] = (3, 7)
    every: int | None = Field(14, ge=1, le=3650)
    until: int = Field(90, ge=1, le=3650)

    @model_validator(mode="after")
    def _in_order(self) -> CheckinSchedule:
        if list(self.days) != sorted(set(self.days)):
            raise ValueError("'days' must go up, each day once")
        if self.days and self.days[-1] > self.until:
            raise ValueError(f"day {self.days[-1]} is after 'until' ({self.until})")
        return self

    def offsets(self) -> list[int]:
        """Every check-in day; the last is `until`, when the mentorship closes."""
        found = list(self.days)
        if self.every is not None:
            day = (found[-1] if found else 0) + self.every
            while day < self.until:
                found.append(day)
                day += self.every
        found = [d for d in found if d < self.until]
        return [*found, self.until]


class Escalation(Strict):
    """When community managers are told about a mentorship."""

    low_score: int = Field(2, ge=0, le=5)  # a check-in answered with this or less
    unanswered_in_a_row: int = Field(2, ge=1, le=100)


class Checkins(Strict):
    """`content/checkins.yaml`: when a mentorship is checked on, and when it closes."""

    schema_version: Literal[1] = SCHEMA_VERSION
    schedule: CheckinSchedule = CheckinSchedule()
    quiet_hours: tuple[Hour, Hour] = (21, 8)  # local [start, end): nothing is sent then
    grace: Duration = timedelta(days=3)  # older than this after downtime: skipped, recorded
    escalation: Escalation = Escalation()
    checkin_flow: Id = "mentor_checkin"  # asked on every scheduled day but the last
    feedback_flow: Id = "mentor_feedback"  # asked on the last day; then the mentorship closes


class Category(Strict):
    """A kind of contribution kudos are given for."""

    id: Id
    emoji: str = Field("", max_length=8)
    name: LocalizedText
    # The all-contributors contribution type it maps to (https://allcontributors.org/docs/en/emoji-key)
    all_contributors: str = Field("ideas", pattern=r"^[a-zA-Z0-9]{1,32}$")


class Reciprocal(Strict):
    """Two members thanking each other over and over: past `after` kudos each way within
    `window`, each further one counts `weight` on leaderboards."""

    window: Duration = timedelta(days=14)
    after: int = Field(2, ge=0, le=100)
    weight: float = Field(0.5, ge=0, le=1)


class KudosRules(Strict):
    min_reason_length: int = Field(10, ge=1, le=500)
    max_reason_length: int = Field(500, ge=10, le=500)
    daily_per_giver: int = Field(5, ge=1, le=1000)
    weekly_per_pair: int = Field(3, ge=1, le=1000)
    reciprocal: Reciprocal = Reciprocal()
    shout_outs_per_hour: int = Field(10, ge=0, le=1000)  # 0: never announced

    @model_validator(mode="after")
    def _lengths(self) -> KudosRules:
        if self.min_reason_length > self.max_reason_length:
            raise ValueError("min_reason_length is longer than max_reason_length")
        return self


def _default_categories() -> tuple[Category, ...]:
    return (Category(id="helping", emoji="🤝", name={ANY_LOCALE: "helping others"}),)


class Recognition(Strict):
    """`content/recognition.yaml`: the kinds of contribution, and the rules that keep kudos
    honest."""

    schema_version: Literal[1] = SCHEMA_VERSION
    categories: tuple[Category, ...] = Field(default_factory=_default_categories, min_length=1)
    default_category: Id = "helping"
    rules: KudosRules = KudosRules()
    # Where shout-outs go, per platform: a channel or group id the bot may post in.
    shout_out_channels: dict[str, str] = Field(default_factory=dict)
    announce_badges: bool = True  # badges earned are announced there too

    @model_validator(mode="after")
    def _known_default(self) -> Recognition:
        ids = [c.id for c in self.categories]
        if len(ids) != len(set(ids)):
            raise ValueError("two categories have the same id")
        if self.default_category not in ids:
            raise ValueError(f"default_category {self.default_category!r} is not a category")
        return self

    def category(self, wanted: str) -> Category | None:
        return next((c for c in self.categories if c.id == wanted), None)


class BadgeWhen(Strict):
    """What earns a badge: one count reaching its number. None of them: only the
    `award_badge` flow action gives it."""

    kudos_received: int | None = Field(None, ge=1)
    kudos_given: int | None = Field(None, ge=1)
    flows_completed: int | None = Field(None, ge=1)
    mentorships_completed: int | None = Field(None, ge=1)
    category: Id | None = None  # with kudos_received or kudos_given: in this category only
    flow: Id | None = None  # with flows_completed: this flow only

    @model_validator(mode="after")
    def _one_count(self) -> BadgeWhen:
        counts = [
            n
            for n in (
                self.kudos_received,
                self.kudos_given,
                self.flows_completed,
                self.mentorships_completed,
            )
            if n is not None
        ]
        if len(counts) != 1:
            raise ValueError(
                "name exactly one of kudos_received, kudos_given, flows_completed, "
                "mentorships_completed"
            )
        if self.category and self.kudos_received is None and self.kudos_given is None:
            raise ValueError("'category' goes with kudos_received or kudos_given")
        if self.flow and self.flows_completed is None:
            raise ValueError("'flow' goes with flows_completed")
        return self

    @property
    def target(self) -> int:
        return next(
            n
            for n in (
                self.kudos_received,
                self.kudos_given,
                self.flows_completed,
                self.mentorships_completed,
            )
            if n is not None
        )


class Badge(Strict):
    id: Id
    emoji: str = Field("", max_length=8)
    name: LocalizedText
    description: LocalizedText
    when: BadgeWhen | None = None


class Badges(Strict):
    """`content/badges.yaml`."""

    schema_version: Literal[1] = SCHEMA_VERSION
    badges: tuple[Badge, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> Badges:
        ids = [b.id for b in self.badges]
        if len(ids) != len(set(ids)):
            raise ValueError("two badges have the same id")
        return self

    def badge(self, wanted: str) -> Badge | None:
        return next((b for b in self.badges if b.id == wanted), None)
