"""The Overview page: five counts for the period, each against the period before it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, func, select

from storage.health import sql
from storage.health.types import Filters, Overview, Trend
from storage.models import FlowRun, Kudos, Member, MemberActivity, Mentorship
from storage.session import Session
from storage.statuses import RunStatus

M: Any = Member.__table__  # type: ignore[attr-defined]
RUN: Any = FlowRun.__table__  # type: ignore[attr-defined]
KUDOS: Any = Kudos.__table__  # type: ignore[attr-defined]
MENTORSHIP: Any = Mentorship.__table__  # type: ignore[attr-defined]
ACTIVITY: Any = MemberActivity.__table__  # type: ignore[attr-defined]


async def overview(session: Session, filters: Filters, onboarding_flow: str) -> Overview:
    """New members, onboarded, matched, first contributions and active members, each in the
    period and in the one before."""
    now = await _counts(session, filters, onboarding_flow)
    before = await _counts(session, filters.previous, onboarding_flow)
    return Overview(
        *(Trend(current, previous) for current, previous in zip(now, before, strict=True))
    )


async def _counts(session: Session, filters: Filters, onboarding_flow: str) -> tuple[int, ...]:
    start, end = filters.start, filters.end
    new_members = select(func.count()).where(
        M.c.created_at >= start, M.c.created_at < end, sql.in_scope(filters, M.c.id)
    )
    onboarded = select(func.count(func.distinct(RUN.c.member_id))).where(
        RUN.c.flow_id == onboarding_flow,
        RUN.c.status == RunStatus.COMPLETED.value,
        RUN.c.finished_at >= start,
        RUN.c.finished_at < end,
        sql.in_scope(filters, RUN.c.member_id),
    )
    matched = select(func.count()).where(
        MENTORSHIP.c.started_at >= start,
        MENTORSHIP.c.started_at < end,
        sql.in_scope(filters, MENTORSHIP.c.newcomer_id),
    )
    # Each receiver thanked in the period, once; then whether they were thanked before it
    # (one probe of ix_kudos_live_receiver_created each, not one per kudos).
    thanked = (
        select(KUDOS.c.receiver_id)
        .where(
            KUDOS.c.revoked_at.is_(None),
            KUDOS.c.created_at >= start,
            KUDOS.c.created_at < end,
            sql.in_scope(filters, KUDOS.c.receiver_id),
        )
        .distinct()
        .subquery("thanked")
    )
    earlier = KUDOS.alias("earlier")
    first_contributions = (
        select(func.count())
        .select_from(thanked)
        .where(
            ~exists().where(
                and_(
                    earlier.c.receiver_id == thanked.c.receiver_id,
                    earlier.c.revoked_at.is_(None),
                    earlier.c.created_at < start,
                )
            )
        )
    )
    active = select(func.count(func.distinct(ACTIVITY.c.member_id))).where(
        ACTIVITY.c.day >= sql.first_day(start),
        ACTIVITY.c.day <= sql.last_day(end),
        sql.in_scope(filters, ACTIVITY.c.member_id),
    )
    parts = (new_members, onboarded, matched, first_contributions, active)
    row = (await session.execute(select(*(part.scalar_subquery() for part in parts)))).one()
    return tuple(int(value or 0) for value in row)
