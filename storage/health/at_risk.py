"""The At-risk page, for managers only (the one page with names): newcomers whose flow has not
moved for `stalled_after`, mentor requests unanswered for `waiting_after`, and active
mentorships with check-ins nobody answered. The thresholds count back from the period's `end`
(now, for the page); the statuses are the ones the rows hold now.

Each list is read up to a limit, and counted whole by the same conditions (`counts`), so a
page can say how many it does not show, and `onramp report` counts without reading names."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased
from sqlmodel import col

from storage.health.sql import in_scope
from storage.health.types import (
    AtRisk,
    AtRiskCounts,
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
        counts=await counts(session, filters),
    )


async def counts(session: Session, filters: Filters) -> AtRiskCounts:
    """How many rows each list has, all of them, in one statement."""
    silent = select(func.count(func.distinct(col(Mentorship.id)))).where(*_silent_where(filters))
    statement = select(
        select(func.count()).where(*_stalled_where(filters)).scalar_subquery(),
        select(func.count()).where(*_waiting_where(filters)).scalar_subquery(),
        silent.join(CheckIn, col(CheckIn.mentorship_id) == col(Mentorship.id)).scalar_subquery(),
    )
    stalled, waiting, silent_n = (await session.execute(statement)).one()
    return AtRiskCounts(int(stalled), int(waiting), int(silent_n))


def _first_platform(member_id: Any) -> Any:
    """The platform of the member's first identity (where they came from)."""
    return (
        select(col(Identity.platform))
        .where(col(Identity.member_id) == member_id)
        .order_by(col(Identity.id))
        .limit(1)
        .scalar_subquery()
    )


def _stalled_where(filters: Filters) -> tuple[Any, ...]:
    """Open runs (active, or paused under another) untouched since before
    `end - stalled_after`."""
    return (
        col(FlowRun.status).in_((RunStatus.ACTIVE, RunStatus.PAUSED)),
        col(FlowRun.updated_at) < filters.end - filters.stalled_after,
        in_scope(filters, col(FlowRun.member_id)),
    )


def _waiting_where(filters: Filters) -> tuple[Any, ...]:
    """Requests still waiting for an offer, or offered and not taken, made before
    `end - waiting_after`."""
    return (
        col(MentorRequest.status).in_((RequestStatus.WAITING, RequestStatus.OFFERED)),
        col(MentorRequest.requested_at) < filters.end - filters.waiting_after,
        in_scope(filters, col(MentorRequest.member_id)),
    )


def _silent_where(filters: Filters) -> tuple[Any, ...]:
    """Active mentorships (of newcomers the filters keep) with check-ins asked before `end`
    that were never answered, by either person (on a join of mentorship and check-in)."""
    return (
        col(Mentorship.status) == MentorshipStatus.ACTIVE,
        col(CheckIn.answered_at).is_(None),
        col(CheckIn.asked_at) < filters.end,
        in_scope(filters, col(Mentorship.newcomer_id)),
    )


async def _stalled(session: Session, filters: Filters, limit: int) -> list[StalledNewcomer]:
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
        .where(*_stalled_where(filters))
        .order_by(col(FlowRun.updated_at), col(FlowRun.id))
        .limit(limit)
    )
    return [
        StalledNewcomer(member_id, name, platform or "", flow_id, step_id, since)
        for member_id, name, platform, flow_id, step_id, since in await session.execute(statement)
    ]


async def _waiting(session: Session, filters: Filters, limit: int) -> list[WaitingRequest]:
    statement = (
        select(
            col(Member.id),
            col(Member.display_name),
            _first_platform(col(Member.id)),
            col(MentorRequest.requested_at),
        )
        .join(Member, col(Member.id) == col(MentorRequest.member_id))
        .where(*_waiting_where(filters))
        .order_by(col(MentorRequest.requested_at), col(MentorRequest.id))
        .limit(limit)
    )
    return [
        WaitingRequest(member_id, name, platform or "", requested_at)
        for member_id, name, platform, requested_at in await session.execute(statement)
    ]


async def _silent(session: Session, filters: Filters, limit: int) -> list[SilentMentorship]:
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
        .where(*_silent_where(filters))
        .group_by(col(Mentorship.id), col(newcomer.display_name), col(mentor.display_name))
        .order_by(last_asked.desc(), col(Mentorship.id).desc())
        .limit(limit)
    )
    return [
        SilentMentorship(mentorship_id, newcomer_name, mentor_name, int(n), last)
        for mentorship_id, newcomer_name, mentor_name, n, last in await session.execute(statement)
    ]
