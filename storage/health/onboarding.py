"""The Onboarding page: the funnel from joining to staying (CHAOSS Conversion Rate), where
stalled runs stopped in each flow, and how long newcomers waited for the bot's first message.

Funnel steps, for the members who joined in the period, each reached at any time before `end`:
consented (said yes), onboarded (a completed run of the onboarding flow), asked for a mentor (a
request), matched (a mentorship as newcomer), first contribution (a live kudos received), and
retained: active in at least 2 of the 4 weeks after the day they first finished onboarding
(week k: days 7k+1 to 7k+7 after it; the day itself, spent onboarding, does not count).

A step counts everyone who reached it, whatever they reached before (a member thanked for a
contribution without ever asking for a mentor counts there). Its conversion rate is the share
of the step before's members who also reached it, so it is never above 100 %.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select

from storage.health import sql
from storage.health.types import (
    FUNNEL_STEPS,
    Filters,
    FunnelStep,
    Onboarding,
    Spread,
    StepDropoff,
)
from storage.models import FlowRun, Kudos, Member, MemberActivity, MentorRequest, Mentorship
from storage.session import Session
from storage.statuses import RunStatus

M: Any = Member.__table__  # type: ignore[attr-defined]
RUN: Any = FlowRun.__table__  # type: ignore[attr-defined]
KUDOS: Any = Kudos.__table__  # type: ignore[attr-defined]
REQUEST: Any = MentorRequest.__table__  # type: ignore[attr-defined]
MENTORSHIP: Any = Mentorship.__table__  # type: ignore[attr-defined]
ACTIVITY: Any = MemberActivity.__table__  # type: ignore[attr-defined]

RETAINED_WEEKS = 2  # of the 4 weeks after onboarding, active in at least this many


async def onboarding(session: Session, filters: Filters, onboarding_flow: str) -> Onboarding:
    dialect = sql.dialect_of(session)
    return Onboarding(
        funnel=await _funnel(session, filters, onboarding_flow, dialect),
        dropoff=await _dropoff(session, filters, dialect),
        first_message=await _first_message(session, filters, dialect),
    )


def _joined(filters: Filters) -> Any:
    return and_(
        M.c.created_at >= filters.start, M.c.created_at < filters.end, sql.in_scope(filters)
    )


def _retained(filters: Filters, onboarding_flow: str, dialect: str) -> Any:
    """Members active in at least RETAINED_WEEKS of the 4 weeks after their first completed
    onboarding (a subquery of member ids)."""
    finished = (
        select(RUN.c.member_id, func.min(RUN.c.finished_at).label("finished_at"))
        .where(
            RUN.c.flow_id == onboarding_flow,
            RUN.c.status == RunStatus.COMPLETED.value,
            RUN.c.finished_at < filters.end,
            RUN.c.member_id.in_(select(M.c.id).where(_joined(filters))),  # the cohort only
        )
        .group_by(RUN.c.member_id)
        .subquery("finished")
    )
    after = sql.days_between(sql.day(finished.c.finished_at, dialect), ACTIVITY.c.day, dialect)
    week = (after - 1) // 7
    return (
        select(ACTIVITY.c.member_id)
        .join(finished, finished.c.member_id == ACTIVITY.c.member_id)
        .where(after >= 1, after <= 28, ACTIVITY.c.day <= sql.last_day(filters.end))
        .group_by(ACTIVITY.c.member_id)
        .having(func.count(func.distinct(week)) >= RETAINED_WEEKS)
    )


async def _funnel(
    session: Session, filters: Filters, onboarding_flow: str, dialect: str
) -> list[FunnelStep]:
    end = filters.end
    reached = {
        "consented": and_(
            M.c.consent.is_(True), or_(M.c.consent_at.is_(None), M.c.consent_at < end)
        ),
        "onboarded": exists().where(
            RUN.c.member_id == M.c.id,
            RUN.c.flow_id == onboarding_flow,
            RUN.c.status == RunStatus.COMPLETED.value,
            RUN.c.finished_at < end,
        ),
        "asked_mentor": exists().where(REQUEST.c.member_id == M.c.id, REQUEST.c.requested_at < end),
        "matched": exists().where(
            MENTORSHIP.c.newcomer_id == M.c.id, MENTORSHIP.c.started_at < end
        ),
        "first_contribution": exists().where(
            KUDOS.c.receiver_id == M.c.id, KUDOS.c.revoked_at.is_(None), KUDOS.c.created_at < end
        ),
        "retained": M.c.id.in_(_retained(filters, onboarding_flow, dialect)),
    }
    reached["joined"] = True
    # Each step's members (whatever they reached before it), and how many of the step before's
    # members also reached it: the conversion, never above 100 %.
    columns = [func.count(case((reached[key], 1))) for key in FUNNEL_STEPS]
    columns += [
        func.count(case((and_(reached[before], reached[key]), 1)))
        for before, key in pairwise(FUNNEL_STEPS)
    ]
    row = [
        int(value or 0)
        for value in (
            await session.execute(select(*columns).select_from(M).where(_joined(filters)))
        ).one()
    ]
    counts, carried = row[: len(FUNNEL_STEPS)], [0, *row[len(FUNNEL_STEPS) :]]
    steps: list[FunnelStep] = []
    for index, key in enumerate(FUNNEL_STEPS):
        before = counts[index - 1] if index else 0
        steps.append(FunnelStep(key, counts[index], carried[index] / before if before else None))
    return steps


async def _dropoff(session: Session, filters: Filters, dialect: str) -> list[StepDropoff]:
    """Runs started in the period that stopped: expired, or untouched for `stalled_after`."""
    stalled = or_(
        RUN.c.status == RunStatus.EXPIRED.value,
        and_(
            RUN.c.status.in_([RunStatus.ACTIVE.value, RunStatus.PAUSED.value]),
            RUN.c.updated_at < filters.end - filters.stalled_after,
        ),
    )
    statement = select(
        RUN.c.flow_id,
        RUN.c.step_id,
        sql.seconds_between(RUN.c.started_at, RUN.c.updated_at, dialect),
    ).where(
        RUN.c.started_at >= filters.start,
        RUN.c.started_at < filters.end,
        stalled,
        sql.in_scope(filters, RUN.c.member_id),
    )
    seconds: dict[tuple[str, str], list[float]] = defaultdict(list)
    for flow_id, step_id, spent in await session.execute(statement):
        seconds[(flow_id, step_id or "")].append(float(spent))
    result = [
        StepDropoff(flow_id, step_id, len(spent), sql.spread(spent).median)
        for (flow_id, step_id), spent in seconds.items()
    ]
    return sorted(result, key=lambda d: (d.flow_id, -d.stalled, d.step_id))


async def _first_message(session: Session, filters: Filters, dialect: str) -> Spread:
    statement = select(sql.seconds_between(M.c.created_at, M.c.first_reached_at, dialect)).where(
        _joined(filters), M.c.first_reached_at.is_not(None)
    )
    return sql.spread([float(value) for value in (await session.execute(statement)).scalars()])
