"""Deleting what is kept only for a while, one bounded batch at a time (bot/retention.py).

Each function deletes at most `limit` rows whose time is before `before` and says how many it
deleted: called again until it deletes fewer, in a short transaction each, so that pruning a
big table never holds a lock, SQLite's one writer or a huge WAL for long. Each batch picks
its rows by a subquery with LIMIT (`DELETE … WHERE id IN (SELECT id … LIMIT n)`), which both
databases run through the index on the row's time where there is one.

What is never deleted here: messages still to send (pending, sending), open flow runs (active,
paused) and their answers, each member's last completed run of each flow (the record that
they finished it, which decides whether onboarding is offered again, campaign segments by
onboarding state and badges), and kudos (the leaderboards' running totals count them).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, select, tuple_, update
from sqlalchemy.orm import aliased
from sqlmodel import col

from storage.health.daysets import Kind
from storage.models import (
    Answer,
    AuditLog,
    DaySummary,
    FailedEvent,
    FlowRun,
    MemberActivity,
    Outbox,
    ProcessedEvent,
)
from storage.runs import OPEN
from storage.session import Session
from storage.statuses import OutboxStatus, RunStatus

BATCH = 1000
_ACTIVITY: Any = MemberActivity.__table__  # type: ignore[attr-defined]
_SUMMARIES: Any = DaySummary.__table__  # type: ignore[attr-defined]


async def _delete(session: Session, model: Any, ids: Any) -> int:
    statement = delete(model).where(col(model.id).in_(ids))
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount)


async def processed_events(session: Session, before: datetime, limit: int = BATCH) -> int:
    ids = (
        select(col(ProcessedEvent.id)).where(col(ProcessedEvent.received_at) < before).limit(limit)
    )
    return await _delete(session, ProcessedEvent, ids)


async def messages(
    session: Session, status: OutboxStatus, before: datetime, limit: int = BATCH
) -> int:
    """Messages in `status` (sent, cancelled or failed: never one still to send) sent, or
    else queued, before `before`."""
    assert status not in (OutboxStatus.PENDING, OutboxStatus.SENDING), "still to be sent"
    ids = (
        select(col(Outbox.id))
        .where(
            col(Outbox.status) == status,
            func.coalesce(col(Outbox.sent_at), col(Outbox.created_at)) < before,
        )
        .limit(limit)
    )
    return await _delete(session, Outbox, ids)


async def failed_events(session: Session, before: datetime, limit: int = BATCH) -> int:
    ids = select(col(FailedEvent.id)).where(col(FailedEvent.failed_at) < before).limit(limit)
    return await _delete(session, FailedEvent, ids)


def _finished_before(before: datetime) -> Any:
    return and_(
        col(FlowRun.status).not_in(OPEN),
        col(FlowRun.finished_at).is_not(None),
        col(FlowRun.finished_at) < before,
    )


async def answers(session: Session, before: datetime, limit: int = BATCH) -> int:
    """The answers of runs finished before `before` (at most `limit` runs' answers), and
    what those runs' state held (context, a pending unclear reply). How many answers."""
    has_answers = exists().where(col(Answer.run_id) == col(FlowRun.id))
    runs = list(
        (
            await session.execute(
                select(col(FlowRun.id))
                .where(_finished_before(before), has_answers)
                .order_by(col(FlowRun.id))
                .limit(limit)
            )
        ).scalars()
    )
    if not runs:
        return 0
    result = await session.execute(
        delete(Answer)
        .where(col(Answer.run_id).in_(runs))
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(FlowRun)
        .where(col(FlowRun.id).in_(runs))
        .values(state={})
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)


async def finished_runs(session: Session, before: datetime, limit: int = BATCH) -> int:
    """Runs finished before `before`, with their answers, but each member's last completed
    run of each flow."""
    later = aliased(FlowRun)
    superseded = exists().where(
        col(later.member_id) == col(FlowRun.member_id),
        col(later.flow_id) == col(FlowRun.flow_id),
        col(later.status) == RunStatus.COMPLETED,
        col(later.id) > col(FlowRun.id),
    )
    runs = list(
        (
            await session.execute(
                select(col(FlowRun.id))
                .where(
                    _finished_before(before),
                    (col(FlowRun.status) != RunStatus.COMPLETED) | superseded,
                )
                .order_by(col(FlowRun.id))
                .limit(limit)
            )
        ).scalars()
    )
    if not runs:
        return 0
    # The answers first: SQLite cascades only with foreign keys on, which a copy may lack.
    await session.execute(
        delete(Answer)
        .where(col(Answer.run_id).in_(runs))
        .execution_options(synchronize_session=False)
    )
    return await _delete(session, FlowRun, runs)


async def activity(session: Session, before: date, limit: int = BATCH) -> int:
    """Days of activity before the day `before`."""
    keys = (
        select(_ACTIVITY.c.member_id, _ACTIVITY.c.day)
        .where(_ACTIVITY.c.day < before)
        .order_by(_ACTIVITY.c.day, _ACTIVITY.c.member_id)
        .limit(limit)
    )
    statement = delete(_ACTIVITY).where(tuple_(_ACTIVITY.c.member_id, _ACTIVITY.c.day).in_(keys))
    return int((await session.execute(statement)).rowcount)


async def active_day_summaries(session: Session, before: date) -> int:
    """The health metrics' summaries of who was active on the days before `before`, once
    their days of activity are gone: kept, they would hold the ids of members whose days an
    erasure can no longer find (storage/health/daysets.py, `forget_member`). One row a day."""
    statement = delete(_SUMMARIES).where(
        _SUMMARIES.c.kind == Kind.ACTIVE.value, _SUMMARIES.c.day < before
    )
    return int((await session.execute(statement)).rowcount)


async def audit_log(session: Session, before: datetime, limit: int = BATCH) -> int:
    ids = select(col(AuditLog.id)).where(col(AuditLog.at) < before).limit(limit)
    return await _delete(session, AuditLog, ids)
