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

from sqlalchemy import and_, case, func, literal_column, or_, select

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

# Of the 4 weeks after onboarding, active in at least this many. _funnel's query holds it as
# "the first and the last active day of the 28 fall in different weeks": true only for 2.
RETAINED_WEEKS = 2


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
    end = filters.end
    # When each member of the cohort first finished onboarding (NULL: not before `end`).
    finished = (
        select(func.min(RUN.c.finished_at))
        .where(
            RUN.c.member_id == M.c.id,
            RUN.c.flow_id == onboarding_flow,
            RUN.c.status == RunStatus.COMPLETED.value,
            RUN.c.finished_at < end,
        )
        .scalar_subquery()
    )
    reached = {
        "consented": and_(
            M.c.consent.is_(True), or_(M.c.consent_at.is_(None), M.c.consent_at < end)
        ),
        "asked_mentor": sql.exists_where(
            REQUEST.c.member_id == M.c.id, REQUEST.c.requested_at < end
        ),
        "matched": sql.exists_where(
            MENTORSHIP.c.newcomer_id == M.c.id, MENTORSHIP.c.started_at < end
        ),
        "first_contribution": sql.exists_where(
            KUDOS.c.receiver_id == M.c.id, KUDOS.c.revoked_at.is_(None), KUDOS.c.created_at < end
        ),
    }
    # Each member's steps worked out once (materialized: otherwise the database may inline
    # every test into each count below, and run each several times per member).
    tested = (
        select(
            M.c.id.label("member_id"),
            sql.day(finished, dialect).label("finished_day"),
            *(case((test, 1), else_=0).label(key) for key, test in reached.items()),
        )
        .where(_joined(filters))
        .cte("tested")
        .prefix_with("MATERIALIZED")
    )
    # Retained: active in RETAINED_WEEKS (2) of the 4 weeks after that day (days 1-28), that
    # is, the first and the last active day of those 28 fall in different weeks: two probes
    # of the primary key (member_id, day) per member instead of reading all their days.
    finished_day = tested.c.finished_day
    weeks = (
        ACTIVITY.c.member_id == tested.c.member_id,
        ACTIVITY.c.day > finished_day,
        ACTIVITY.c.day <= sql.plus_days(finished_day, 28, dialect),
        ACTIVITY.c.day <= sql.last_day(end),
    )
    first_active = select(func.min(ACTIVITY.c.day)).where(*weeks).scalar_subquery()
    last_active = select(func.max(ACTIVITY.c.day)).where(*weeks).scalar_subquery()
    cohort = (
        select(
            *(tested.c[key] for key in reached),
            case((finished_day.is_not(None), 1), else_=0).label("onboarded"),
            first_active.label("first_active"),
            last_active.label("last_active"),
            finished_day,
        )
        .cte("cohort")
        .prefix_with("MATERIALIZED")
    )

    def week(active: Any) -> Any:
        return (sql.days_between(cohort.c.finished_day, active, dialect) - 1) // 7

    retained = case(
        (
            and_(
                cohort.c.first_active.is_not(None),
                week(cohort.c.first_active) != week(cohort.c.last_active),
            ),
            1,
        ),
        else_=0,
    )
    step: dict[str, Any] = {"joined": literal_column("1")}
    step |= {key: cohort.c[key] for key in FUNNEL_STEPS[1:-1]}
    step["retained"] = retained
    # Each step's members (whatever they reached before it), and how many of the step before's
    # members also reached it: the conversion, never above 100 %.
    columns = [func.coalesce(func.sum(step[key]), 0) for key in FUNNEL_STEPS]
    columns += [
        func.coalesce(func.sum(step[before] * step[key]), 0)
        for before, key in pairwise(FUNNEL_STEPS)
    ]
    row = [int(value or 0) for value in (await session.execute(select(*columns))).one()]
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
