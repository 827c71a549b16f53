"""A member's right to their data: everything stored about them, and erasing it."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from sqlalchemy import delete, or_, select
from sqlmodel import SQLModel

from storage import activity, failed_events, tallies
from storage.health import daysets
from storage.models import (
    Answer,
    AuditLog,
    BadgeAward,
    CampaignRecipient,
    CheckIn,
    Consent,
    DashboardLink,
    DashboardSession,
    DueWork,
    FailedEvent,
    FlowMilestone,
    FlowRun,
    Identity,
    Kudos,
    KudosDayTotal,
    KudosTotal,
    Member,
    MemberActivity,
    MentorOffer,
    MentorProfile,
    MentorRequest,
    Mentorship,
    Outbox,
)
from storage.session import Session

PER_MEMBER_TABLES: tuple[type[SQLModel], ...] = (
    Identity,
    FlowRun,
    Answer,
    Outbox,
    DueWork,
    AuditLog,
    MentorProfile,
    MentorRequest,
    CheckIn,
    BadgeAward,
    Consent,
    CampaignRecipient,
    FailedEvent,  # also those sent before they were a member: see failed_events.of_member
    MemberActivity,
    FlowMilestone,  # when they first finished each flow, and were retained after it
    DashboardLink,  # a manager's sign-ins to the dashboard: when, never the token
    DashboardSession,
    KudosTotal,  # the running totals of the kudos they received (storage/tallies.py)
    KudosDayTotal,
)
# Rows about two members (a newcomer and a mentor, a giver and a receiver): they belong to
# both, and go with either. In deletion order, with the two columns naming the members.
PAIRS: dict[type[SQLModel], tuple[str, str]] = {
    Mentorship: ("newcomer_id", "mentor_id"),
    MentorOffer: ("newcomer_id", "mentor_id"),
    Kudos: ("giver_id", "receiver_id"),
}
PAIR_TABLES: tuple[type[SQLModel], ...] = tuple(PAIRS)


def _plain(row: SQLModel) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, date) else value  # dates and datetimes
        for key, value in row.model_dump().items()
    }


def pseudonym(member_id: int) -> str:
    """A stable label that keeps member ids out of logs and the erasure's audit entry.

    It is an unkeyed hash of a small integer, so it hides ids from a casual reader, not from
    someone with the code: logs and the audit log are still access-controlled data."""
    return hashlib.sha256(f"onramp-member:{member_id}".encode()).hexdigest()[:16]


async def export_member(session: Session, member: Member) -> dict[str, Any]:
    document: dict[str, Any] = {"member": _plain(member)}
    for table in PER_MEMBER_TABLES:
        statement = select(table).where(table.member_id == member.id)
        order = table.__table__.primary_key.columns
        rows = (await session.execute(statement.order_by(*order))).scalars()
        document[table.__tablename__] = [_plain(row) for row in rows]
    for pair in PAIR_TABLES:
        statement = select(pair).where(_either(pair, member.id))
        rows = (await session.execute(statement.order_by(pair.id))).scalars()
        document[pair.__tablename__] = [_plain(row) for row in rows]
    failed = await failed_events.of_member(session, member.id or 0)
    document[FailedEvent.__tablename__] = [_plain(row) for row in failed]
    return document


def _either(pair: type[SQLModel], member_id: int | None) -> Any:
    one, other = PAIRS[pair]
    return or_(getattr(pair, one) == member_id, getattr(pair, other) == member_id)


async def forget_member(session: Session, member: Member, actor: str) -> None:
    """Delete the member and every row about them; leave one audit entry without personal data."""
    assert member.id is not None
    await failed_events.forget(session, member.id)  # before their identities go
    # Others' milestones that rested on their rows: the kudos they gave, the mentorships
    # they mentored (storage/activity.py works those firsts out again once the rows go).
    thanked = select(Kudos.receiver_id).where(Kudos.giver_id == member.id)
    mentored = select(Mentorship.newcomer_id).where(Mentorship.mentor_id == member.id)
    receivers = set((await session.execute(thanked)).scalars()) - {member.id}
    newcomers = set((await session.execute(mentored)).scalars()) - {member.id}
    await daysets.forget_member(session, member.id, member.created_at)  # while their rows tell
    for pair in PAIR_TABLES:
        await session.execute(delete(pair).where(_either(pair, member.id)))
    for table in PER_MEMBER_TABLES:
        await session.execute(delete(table).where(table.member_id == member.id))
    await activity.recount(session, receivers=receivers, newcomers=newcomers)
    await tallies.recount(session, receivers | {member.id})  # the leaderboards' running totals
    await session.delete(member)
    session.add(
        AuditLog(actor=actor, action="member.forgotten", detail={"member": pseudonym(member.id)})
    )
