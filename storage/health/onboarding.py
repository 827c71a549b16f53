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

from array import array
from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, select, union_all

from storage.health import daysets, funnel, sql
from storage.health.daysets import Kind
from storage.health.types import (
    FUNNEL_STEPS,
    Filters,
    FunnelStep,
    Onboarding,
    Spread,
    StepDropoff,
)
from storage.models import FlowRun, Member
from storage.session import Session
from storage.statuses import RunStatus

M: Any = Member.__table__  # type: ignore[attr-defined]
RUN: Any = FlowRun.__table__  # type: ignore[attr-defined]


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
    """Each step reached at any time before `end` by the members who joined in the period
    (storage/health/funnel.py): for everyone, the stored funnel of each whole day of joining
    that holds at `end`, and the rest (the part-days at the edges, today, a day not stored or
    changed since) from the rows; with a platform or language, all from the rows."""
    start, end = filters.start, filters.end
    if filters.platform or filters.locale:
        scope = sql.in_scope(filters)
        found = await funnel.counts(session, onboarding_flow, [(start, end)], end, scope)
    else:
        first, last = daysets.whole_days(start, end)
        stored = await daysets.funnel_days(session, first, last) if first <= last else {}
        used = {day for day, held in stored.items() if held.answers(onboarding_flow, end)}
        found = sum((stored[day].counts for day in used), funnel.Counts())
        rest = _stretches(start, end, used)
        found += await funnel.counts(session, onboarding_flow, rest, end)
    steps: list[FunnelStep] = []
    for index, key in enumerate(FUNNEL_STEPS):
        before = found.members[index - 1] if index else 0
        carried = found.carried[index - 1] if index else 0
        steps.append(FunnelStep(key, found.members[index], carried / before if before else None))
    return steps


def _stretches(start: datetime, end: datetime, days: set[date]) -> list[tuple[datetime, datetime]]:
    """[start, end) without the whole `days`, as the fewest `[low, high)` stretches."""
    stretches: list[tuple[datetime, datetime]] = []
    low = start
    for day in sorted(days):
        if low < daysets.midnight(day):
            stretches.append((low, daysets.midnight(day)))
        low = daysets.midnight(day + daysets.ONE_DAY)
    if low < end:
        stretches.append((low, end))
    return stretches


async def _dropoff(session: Session, filters: Filters, dialect: str) -> list[StepDropoff]:
    """Runs started in the period that stopped: expired, or untouched for `stalled_after`.
    Two SELECTs, not one with OR, so that each is read from ix_flow_run_stopped alone."""
    started = (
        RUN.c.started_at >= filters.start,
        RUN.c.started_at < filters.end,
        sql.in_scope(filters, RUN.c.member_id),
    )
    columns = (
        RUN.c.flow_id,
        RUN.c.step_id,
        sql.seconds_between(RUN.c.started_at, RUN.c.updated_at, dialect),
    )
    statement = union_all(
        select(*columns).where(*started, RUN.c.status == RunStatus.EXPIRED.value),
        select(*columns).where(
            *started,
            RUN.c.status.in_([RunStatus.ACTIVE.value, RunStatus.PAUSED.value]),
            RUN.c.updated_at < filters.end - filters.stalled_after,
        ),
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
        every = array("d")
        for day in waits.values():
            every.extend(day)
        return sql.spread(every)
    seconds = sql.seconds_between(M.c.created_at, M.c.first_reached_at, dialect)
    reached = (_joined(filters), M.c.first_reached_at.is_not(None))
    if dialect == "postgresql":  # ranks 100,000 durations faster than it sends them here
        return await sql.spread_in_database(session, seconds, *reached)
    # SQLite's window functions are slower than sorting the durations here (0.4 s, 0.17 s).
    statement = select(seconds).where(*reached)
    return sql.spread([float(value) for value in (await session.execute(statement)).scalars()])
