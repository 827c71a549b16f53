"""The tables. Every per-member row cascades from `member`, so forgetting a member is one delete."""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    UniqueConstraint,
    event,
    text,
)
from sqlmodel import Field, SQLModel

from storage.statuses import (
    OUTBOX_OPEN_SQL,
    CampaignState,
    DeliveryStatus,
    DueStatus,
    FailedEventStatus,
    MentorshipStatus,
    OfferStatus,
    OutboxStatus,
    RecipientStatus,
    RequestStatus,
    RunStatus,
)
from storage.types import JSONDocument, StatusColumn, UTCDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


def _when(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def _json(default: type[list[Any]] | type[dict[str, Any]]) -> Any:
    return Field(default_factory=_EMPTY[default], sa_type=JSONDocument, nullable=False)


def _empty_list() -> list[Any]:
    return []


def _empty_dict() -> dict[str, Any]:
    return {}


# Python functions rather than `list` and `dict` themselves: pydantic reads a default factory's
# signature each time it calls it, and a builtin's is parsed from its text signature, which made
# a class and a dozen objects in reference cycles for every new member, run or answer.
_EMPTY: dict[type[Any], Any] = {list: _empty_list, dict: _empty_dict}


def _status(default: StrEnum, length: int = 16) -> Any:
    """A status column (`storage/statuses.py`): a VARCHAR holding the status's string, read
    back as its name."""
    return Field(default=default, sa_type=StatusColumn(type(default), length), nullable=False)


def _member_fk(nullable: bool = False, index: bool = True) -> Any:
    return Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("member.id", ondelete="CASCADE"),
            nullable=nullable,
            index=index,
        ),
    )


def name_key(name: str) -> str:
    """How a name is looked up (`/kudos @Name`): Unicode-normalised (NFKC), case-folded in
    every script (not only ASCII, as SQLite's lower() is), spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())[:200]


def _name_key_default(context: Any) -> str:
    return name_key(context.get_current_parameters().get("display_name") or "")


class Member(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    display_name: str = Field(default="", max_length=200)
    # `name_key(display_name)`, kept by the events below (and, for rows inserted without the
    # ORM, by the column's default): members found by name in one seek.
    name_key: str = Field(
        default="",
        max_length=200,
        index=True,
        sa_column_kwargs={"default": _name_key_default},
    )
    locale: str | None = Field(default=None, max_length=35)
    timezone: str | None = Field(default=None, max_length=64)
    roles: list[str] = _json(list)
    profile: dict[str, Any] = _json(dict)
    consent: bool | None = Field(default=None)
    consent_at: datetime | None = _when(nullable=True)
    opted_out: bool = Field(default=False)
    source: str | None = Field(default=None, max_length=200)
    # Indexed: every health metric starts from who joined in a period.
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    last_active_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # How messages reach them (/mode): rich, text or lite; None: their platform's default.
    mode: str | None = Field(default=None, max_length=8)
    # In lite mode, the links taken out of the last messages sent them, for /links.
    links: list[str] | None = Field(default=None, sa_type=JSONDocument, nullable=True)
    # When the bot's first message to them was sent (time from joining to a first message).
    first_reached_at: datetime | None = _when(nullable=True)
    # Milestones the health metrics read instead of probing other tables per member, kept in
    # the transaction that writes what they summarise (storage/health/milestones.py): when
    # their mentor request was made (its `requested_at`, moved when a cancelled one reopens),
    # when they were first matched as a newcomer, when they first received a live kudos.
    mentor_requested_at: datetime | None = _when(nullable=True)
    first_matched_at: datetime | None = _when(nullable=True)
    # Indexed (ix_member_first_kudos_at, 0014): the overview's first contributions and New
    # Contributors are a range of it. (Before the funnel read this column, an index here made
    # SQLite scan members in its order while probing other tables per member.)
    first_kudos_at: datetime | None = _when(nullable=True, index=True)


@event.listens_for(Member, "before_insert")
def _name_key_when_created(_mapper: Any, _connection: Any, member: Member) -> None:
    member.name_key = name_key(member.display_name or "")


@event.listens_for(Member.display_name, "set")
def _name_key_when_renamed(member: Member, value: str | None, _old: Any, _by: Any) -> None:
    member.name_key = name_key(value or "")


class FlowMilestone(SQLModel, table=True):
    """When a member first finished a flow, and the day they became retained after it: active
    on days in 2 of the 4 weeks after the day they finished it (week k: days 7k+1 to 7k+7
    after; `retained_on` is the first active day of the second such week). One row per member
    and flow they finished, whichever flow the content calls onboarding."""

    __tablename__ = "flow_milestone"
    # The overview's onboarded members: a period's first finishes of the onboarding flow.
    __table_args__ = (Index("ix_flow_milestone_finished", "flow_id", "finished_at"),)

    member_id: int = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True),
    )
    flow_id: str = Field(primary_key=True, max_length=64)
    finished_at: datetime = Field(sa_type=UTCDateTime)
    retained_on: date | None = Field(default=None)


class MemberActivity(SQLModel, table=True):
    """A UTC day on which a member did something (wrote, chose, ran a command), and on which
    platform they first did that day: one row per member per day, for the health metrics."""

    __tablename__ = "member_activity"
    # A period's active members, and each cohort's months, read only this index.
    __table_args__ = (Index("ix_member_activity_day_member", "day", "member_id"),)

    member_id: int = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True),
    )
    day: date = Field(primary_key=True)
    platform: str = Field(max_length=32)


class DaySummary(SQLModel, table=True):
    """Which members did one kind of thing (were active, joined, gave or received a live kudos)
    on one closed UTC day, as a serialized Roaring bitmap of their ids: a cache of the rows it
    summarises, filled by a periodic job and read by the health metrics
    (storage/health/daysets.py). Losing it loses nothing: it is worked out again."""

    __tablename__ = "day_summary"

    kind: str = Field(primary_key=True, max_length=16)
    day: date = Field(primary_key=True)
    summary: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    # NULL: dropped by a change (a kudos revoked, a member forgotten), to be worked
    # out again; the version moves on at each drop.
    version: int = Field(default=0)


class KudosTotal(SQLModel, table=True):
    """The live kudos a member (`member_id`) received, ever: per kind of contribution
    (`category`), and in all (''), kept in the transaction of each kudos given or revoked
    (storage/tallies.py).
    The all-time leaderboard reads its first rows by points; without it, a million kudos were
    summed at each `/kudos top`.

    `week_*` and `month_*` are the same for the days from the first day of the week's and the
    month's window on (`KudosWindow`), which moves each day: the week's and the month's
    leaderboards read their first rows the same way."""

    __tablename__ = "kudos_total"
    __table_args__ = (
        Index("ix_kudos_total_points", "category", "points", "member_id"),
        Index("ix_kudos_total_week", "category", "week_points", "week_kudos", "member_id"),
        Index("ix_kudos_total_month", "category", "month_points", "month_kudos", "member_id"),
        {"sqlite_with_rowid": False},
    )

    member_id: int = Field(  # who received them
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    )
    category: str = Field(primary_key=True, max_length=64)
    points: float = Field(default=0.0)  # the sum of the kudos' weights
    kudos: int = Field(default=0)
    week_points: float = Field(default=0.0, sa_column_kwargs={"server_default": "0"})
    week_kudos: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    month_points: float = Field(default=0.0, sa_column_kwargs={"server_default": "0"})
    month_kudos: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class KudosWindow(SQLModel, table=True):
    """Where the week's and the month's running totals (`KudosTotal.week_*`, `month_*`) start:
    they hold the kudos of the UTC days from `first_day` on. A leaderboard read in a turn moves
    it on to the first whole day of its period, taking the days it leaves behind away
    (storage/tallies.py, `roll`)."""

    __tablename__ = "kudos_window"

    period: str = Field(primary_key=True, max_length=16)  # "week" or "month"
    first_day: date


class KudosDayTotal(SQLModel, table=True):
    """The same per UTC day the kudos were given: a week's or a month's leaderboard adds up
    at most 31 days of these (and the rows of the part of a day its start cuts)."""

    __tablename__ = "kudos_day_total"
    # Keyed by category first: a period's rows in one category (or all) are one range.
    __table_args__ = ({"sqlite_with_rowid": False},)

    category: str = Field(primary_key=True, max_length=64)
    day: date = Field(primary_key=True)
    member_id: int = Field(  # who received them
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    )
    points: float = Field(default=0.0)
    kudos: int = Field(default=0)


class Identity(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("platform", "workspace", "external_id"),
        # Members mentioned by their handle (`/kudos @handle`): one seek.
        Index("ix_identity_handle", "platform", "workspace", "username"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = _member_fk()
    platform: str = Field(max_length=32)
    workspace: str = Field(default="", max_length=128)
    external_id: str = Field(max_length=128)
    dm_conversation: str | None = Field(default=None, max_length=128)
    # Their handle on the platform (a Telegram username), lower-cased: how others mention them.
    username: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # When the member last wrote to the bot on this platform (WhatsApp's 24-hour window).
    last_inbound_at: datetime | None = _when(nullable=True)


class FlowRun(SQLModel, table=True):
    __tablename__ = "flow_run"
    __table_args__ = (
        Index("ix_flow_run_member_status", "member_id", "status"),
        # Who finished a flow, and when (health: onboarded, the funnel), from the index alone.
        Index("ix_flow_run_finished", "flow_id", "status", "member_id", "finished_at"),
        # Runs by status and start: the onboarding page's drop-off (expired or open runs
        # started in a period, with the columns it reads, so no run's row is read) and the
        # at-risk list's open runs. Every step of a flow rewrites its entry (`updated_at`,
        # `step_id`): bench/commands.py measured the onboarding step with it (0017).
        Index("ix_flow_run_stopped", "status", "started_at", "updated_at", "flow_id", "step_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = _member_fk()
    flow_id: str = Field(max_length=64)
    step_id: str | None = Field(default=None, max_length=64)
    state: dict[str, Any] = _json(dict)
    status: RunStatus = _status(RunStatus.ACTIVE)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = _when(nullable=True)
    expires_at: datetime | None = _when(nullable=True)


class Answer(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("run_id", "step_id"),
        # A period's answers to one flow (the survey results of the Campaigns page).
        Index("ix_answer_flow_answered", "flow_id", "answered_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(
        sa_column=Column(Integer, ForeignKey("flow_run.id", ondelete="CASCADE"), nullable=False)
    )
    member_id: int = _member_fk()
    flow_id: str = Field(max_length=64)
    step_id: str = Field(max_length=64)
    value: Any = Field(default=None, sa_type=JSONDocument, nullable=True)
    answered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ProcessedEvent(SQLModel, table=True):
    __tablename__ = "processed_event"

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=255, unique=True)
    platform: str = Field(max_length=32)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class Outbox(SQLModel, table=True):
    __table_args__ = (
        Index("ix_outbox_status_not_before", "status", "not_before"),
        # A recipient's open rows, which a claim checks before taking a later one: only rows
        # still to be delivered, so the check reads a handful whatever a member's history.
        Index(
            "ix_outbox_open",
            "platform",
            "recipient",
            "id",
            sqlite_where=text(OUTBOX_OPEN_SQL),
            postgresql_where=text(OUTBOX_OPEN_SQL),
        ),
        Index("ix_outbox_delivery", "platform", "delivery_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=255, unique=True)
    member_id: int | None = _member_fk(nullable=True)
    platform: str = Field(max_length=32)
    recipient: str = Field(max_length=255)
    payload: dict[str, Any] = _json(dict)
    status: OutboxStatus = _status(OutboxStatus.PENDING)
    attempts: int = Field(default=0)
    not_before: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    lease_until: datetime | None = _when(nullable=True)
    delivery_id: str | None = Field(default=None, max_length=255)
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = _when(nullable=True)
    # What the platform said of it later (WhatsApp): delivered, read, failed.
    delivery_status: DeliveryStatus | None = Field(
        default=None, sa_type=StatusColumn(DeliveryStatus, 16), nullable=True
    )
    delivery_status_at: datetime | None = _when(nullable=True)


class DueWork(SQLModel, table=True):
    __tablename__ = "due_work"
    __table_args__ = (Index("ix_due_work_status_due_at", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=255, unique=True)
    kind: str = Field(max_length=64)
    member_id: int | None = _member_fk(nullable=True)
    payload: dict[str, Any] = _json(dict)
    due_at: datetime = Field(sa_type=UTCDateTime)
    status: DueStatus = _status(DueStatus.PENDING)
    lease_until: datetime | None = _when(nullable=True)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    done_at: datetime | None = _when(nullable=True)


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64)
    member_id: int | None = _member_fk(nullable=True)
    detail: dict[str, Any] = _json(dict)


class MentorProfile(SQLModel, table=True):
    """A member who mentors: what they help with, when, and how many mentees at once."""

    __tablename__ = "mentor_profile"

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("member.id", ondelete="CASCADE"), nullable=False, unique=True
        ),
    )
    topics: list[str] = _json(list)
    languages: list[str] = _json(list)
    hours_start: int | None = Field(default=None)  # local hours [start, end) they can meet
    hours_end: int | None = Field(default=None)
    capacity: int = Field(default=1)
    intro: str = Field(default="", max_length=1000)
    paused: bool = Field(default=False)
    expired_in_a_row: int = Field(default=0)  # offers left unanswered since the last answer
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MentorOffer(SQLModel, table=True):
    """A mentor offered to a newcomer: offered, then accepted, declined, expired or
    withdrawn. One row per pair ever: a pair is never proposed twice."""

    __tablename__ = "mentor_offer"
    __table_args__ = (
        UniqueConstraint("newcomer_id", "mentor_id"),
        Index("ix_mentor_offer_status_expires_at", "status", "expires_at"),
        # The health metrics: a period's offers by status, and each newcomer's accepted one.
        Index("ix_mentor_offer_offered_at", "offered_at", "status"),
        Index("ix_mentor_offer_newcomer_answered", "newcomer_id", "status", "answered_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    newcomer_id: int = _member_fk()
    mentor_id: int = _member_fk()
    status: OfferStatus = _status(OfferStatus.OFFERED)
    score: float = Field(default=0.0)
    reasons: list[dict[str, Any]] = _json(list)
    offered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    answered_at: datetime | None = _when(nullable=True)


class Mentorship(SQLModel, table=True):
    """An accepted offer: active until it ends (its schedule runs out, or either ends it)."""

    __table_args__ = (
        Index("ix_mentorship_status", "status"),
        Index("ix_mentorship_started_at", "started_at", "mentor_id"),  # the health metrics
        # Deleting an offer (an erasure deletes a mentor's) looks for mentorships that name
        # it, to empty their offer_id: without this, a read of every mentorship per offer.
        Index("ix_mentorship_offer_id", "offer_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    newcomer_id: int = _member_fk()
    mentor_id: int = _member_fk()
    offer_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("mentor_offer.id", ondelete="SET NULL")),
    )
    status: MentorshipStatus = _status(MentorshipStatus.ACTIVE)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    ended_at: datetime | None = _when(nullable=True)
    end_reason: str | None = Field(default=None, max_length=64)


class MentorRequest(SQLModel, table=True):
    """A newcomer asking for a mentor: waiting until an offer goes out, offered while one is
    open, matched once accepted, cancelled if they no longer want one."""

    __tablename__ = "mentor_request"
    __table_args__ = (
        Index("ix_mentor_request_status", "status"),
        # The health metrics: a period's requests, and how long each waited (0016).
        Index("ix_mentor_request_requested_at", "requested_at", "member_id", "matched_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("member.id", ondelete="CASCADE"), nullable=False, unique=True
        ),
    )
    status: RequestStatus = _status(RequestStatus.WAITING)
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # When an offer the newcomer accepted matched this request (the request's wait ends
    # there: CHAOSS Time to First Response); None until then, and again when it reopens.
    matched_at: datetime | None = _when(nullable=True)


class CheckIn(SQLModel, table=True):
    """One check-in of one person in a mentorship: asked, then perhaps answered (1-5 and a
    few words)."""

    __tablename__ = "checkin"
    __table_args__ = (
        UniqueConstraint("mentorship_id", "member_id", "number"),
        Index("ix_checkin_asked_at", "asked_at", "answered_at"),  # the health metrics
    )

    id: int | None = Field(default=None, primary_key=True)
    mentorship_id: int = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("mentorship.id", ondelete="CASCADE"), nullable=False, index=True
        ),
    )
    member_id: int = _member_fk()
    number: int = Field(default=0)  # 0, 1, 2… in the schedule; the last is the closing one
    asked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    answered_at: datetime | None = _when(nullable=True)
    score: int | None = Field(default=None)
    comment: str | None = Field(default=None, max_length=1000)


class Kudos(SQLModel, table=True):
    """One member thanking another for a contribution, in a category; revocable by a
    community manager (the row stays, marked, so the audit holds)."""

    __table_args__ = (
        # Leaderboards read only these covering, partial indexes (the live kudos): all time
        # by receiver (and a member's own summary by category), a period by date, a period
        # in one category by category and date.
        Index(
            "ix_kudos_live_receiver",
            "receiver_id",
            "category",
            "weight",
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
        Index(
            "ix_kudos_live_created",
            "created_at",
            "receiver_id",
            "weight",
            "giver_id",  # and the health metrics' givers and kinds per month (0009)
            "category",
            # Always NULL here, but SQLite (3.40) treats a partial index as covering only
            # when it holds the columns of its own WHERE: without it, every row is read too.
            "revoked_at",
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
        # Each member's first kudos received: their first contribution (health).
        Index(
            "ix_kudos_live_receiver_created",
            "receiver_id",
            "created_at",
            "revoked_at",  # covering on SQLite, as above
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
        # Whether a member gave a live kudos in a period (health: givers).
        Index(
            "ix_kudos_live_giver_created",
            "giver_id",
            "created_at",
            "revoked_at",  # covering on SQLite, as above
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
        Index(
            "ix_kudos_live_category_created",
            "category",
            "created_at",
            "receiver_id",
            "weight",
            "revoked_at",  # covering on SQLite, as above (0009): health's kudos per kind
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
        # The rules' counts: a giver's kudos lately, to one receiver lately.
        Index("ix_kudos_giver_created", "giver_id", "created_at"),
        # The shout-outs of the last hour (revoked ones too), counted before every kudos:
        # without it, PostgreSQL read every kudos (54 ms at a million).
        Index(
            "ix_kudos_shouted_created",
            "created_at",
            sqlite_where=text("shouted IS 1"),
            postgresql_where=text("shouted IS TRUE"),
        ),
        Index("ix_kudos_pair_created", "giver_id", "receiver_id", "created_at"),
        # Deleting a member (an erasure) looks for the kudos they revoked, to empty
        # revoked_by: only revoked kudos have one, so this costs a kudos nothing.
        Index(
            "ix_kudos_revoked_by",
            "revoked_by",
            sqlite_where=text("revoked_by IS NOT NULL"),
            postgresql_where=text("revoked_by IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # None once that member is erased (storage/privacy.py): the kudos still counts for the
    # other one, from or to "a former member" (migration 0020).
    giver_id: int | None = _member_fk(nullable=True, index=False)
    receiver_id: int | None = _member_fk(nullable=True, index=False)
    category: str = Field(max_length=32)
    reason: str = Field(max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    weight: float = Field(default=1.0)  # less than 1 when A and B keep thanking each other
    shouted: bool = Field(default=False)  # announced in the recognition channel
    revoked_at: datetime | None = _when(nullable=True)
    revoked_by: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="SET NULL")),
    )


class BadgeAward(SQLModel, table=True):
    """A badge a member earned, once."""

    __tablename__ = "badge_award"
    # By day: the health metrics count a period's badges, and summarise each day's.
    __table_args__ = (
        UniqueConstraint("member_id", "badge"),
        Index("ix_badge_award_awarded_at", "awarded_at", "badge"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = _member_fk()
    badge: str = Field(max_length=32)
    awarded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Consent(SQLModel, table=True):
    """What a member agreed to be contacted for (a purpose: announcements…), and when they
    agreed or withdrew. No row: never asked, which counts as no."""

    __table_args__ = (UniqueConstraint("member_id", "purpose"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = _member_fk(index=False)
    purpose: str = Field(max_length=32)
    granted: bool = Field(default=False)
    given_at: datetime | None = _when(nullable=True)
    withdrawn_at: datetime | None = _when(nullable=True)
    source: str | None = Field(default=None, max_length=64)  # a flow, "stop announcements"…


class Campaign(SQLModel, table=True):
    """One send of a campaign file: its definition frozen when it was planned (so editing the
    file mid-send changes nothing), and where it is: draft → planning → scheduled → sending
    → done, or cancelled."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True)  # the file's id
    title: str = Field(default="", max_length=200)
    definition: dict[str, Any] = _json(dict)  # frozen at plan time
    definition_hash: str = Field(max_length=64)
    state: CampaignState = _status(CampaignState.DRAFT, length=24)
    send_at: datetime | None = _when(nullable=True)  # an absolute time; None: per recipient
    expires_at: datetime | None = _when(nullable=True)
    seed: int = Field(default=0)  # orders each platform's recipients (a shuffle)
    requested_by: str = Field(default="", max_length=128)
    approved_by: str | None = Field(default=None, max_length=128)
    planned_through: int = Field(default=0)  # planning resumes after this member id
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    planned_at: datetime | None = _when(nullable=True)
    finished_at: datetime | None = _when(nullable=True)


class CampaignRecipient(SQLModel, table=True):
    """One member a campaign reaches, or leaves out (status `excluded`, with the reason),
    with what they are sent frozen at plan time: platform, address, language, variables."""

    __tablename__ = "campaign_recipient"
    __table_args__ = (
        UniqueConstraint("campaign_id", "member_id"),
        Index("ix_campaign_recipient_feed", "campaign_id", "status", "send_at", "position"),
        Index("ix_campaign_recipient_outbox", "outbox_id"),
        Index("ix_campaign_recipient_delivery", "platform", "delivery_id"),
        # What became of a campaign's messages, per status and platform, and why members were
        # left out (the Campaigns page): read from this index alone.
        Index(
            "ix_campaign_recipient_outcome",
            "campaign_id",
            "status",
            "platform",
            "reason",
            "member_id",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False, index=False
        ),
    )
    member_id: int = _member_fk()
    platform: str = Field(default="", max_length=32)
    workspace: str = Field(default="", max_length=128)
    recipient: str = Field(default="", max_length=255)
    locale: str = Field(default="", max_length=35)
    name: str = Field(default="", max_length=200)  # {{ member.name }}, as it was at plan time
    last_inbound_at: datetime | None = _when(nullable=True)
    position: int = Field(default=0)  # the shuffled order within a send time
    send_at: datetime | None = _when(nullable=True)
    # planned → queued → sent → delivered → read; or failed, cancelled, expired, excluded.
    status: RecipientStatus = _status(RecipientStatus.PLANNED)
    reason: str | None = Field(default=None, max_length=500)  # why excluded, or failed
    retryable: bool = Field(default=False)  # a failure another attempt may cure
    outbox_id: int | None = Field(default=None)
    delivery_id: str | None = Field(default=None, max_length=255)
    attempts: int = Field(default=0)
    updated_at: datetime | None = _when(nullable=True)


class FailedEvent(SQLModel, table=True):
    """An event whose handling kept failing: recorded instead of blocking the events after it
    (the dead letter of `bot/failed_events.py`). Its columns say what failed, never what the
    member wrote; `event` holds the event itself, only so `onramp events retry` can run it
    again: it is never listed nor logged, and is emptied once replayed or when the member is
    forgotten, and pruned with the row after `[retention] failed_events_days`."""

    __tablename__ = "failed_event"

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=255, unique=True)
    platform: str = Field(max_length=32)
    workspace: str = Field(default="", max_length=128)
    # Who sent it (the platform's user id), so forgetting them finds it even when the failure
    # came before they were a member; and their member id when they were one.
    actor: str = Field(default="", max_length=128)
    member_id: int | None = _member_fk(nullable=True)
    event_type: str = Field(max_length=64)  # MessageReceived, CommandInvoked…
    error: str = Field(max_length=200)  # the exception's class, never its message
    attempts: int = Field(default=0)
    failed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    status: FailedEventStatus = _status(FailedEventStatus.FAILED)
    retried_at: datetime | None = _when(nullable=True)
    event: dict[str, Any] | None = Field(default=None, sa_type=JSONDocument, nullable=True)


class DashboardLink(SQLModel, table=True):
    """A one-time sign-in link to the dashboard (bot/health/access.py): the signed token
    carries `nonce`; the row says whether it is still good. Never the token itself."""

    __tablename__ = "dashboard_link"

    id: int | None = Field(default=None, primary_key=True)
    nonce: str = Field(max_length=64, unique=True)
    member_id: int = _member_fk()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    used_at: datetime | None = _when(nullable=True)


class DashboardSession(SQLModel, table=True):
    """A manager signed in to the dashboard: the SHA-256 of the cookie's value, never the
    value, so a copy of the database opens no session."""

    __tablename__ = "dashboard_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    member_id: int = _member_fk()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ErasedIdentity(SQLModel, table=True):
    """Someone who asked for their data to be erased, as a keyed pseudonym of the platform
    identity they used (storage/pseudonyms.py), so that the bot never welcomes them again on a
    workspace join nor sends them a campaign, without keeping who they were. If they come back
    on their own, they start fresh."""

    __tablename__ = "erased_identity"

    key: str = Field(primary_key=True, max_length=64)
    erased_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AppSecret(SQLModel, table=True):
    """A secret the bot made itself because the operator set none (the pseudonyms' key without
    `ONRAMP_PSEUDONYM_KEY`), kept here so that every replica and restart shares it."""

    __tablename__ = "app_secret"

    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
