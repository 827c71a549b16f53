"""The Overview page: five counts for the period, each against the period before it.

Both periods are counted in one pass over the rows of the two (the period before is the same
length, just before `start`): each count is a pair of conditional counts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select

from storage.health import daysets, sql
from storage.health.daysets import Kind
from storage.health.types import Filters, Overview, Trend
from storage.models import FlowMilestone, Member, Mentorship
from storage.session import Session

M: Any = Member.__table__  # type: ignore[attr-defined]
FINISHED: Any = FlowMilestone.__table__  # type: ignore[attr-defined]
MENTORSHIP: Any = Mentorship.__table__  # type: ignore[attr-defined]


async def overview(session: Session, filters: Filters, onboarding_flow: str) -> Overview:
    """New members, onboarded, matched, first contributions and active members, each in the
    period and in the one before."""
    start, end, before = filters.start, filters.end, filters.previous.start

    def both(column: Any) -> Any:
        """(in the period, in the one before): the rows whose `column` falls in either."""
        now, then = column >= start, column < start
        counts = (func.count(case((now, 1))), func.count(case((then, 1))))
        return select(*counts).where(column >= before, column < end)

    # Members who finished onboarding for the first time in a period (flow_milestone, kept
    # as runs complete: storage/activity.py), a range of ix_flow_milestone_finished: one row
    # per member, so no distinct count over every completed run.
    onboarded = both(FINISHED.c.finished_at).where(
        FINISHED.c.flow_id == onboarding_flow, sql.in_scope(filters, FINISHED.c.member_id)
    )
    matched = both(MENTORSHIP.c.started_at).where(sql.in_scope(filters, MENTORSHIP.c.newcomer_id))
    kept = await daysets.scope(session, filters)

    async def members(kind: Kind) -> Trend:
        """Members with an instant of `kind` in each period: joined, or received their first
        live kudos ever (member.first_kudos_at, kept as kudos are given and revoked), from the
        days' sets (storage/health/daysets.py)."""
        current = await daysets.between(session, kind, start, end)
        previous = await daysets.between(session, kind, before, start)
        return Trend(daysets.count(current, kept), daysets.count(previous, kept))

    # Days, not instants: a day the two periods share (`start` inside it) counts in both. The
    # union of the days' sets of active members, not a distinct count over the periods'
    # hundreds of thousands of days.
    days = await daysets.days(session, Kind.ACTIVE, sql.first_day(before), sql.last_day(end))
    active = Trend(
        daysets.count(daysets.union(days, sql.first_day(start), sql.last_day(end)), kept),
        daysets.count(daysets.union(days, sql.first_day(before), sql.last_day(start)), kept),
    )

    async def trend(part: Any) -> Trend:
        current, previous = (await session.execute(part)).one()
        return Trend(int(current or 0), int(previous or 0))

    return Overview(
        new_members=await members(Kind.JOINED),
        onboarded=await trend(onboarded),
        matched=await trend(matched),
        first_contributions=await members(Kind.FIRST_KUDOS),
        active_members=active,
    )
