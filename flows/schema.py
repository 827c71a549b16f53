"""The flow language as pydantic models (flows, steps, texts, the community file). Unknown keys
are rejected everywhere. The features' settings files are in `flows/feature_settings.py`."""

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
    RootModel,
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


class MarkdownFile(BaseModel):
    """`{md: welcome}`: the text of messages/<locale>/welcome.md in each locale."""

    model_config = ConfigDict(extra="forbid")
    md: str


class WrittenText(RootModel[str | MarkdownFile | Text]):
    """A text: one string for every language, `{md: name}`, or locale -> text (or -> plural
    forms). Only editors' schemas (`onramp schema`) use it: the loader reads Markdown files
    in before validating, and validates `LocalizedText`."""


LocalizedText = Annotated[Text, BeforeValidator(_as_text, json_schema_input_type=WrittenText)]

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


# A duration as written: what editors' schemas (`onramp schema`) say a Duration is.
DurationText = Annotated[str, StringConstraints(pattern=_DURATION.pattern)]
Duration = Annotated[
    timedelta, BeforeValidator(parse_duration, json_schema_input_type=DurationText)
]


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


ConsentDefault = Literal["granted", "asked"]
# The purposes the core enforces, each where its data is used (docs/managers/consent.md), with
# what counts for a member who never said when community.yaml does not say: the service they
# joined for (answers, mentorship) and what they have seen it do since they joined
# (leaderboards, anonymous statistics) until they withdraw; announcements only once asked.
CORE_PURPOSES: dict[str, ConsentDefault] = {
    "answers": "granted",
    "mentorship": "granted",
    "leaderboards": "granted",
    "announcements": "asked",
    "statistics": "granted",
}
# Purposes that may count before a member agrees: none of them sends the member anything.
OPT_OUT_PURPOSES = ("answers", "mentorship", "leaderboards", "statistics")


def _announcements_only() -> dict[str, ConsentDefault]:
    """community.yaml without `consent_purposes`: the one the core's /announcements is about."""
    return {"announcements": "asked"}


class Community(Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    name: str
    default_locale: Locale
    locales: list[Locale] = Field(min_length=1)
    onboarding_flow: Id
    links: dict[str, str] = Field(default_factory=dict)
    # Profile fields a flow may `set` beyond the built-in ones; a community stores only these.
    profile_fields: list[Id] = Field(default_factory=list)
    # What members may agree to, each on its own (`set: {consent.<purpose>: …}`, /privacy),
    # and what counts for a member who never said: `granted` (until they withdraw) or `asked`
    # (only once they agree). A list names purposes with their usual default (CORE_PURPOSES;
    # `asked` for a community's own). docs/managers/consent.md says why each default is what
    # it is.
    consent_purposes: dict[Id, ConsentDefault] = Field(default_factory=_announcements_only)
    # How messages are sent on each platform until a member chooses with /mode: rich
    # (buttons, link previews), text (numbered options) or lite (text, short, links on request).
    default_mode: dict[str, Mode] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _default_declared(self) -> Community:
        if self.default_locale not in self.locales:
            raise ValueError(f"default_locale {self.default_locale!r} must be one of 'locales'")
        return self

    @field_validator("consent_purposes", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        """`[announcements, leaderboards]`: each with its usual default."""
        if isinstance(value, list) and all(isinstance(purpose, str) for purpose in value):
            return {purpose: CORE_PURPOSES.get(purpose, "asked") for purpose in value}
        return value

    @field_validator("consent_purposes")
    @classmethod
    def _defaults_allowed(cls, value: dict[str, ConsentDefault]) -> dict[str, ConsentDefault]:
        for purpose, default in value.items():
            if default == "granted" and purpose not in OPT_OUT_PURPOSES:
                raise ValueError(
                    f"'{purpose}: granted': only {', '.join(OPT_OUT_PURPOSES)} may count before "
                    f"a member agrees (campaigns reach only members who said yes); "
                    f"write '{purpose}: asked'"
                )
            if purpose == "statistics" and default != "granted":
                raise ValueError(
                    "'statistics: asked': anonymous statistics count every member until they "
                    "withdraw (docs/managers/consent.md); write 'statistics: granted'"
                )
        return value

    def consent_default(self, purpose: str) -> bool:
        """Whether `purpose` counts as agreed for a member who never said."""
        default = self.consent_purposes.get(purpose) or CORE_PURPOSES.get(purpose, "asked")
        return default == "granted"

    def purposes(self) -> list[str]:
        """Every purpose a member can choose (/privacy): the core's, then the community's own."""
        return [*CORE_PURPOSES, *(p for p in self.consent_purposes if p not in CORE_PURPOSES)]


class SystemTexts(Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    texts: dict[str, LocalizedText]


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)


class Digest(Strict):
    """The weekly digest to managers in chat: on or off, and on which day at what local time
    (each manager's own time zone)."""

    enabled: bool = True
    day: Weekday = "monday"
    time: Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] = "09:00"


class DashboardTexts(Strict):
    """`dashboard.yaml`: the managers' dashboard's texts (flows/dashboard_texts.py) and the
    weekly digest's settings."""

    schema_version: Literal[1] = SCHEMA_VERSION
    texts: dict[str, LocalizedText] = Field(default_factory=dict)
    digest: Digest = Field(default_factory=Digest)


# Profile fields every member has; `set` on these updates the member's own columns.
CORE_PROFILE_FIELDS = ("locale", "timezone", "display_name", "consent")
# `set: {consent.announcements: true}` records consent for one of `consent_purposes`.
CONSENT_PREFIX = "consent."
