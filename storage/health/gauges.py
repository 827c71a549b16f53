"""The business gauges of /metrics: counts as they stand now, for operators' alerts — members
by onboarding state, mentor requests by status, due work by status. Every state is named,
with 0 when nobody is in it, so a gauge never vanishes from the scrape."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlmodel import col

from storage.models import DueWork, FlowRun, Member, MentorRequest
from storage.session import Session
from storage.statuses import DueStatus, RequestStatus, RunStatus

ONBOARDING_STATES = ("not_started", "in_progress", "completed", "stalled")


async def gauges(
    session: Session,
    onboarding_flow: str,
    now: datetime,
    stalled_after: timedelta = timedelta(days=7),
) -> dict[str, dict[str, int]]:
    return {
        "members_by_onboarding": await members_by_onboarding(
            session, onboarding_flow, now, stalled_after
        ),
        "mentor_requests": await _by_status(session, MentorRequest, RequestStatus),
        "due_work": await _by_status(session, DueWork, DueStatus),
    }


async def members_by_onboarding(
    session: Session, onboarding_flow: str, now: datetime, stalled_after: timedelta
) -> dict[str, int]:
    """Each member's state from their runs of the onboarding flow: `completed` if one
    completed; else `in_progress` if one is open (active, or paused under another flow) and
    moved within `stalled_after`; else `stalled` if one is open and older, or every run ended
    without completing (expired, cancelled); `not_started` without a run."""
    status, moved = col(FlowRun.status), col(FlowRun.updated_at)
    is_open = status.in_((RunStatus.ACTIVE, RunStatus.PAUSED))
    completed = func.max(case((status == RunStatus.COMPLETED, 1), else_=0))
    going = func.max(case((is_open & (moved >= now - stalled_after), 1), else_=0))
    per_member = (
        select(completed.label("completed"), going.label("going"))
        .where(col(FlowRun.flow_id) == onboarding_flow)
        .group_by(col(FlowRun.member_id))
        .subquery()
    )
    state = case(
        (per_member.c.completed == 1, "completed"),
        (per_member.c.going == 1, "in_progress"),
        else_="stalled",
    ).label("state")
    started = select(state).subquery()
    counted = select(started.c.state, func.count()).group_by(started.c.state)
    found = {name: int(n) for name, n in await session.execute(counted)}
    members = int((await session.execute(select(func.count(col(Member.id))))).scalar_one())
    found["not_started"] = members - sum(found.values())
    return {name: found.get(name, 0) for name in ONBOARDING_STATES}


async def _by_status(
    session: Session,
    table: type[MentorRequest] | type[DueWork],
    statuses: type[RequestStatus] | type[DueStatus],
) -> dict[str, int]:
    status = col(table.status)
    statement = select(status, func.count()).group_by(status)
    found = {str(name): int(n) for name, n in await session.execute(statement)}
    return {name.value: found.get(name.value, 0) for name in statuses}
