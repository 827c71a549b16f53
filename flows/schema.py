"""The flow language as pydantic models. Unknown keys are rejected everywhere."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)

from flows.locale_codes import normalise_locale

SCHEMA_VERSION: Literal[1] = 1

Id = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
# Choice ids travel inside button payloads (Telegram allows 64 bytes), so they stay short.
ChoiceId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,23}$")]
# Written `pt-BR`, `pt_br` or `pt_BR`, read as Babel's `pt_BR`; an unknown code is an error
# with a did-you-mean (flows/locale_codes.py).
Locale = Annotated[str, BeforeValidator(lambda value: normalise_locale(str(value)))]
Mode = Literal["rich", "text", "lite"]  # how messages reach a member: /mode
MODES: tuple[Mode, ...] = ("rich", "text", "lite")
PLURAL_CATEGORIES = ("zero", "one", "two", "few", "many", "other")
ANY_LOCALE = "*"

# A text is either one string (the same in every language: a URL, an emoji) or a mapping
# locale -> string, or locale -> {plural category -> string} for counted phrases.
Translation = str | dict[Literal["zero", "one", "two", "few", "many", "other"], str]
TextLocale = Annotated[
    str, BeforeValidator(lambda key: key if key == ANY_LOCALE else normalise_locale(str(key)))
]
Text = dict[TextLocale, Translation]


def _as_text(value: Any) -> Any:
    if isinstance(value, str):
        return {ANY_LOCALE: value}
    return value


LocalizedText = Annotated[Text, BeforeValidator(_as_text)]

_DURATION = re.compile(r"^\s*(\d+)\s*(m|min|h|d|w)\s*$")
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError("a duration is a number and a unit: 30m, 12h, 2d or 1w")
    amount, unit = match.groups()
    if int(amount) == 0:
        raise ValueError("a duration must be longer than zero")
    return timedelta(**{_UNITS[unit]: int(amount)})


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(Strict):
    id: ChoiceId
    label: LocalizedText


class Condition(Strict):
    """One declarative test on an answer or a profile field, or a combination of tests."""

    answer: Id | None = None
    profile: str | None = None
    equals: str | int | bool | None = None
    is_in: list[str] | None = Field(default=None, alias="in")
    has_any: list[str] | None = None
    exists: bool | None = None
    not_: Condition | None = Field(default=None, alias="not")
    all: list[Condition] | None = None
    any: list[Condition] | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        combinators = [c for c in (self.not_, self.all, self.any) if c is not None]
        tests = [t for t in (self.equals, self.is_in, self.has_any, self.exists) if t is not None]
        subject = [s for s in (self.answer, self.profile) if s is not None]
        if combinators:
            if len(combinators) > 1 or tests or subject:
                raise ValueError("use exactly one of 'not', 'all' or 'any' on its own")
            return self
        if len(subject) != 1:
            raise ValueError("a condition names exactly one 'answer' or 'profile' field")
        if len(tests) != 1:
            raise ValueError("a condition has exactly one test: equals, in, has_any or exists")
        return self


class Case(Strict):
    when: Condition
    goto: Id


InputKind = Literal["text", "email", "url", "number", "timezone", "language", "regex"]


class StepBase(Strict):
    id: Id
    next: Id | None = None


class SayStep(StepBase):
    say: LocalizedText
    short: LocalizedText | None = None  # said instead in lite mode (/mode lite)
    count: str | None = None


class WhatsAppTemplate(Strict):
    """An approved WhatsApp message template, sent instead of a nudge when the member last
    wrote more than 24 hours ago (WhatsApp allows nothing else then)."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,512}$")]
    # The template's language code as approved (en, en_US, fr, pt_BR…); by default the
    # member's language.
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")] | None = None
    # The body's {{1}}, {{2}}… in order; each may use template variables ({{ member.name }}).
    parameters: list[str] = Field(default_factory=list, max_length=20)


class AskStep(StepBase):
    ask: LocalizedText
    short: LocalizedText | None = None  # asked instead in lite mode (/mode lite)
    choices: list[Choice] | None = None
    multiple: bool = False
    input: InputKind | None = None
    pattern: str | None = None
    max_length: int = Field(default=500, ge=1, le=4000)
    timeout: Duration | None = None
    nudge: LocalizedText | None = None
    whatsapp_template: WhatsAppTemplate | None = None
    expire_after: Duration | None = None
    count: str | None = None
    optional: bool = False  # a skip word ("skip", "passer", "ruka") moves on with no answer

    @model_validator(mode="after")
    def _choices_or_input(self) -> AskStep:
        if (self.choices is None) == (self.input is None):
            raise ValueError(
                "an ask step has either 'choices' or 'input', not both and not neither"
            )
        if self.multiple and not self.choices:
            raise ValueError("'multiple' only applies to an ask step with choices")
        if (self.input == "regex") != (self.pattern is not None):
            raise ValueError(
                "'pattern' goes with 'input: regex', and 'input: regex' needs a pattern"
            )
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"'pattern' is not a valid regular expression: {exc}") from exc
        if self.nudge is not None and self.timeout is None:
            raise ValueError("a 'nudge' is sent after 'timeout'; add a timeout such as 2d")
        if self.whatsapp_template is not None and self.timeout is None:
            raise ValueError(
                "a 'whatsapp_template' stands in for the nudge sent after 'timeout'; add a "
                "timeout such as 2d"
            )
        if self.timeout and self.expire_after and self.expire_after <= self.timeout:
            raise ValueError("'expire_after' must be longer than 'timeout'")
        return self

    @field_validator("choices")
    @classmethod
    def _some_choices(cls, choices: list[Choice] | None) -> list[Choice] | None:
        if choices is not None and len(choices) < 2:
            raise ValueError("an ask step with choices needs at least two")
        return choices


class BranchStep(StepBase):
    branch: list[Case] = Field(min_length=1)
    otherwise: Id | None = None


class SetStep(StepBase):
    set: dict[str, str | bool | int | list[str]] = Field(min_length=1)


class GotoStep(StepBase):
    goto: Id


class EndStep(StepBase):
    end: LocalizedText | Literal[True]
    short: LocalizedText | None = None  # said instead in lite mode (/mode lite)
    count: str | None = None


class ActionStep(StepBase):
    action: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


STEP_KINDS = ("say", "ask", "branch", "set", "goto", "end", "action")


def step_kind(value: Any) -> str | None:
    if isinstance(value, StepBase):
        return _KIND_OF_MODEL[type(value)]
    if isinstance(value, dict):
        present = [kind for kind in STEP_KINDS if kind in value]
        return present[0] if len(present) == 1 else None
    return None


_KIND_OF_MODEL: dict[type[StepBase], str] = {
    SayStep: "say",
    AskStep: "ask",
    BranchStep: "branch",
    SetStep: "set",
    GotoStep: "goto",
    EndStep: "end",
    ActionStep: "action",
}

Step = Annotated[
    Annotated[SayStep, Tag("say")]
    | Annotated[AskStep, Tag("ask")]
    | Annotated[BranchStep, Tag("branch")]
    | Annotated[SetStep, Tag("set")]
    | Annotated[GotoStep, Tag("goto")]
    | Annotated[EndStep, Tag("end")]
    | Annotated[ActionStep, Tag("action")],
    Discriminator(
        step_kind,
        custom_error_type="step_kind",
        custom_error_message="a step has exactly one of: say, ask, branch, set, goto, end, action",
    ),
]


class Trigger(Strict):
    member_joined: bool = False
    command: Id | None = None
    keywords: list[str] = Field(default_factory=list)
    # Started by a feature rather than by the member (a mentor's offer, a check-in): named
    # in matching.yaml or checkins.yaml.
    feature: bool = False

    @model_validator(mode="after")
    def _something(self) -> Trigger:
        if not (self.member_joined or self.command or self.keywords or self.feature):
            raise ValueError("a trigger needs member_joined, a command, keywords or feature")
        return self


class Flow(Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    id: Id
    title: LocalizedText
    description: str | None = None
    trigger: Trigger
    expire_after: Duration | None = None
    steps: list[Step] = Field(min_length=1)


class Community(Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    name: str
    default_locale: Locale
    locales: list[Locale] = Field(min_length=1)
    onboarding_flow: Id
    links: dict[str, str] = Field(default_factory=dict)
    # Profile fields a flow may `set` beyond the built-in ones; a community stores only these.
    profile_fields: list[Id] = Field(default_factory=list)
    # What members may be asked to agree to, each on its own (`set: {consent.<purpose>: …}`);
    # the core's /announcements command is about "announcements".
    consent_purposes: list[Id] = Field(default_factory=lambda: ["announcements"])
    # How messages are sent on each platform until a member chooses with /mode: rich
    # (buttons, link previews), text (numbered options) or lite (text, short, links on request).
    default_mode: dict[str, Mode] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _default_declared(self) -> Community:
        if self.default_locale not in self.locales:
            raise ValueError(f"default_locale {self.default_locale!r} must be one of 'locales'")
        return self


class SystemTexts(Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    texts: dict[str, LocalizedText]


# Profile fields every member has; `set` on these updates the member's own columns.
CORE_PROFILE_FIELDS = ("locale", "timezone", "display_name", "consent")
# `set: {consent.announcements: true}` records consent for one of `consent_purposes`.
CONSENT_PREFIX = "consent."


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
