"""Campaign files (`content/campaigns/<id>.yaml`) as pydantic models.

A campaign is a title, a segment (who), a message or a flow (what), a send time (when) and
an optional expiry. Segments are declarative filters, never code: each test is one key, and
`all`, `any` and `not` combine them.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from babel.core import get_global
from pydantic import BeforeValidator, Field, field_validator, model_validator

from flows.schema import (
    SCHEMA_VERSION,
    Duration,
    DurationText,
    Id,
    LocalizedText,
    Strict,
    WhatsAppTemplate,
    parse_duration,
)

ROLES_BUILT_IN = ("newcomer", "mentor", "manager")
ONBOARDING_STATES = ("not_started", "in_progress", "completed")
MENTORSHIP_STATES = ("active", "none")


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str | int | float) else value


Names = Annotated[
    list[str],
    BeforeValidator(_one_or_many, json_schema_input_type=str | list[str]),
    Field(min_length=1),
]


def _moment(value: Any) -> Any:
    """An absolute time (aware), a date (midnight UTC), or a duration ago (`30d`)."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time(), UTC)
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is neither a date (2026-12-01), a time (2026-12-01T10:00:00Z) "
                "nor a duration ago (30d)"
            ) from None
        return parsed
    return value


Moment = Annotated[
    datetime | timedelta,
    BeforeValidator(_moment, json_schema_input_type=date | datetime | DurationText),
]


def _aware(moment: datetime | timedelta) -> datetime | timedelta:
    if isinstance(moment, datetime) and moment.tzinfo is None:
        if moment.time() == time():
            return moment.replace(tzinfo=UTC)  # a bare date: midnight UTC
        raise ValueError("a time needs its offset: add Z (UTC) or +03:00")
    return moment


class Between(Strict):
    """`before` and/or `after`: a date, a time, or a duration ago (`after: 30d`: within the
    last 30 days)."""

    before: Moment | None = None
    after: Moment | None = None

    @model_validator(mode="after")
    def _some(self) -> Between:
        if self.before is None and self.after is None:
            raise ValueError("give 'before', 'after' or both")
        object.__setattr__(self, "before", _aware(self.before) if self.before else None)
        object.__setattr__(self, "after", _aware(self.after) if self.after else None)
        return self


class OffsetRange(Strict):
    """UTC offsets in hours, both ends included: {from: -3, to: 3}."""

    from_: float = Field(alias="from", ge=-12, le=14)
    to: float = Field(ge=-12, le=14)

    @model_validator(mode="after")
    def _ordered(self) -> OffsetRange:
        if self.from_ > self.to:
            raise ValueError("'from' must not be after 'to'")
        return self


class Stalled(Strict):
    """Onboarding started and left: no answer for `for` (a duration), at step `at` if given."""

    for_: Duration = Field(alias="for")
    at: Id | None = None


class KudosReceived(Strict):
    at_least: int = Field(ge=1)
    within: Duration | None = None


def _countries() -> frozenset[str]:
    return frozenset(get_global("territory_zones"))


SEGMENT_TESTS = (
    "all",
    "any",
    "not",
    "platform",
    "locale",
    "country",
    "timezone",
    "utc_offset",
    "role",
    "interests",
    "joined",
    "last_active",
    "onboarding",
    "stalled",
    "mentorship",
    "kudos_received",
    "consent",
)


class Segment(Strict):
    """Exactly one test. `platform` is where the member was seen last (where the message
    goes); `country` is the one of their time zone; `role: newcomer` is neither mentor nor
    manager; `interests` matches any of those listed."""

    all_: list[Segment] | None = Field(default=None, alias="all", min_length=1)
    any_: list[Segment] | None = Field(default=None, alias="any", min_length=1)
    not_: Segment | None = Field(default=None, alias="not")
    platform: Names | None = None
    locale: Names | None = None
    country: Names | None = None
    timezone: Names | None = None
    utc_offset: OffsetRange | None = None
    role: Names | None = None
    interests: Names | None = None
    joined: Between | None = None
    last_active: Between | None = None
    onboarding: Literal["not_started", "in_progress", "completed"] | None = None
    stalled: Stalled | None = None
    mentorship: Literal["active", "none"] | None = None
    kudos_received: KudosReceived | None = None
    consent: Id | None = None

    @model_validator(mode="after")
    def _one_test(self) -> Segment:
        tests = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(tests) != 1:
            names = ", ".join(SEGMENT_TESTS)
            raise ValueError(f"each segment entry has exactly one test (one of: {names})")
        return self

    @field_validator("country")
    @classmethod
    def _known_countries(cls, codes: list[str] | None) -> list[str] | None:
        for code in codes or []:
            if code.upper() not in _countries():
                raise ValueError(f"{code!r} is not a country code such as KE, PE or PH")
        return [code.upper() for code in codes] if codes else codes

    @field_validator("timezone")
    @classmethod
    def _known_zones(cls, zones: list[str] | None) -> list[str] | None:
        for zone in zones or []:
            if zone not in zoneinfo.available_timezones():
                raise ValueError(f"{zone!r} is not a time zone such as Africa/Nairobi")
        return zones

    def test(self) -> tuple[str, Any]:
        name = next(n for n in type(self).model_fields if getattr(self, n) is not None)
        return name.rstrip("_"), getattr(self, name)


_LOCAL_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class LocalSendTime(Strict):
    """`{local_time: "10:00", date: 2026-12-01}`: 10:00 in each recipient's own time zone."""

    local_time: str
    date: date

    @field_validator("local_time", mode="before")
    @classmethod
    def _hh_mm(cls, value: Any) -> Any:
        if isinstance(value, int):  # YAML reads 10:00 unquoted as sexagesimal 600
            value = f"{value // 60:02d}:{value % 60:02d}"
        if not isinstance(value, str) or not _LOCAL_TIME.match(value):
            raise ValueError('a local time is "HH:MM", such as "10:00"')
        return value

    def clock_time(self) -> time:
        hours, minutes = self.local_time.split(":")
        return time(int(hours), int(minutes))


def _send_time(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() == "now":
        return "now"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                'send_at is "now", a time such as 2026-12-01T15:00:00Z, or '
                '{local_time: "10:00", date: 2026-12-01}'
            ) from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(
                "send_at needs its offset: add Z (UTC) or +03:00, or use "
                '{local_time: "10:00", date: ...} for each recipient\'s own time'
            )
        return value
    return value


SendTime = Annotated[Literal["now"] | datetime | LocalSendTime, BeforeValidator(_send_time)]


class Campaign(Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    id: Id
    title: LocalizedText
    description: str | None = None
    # What the member agreed to be contacted for; members without that consent are left out.
    purpose: Id = "announcements"
    segment: Segment
    # Either a message (Markdown subset, translated) or a flow to start (a survey).
    message: LocalizedText | None = None
    flow: Id | None = None
    # For WhatsApp members who last wrote more than 24 hours before the send; without one,
    # they are left out (WhatsApp accepts nothing else then).
    whatsapp_template: WhatsAppTemplate | None = None
    send_at: SendTime = "now"
    # Unsent messages are dropped after this time, or this long after their send time.
    expires_at: datetime | None = None
    expire_after: Duration | None = None

    @model_validator(mode="after")
    def _what(self) -> Campaign:
        if (self.message is None) == (self.flow is None):
            raise ValueError("a campaign has either 'message' or 'flow', not both and not neither")
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise ValueError("expires_at needs its offset: add Z (UTC) or +03:00")
        at, until = self.send_at, self.expires_at
        if isinstance(at, datetime) and until is not None and until <= at:
            raise ValueError("expires_at must be after send_at")
        return self


Segment.model_rebuild()

CAMPAIGN_KEYS = (
    *Campaign.model_fields,
    *SEGMENT_TESTS,
    "before",
    "after",
    "from",
    "to",
    "for",
    "at",
    "at_least",
    "within",
    "local_time",
    "date",
)


def utc_text(moment: datetime) -> str:
    """A time as managers read it in messages about campaigns: "2026-12-01 10:00 UTC"."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# A local time comes first in UTC+14 (Kiritimati) and last in UTC-12 (Baker Island).
FIRST_ZONE_AHEAD = timedelta(hours=14)
LAST_ZONE_BEHIND = timedelta(hours=12)


@dataclass(frozen=True)
class Lateness:
    """How a campaign's own times stand at one moment. `send_passed`: its send time has passed
    (a local time: in every zone), so it would go at once; `send_passed_somewhere`: a local
    time passed in some zones only; `expired`: its `expires_at` comes before any member's send
    time, so nobody can be sent it; `expires_early`: a local-time send whose `expires_at`
    comes before that time in the zones furthest west, whose members would not get it.
    `expire_after` counts from each member's own send time, never in the past, so it never
    makes a campaign late."""

    send_passed: bool = False
    send_passed_somewhere: bool = False
    expired: bool = False
    expires_early: bool = False

    @property
    def late(self) -> bool:
        return self.send_passed or self.expired


def lateness(campaign: Campaign, now: datetime, at: datetime | None = None) -> Lateness:
    """`campaign`'s times against `now` (the caller's clock), with `at` standing in for its
    `send_at` when given (a manager's own start time)."""
    until = campaign.expires_at
    if at is not None:
        return Lateness(expired=until is not None and until <= max(at, now))
    send_at = campaign.send_at
    if isinstance(send_at, LocalSendTime):
        local = datetime.combine(send_at.date, send_at.clock_time(), UTC)
        first, last = local - FIRST_ZONE_AHEAD, local + LAST_ZONE_BEHIND
        expired = until is not None and until <= max(first, now)
        return Lateness(
            send_passed=last < now,
            send_passed_somewhere=first < now <= last,
            expired=expired,
            expires_early=until is not None and not expired and until <= last,
        )
    start = send_at if isinstance(send_at, datetime) else now
    return Lateness(send_passed=start < now, expired=until is not None and until <= max(start, now))
