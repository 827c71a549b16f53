"""The At-risk page, for managers only (the one page with names): newcomers whose flow has not
moved for `stalled_after`, mentor requests unanswered for `waiting_after`, and active
mentorships with check-ins nobody answered. The thresholds count back from the period's `end`
(now, for the page); the statuses are the ones the rows hold now."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased
from sqlmodel import col

from storage.health.sql import in_scope
from storage.health.types import (
    AtRisk,
    Filters,
    SilentMentorship,
    StalledNewcomer,
    WaitingRequest,
)
from storage.models import CheckIn, FlowRun, Identity, Member, MentorRequest, Mentorship
from storage.session import Session
from storage.statuses import MentorshipStatus, RequestStatus, RunStatus


async def at_risk(session: Session, filters: Filters, limit: int = 100) -> AtRisk:
    """Each list holds at most `limit` rows: stalled runs and waiting requests oldest first,
    silent mentorships by their latest unanswered check-in, newest first."""
    return AtRisk(
        stalled=await _stalled(session, filters, limit),
        waiting=await _waiting(session, filters, limit),
        silent=await _silent(session, filters, limit),
    )


def _first_platform(member_id: Any) -> Any:
    """The platform of the member's first identity (where they came from)."""
    return (
        select(col(Identity.platform))
        .where(col(Identity.member_id) == member_id)
        .order_by(col(Identity.id))
        .limit(1)
        .scalar_subquery()
    )


async def _stalled(session: Session, filters: Filters, limit: int) -> list[StalledNewcomer]:
    """One row per open run (active, or paused under another) untouched since before
    `end - stalled_after`."""
    statement = (
        select(
            col(Member.id),
            col(Member.display_name),
            _first_platform(col(Member.id)),
            col(FlowRun.flow_id),
            col(FlowRun.step_id),
            col(FlowRun.updated_at),
        )
        .join(Member, col(Member.id) == col(FlowRun.member_id))
        .where(
            col(FlowRun.status).in_((RunStatus.ACTIVE, RunStatus.PAUSED)),
            col(FlowRun.updated_at) < filters.end - filters.stalled_after,
            in_scope(filters, col(FlowRun.member_id)),
        )
        .order_by(col(FlowRun.updated_at), col(FlowRun.id))
        .limit(limit)
    )
    return [
        StalledNewcomer(member_id, name, platform or "", flow_id, step_id, since)
        for member_id, name, platform, flow_id, step_id, since in await session.execute(statement)
    ]


async def _waiting(session: Session, filters: Filters, limit: int) -> list[WaitingRequest]:
    """Requests still waiting for an offer, or offered and not taken, made before
    `end - waiting_after`."""
    statement = (
        select(
            col(Member.id),
            col(Member.display_name),
            _first_platform(col(Member.id)),
            col(MentorRequest.requested_at),
        )
        .join(Member, col(Member.id) == col(MentorRequest.member_id))
        .where(
            col(MentorRequest.status).in_((RequestStatus.WAITING, RequestStatus.OFFERED)),
            col(MentorRequest.requested_at) < filters.end - filters.waiting_after,
            in_scope(filters, col(MentorRequest.member_id)),
        )
        .order_by(col(MentorRequest.requested_at), col(MentorRequest.id))
        .limit(limit)
    )
    return [
        WaitingRequest(member_id, name, platform or "", requested_at)
        for member_id, name, platform, requested_at in await session.execute(statement)
    ]


async def _silent(session: Session, filters: Filters, limit: int) -> list[SilentMentorship]:
    """Active mentorships (of newcomers the filters keep) with check-ins asked before `end`
    that were never answered, by either person."""
    newcomer = aliased(Member)
    mentor = aliased(Member)
    unanswered = func.count(col(CheckIn.id))
    last_asked = func.max(col(CheckIn.asked_at))
    statement = (
        select(
            col(Mentorship.id),
            col(newcomer.display_name),
            col(mentor.display_name),
            unanswered,
            last_asked,
        )
        .join(CheckIn, col(CheckIn.mentorship_id) == col(Mentorship.id))
        .join(newcomer, col(newcomer.id) == col(Mentorship.newcomer_id))
        .join(mentor, col(mentor.id) == col(Mentorship.mentor_id))
        .where(
            col(Mentorship.status) == MentorshipStatus.ACTIVE,
            col(CheckIn.answered_at).is_(None),
            col(CheckIn.asked_at) < filters.end,
            in_scope(filters, col(Mentorship.newcomer_id)),
        )
        .group_by(col(Mentorship.id), col(newcomer.display_name), col(mentor.display_name))
        .order_by(last_asked.desc(), col(Mentorship.id).desc())
        .limit(limit)
    )
    return [
        SilentMentorship(mentorship_id, newcomer_name, mentor_name, int(n), last)
        for mentorship_id, newcomer_name, mentor_name, n, last in await session.execute(statement)
    ]
