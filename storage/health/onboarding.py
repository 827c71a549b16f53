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
from itertools import chain, pairwise
from typing import Any

from sqlalchemy import and_, case, func, or_, select, true

from storage.health import daysets, sql
from storage.health.daysets import Kind
from storage.health.types import (
    FUNNEL_STEPS,
    Filters,
    FunnelStep,
    Onboarding,
    Spread,
    StepDropoff,
)
from storage.models import FlowMilestone, FlowRun, Member
from storage.session import Session
from storage.statuses import RunStatus

M: Any = Member.__table__  # type: ignore[attr-defined]
RUN: Any = FlowRun.__table__  # type: ignore[attr-defined]
FINISHED: Any = FlowMilestone.__table__  # type: ignore[attr-defined]


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


async def _funnel(
    session: Session, filters: Filters, onboarding_flow: str, dialect: str
) -> list[FunnelStep]:
    """One pass over the cohort's members, reading each one's milestones (columns of `member`
    and their onboarding flow's row of `flow_milestone`, storage/activity.py), each compared
    with `end`: a step reached at any time before it."""
    end = filters.end
    onboarded = FINISHED.c.finished_at < end
    reached: dict[str, Any] = {
        "joined": true(),
        "consented": and_(
            M.c.consent.is_(True), or_(M.c.consent_at.is_(None), M.c.consent_at < end)
        ),
        "onboarded": onboarded,
        "asked_mentor": M.c.mentor_requested_at < end,
        "matched": M.c.first_matched_at < end,
        "first_contribution": M.c.first_kudos_at < end,
        # Active in 2 of the 4 weeks after onboarding, with the days known by `end`.
        "retained": and_(onboarded, FINISHED.c.retained_on <= sql.last_day(end)),
    }
    step = {key: case((reached[key], 1), else_=0) for key in FUNNEL_STEPS}
    # Each step's members (whatever they reached before it), and how many of the step before's
    # members also reached it: the conversion, never above 100 %.
    columns = [func.coalesce(func.sum(step[key]), 0) for key in FUNNEL_STEPS]
    columns += [
        func.coalesce(func.sum(case((and_(reached[before], reached[key]), 1), else_=0)), 0)
        for before, key in pairwise(FUNNEL_STEPS)
    ]
    cohort = M.outerjoin(
        FINISHED, and_(FINISHED.c.member_id == M.c.id, FINISHED.c.flow_id == onboarding_flow)
    )
    statement = select(*columns).select_from(cohort).where(_joined(filters))
    row = [int(value or 0) for value in (await session.execute(statement)).one()]
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
    if not (filters.platform or filters.locale):  # everyone: the days' waits, summarised
        waits = await daysets.summaries(session, Kind.WAITS, filters.start, filters.end)
        return sql.spread(list(chain.from_iterable(waits.values())))
    seconds = sql.seconds_between(M.c.created_at, M.c.first_reached_at, dialect)
    reached = (_joined(filters), M.c.first_reached_at.is_not(None))
    if dialect == "postgresql":  # ranks 100,000 durations faster than it sends them here
        return await sql.spread_in_database(session, seconds, *reached)
    # SQLite's window functions are slower than sorting the durations here (0.4 s, 0.17 s).
    statement = select(seconds).where(*reached)
    return sql.spread([float(value) for value in (await session.execute(statement)).scalars()])
