"""Due work: durable per-member timers (nudges, expiries, check-ins) claimed with leases."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, update
from sqlmodel import col

from storage.models import DueWork, utcnow
from storage.session import Session, dialect_insert
from storage.statuses import DueStatus


async def schedule(
    session: Session,
    *,
    key: str,
    kind: str,
    due_at: datetime,
    member_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Create the work, or (same key) move it and make it pending again."""
    values = {
        "key": key,
        "kind": kind,
        "due_at": due_at,
        "member_id": member_id,
        "payload": payload or {},
        "status": DueStatus.PENDING,
        "attempts": 0,
        "lease_until": None,
        "last_error": None,
        "done_at": None,
        "created_at": utcnow(),
    }
    await session.core(_schedule(session.get_bind().dialect.name), values)


@cache
def _schedule(dialect: str) -> Any:
    statement = dialect_insert(dialect)(DueWork.__table__)
    moved = (
        "kind",
        "due_at",
        "member_id",
        "payload",
        "status",
        "attempts",
        "lease_until",
        "last_error",
        "done_at",
    )
    return statement.on_conflict_do_update(
        index_elements=["key"], set_={name: statement.excluded[name] for name in moved}
    )


_CANCEL = (
    update(DueWork.__table__)
    .where(
        DueWork.__table__.c.key == bindparam("cancel_key"),
        DueWork.__table__.c.status == DueStatus.PENDING,
    )
    .values(status=DueStatus.CANCELLED)
)


async def cancel(session: Session, key: str) -> None:
    """Cancel pending work. Work already running finishes; its handler re-checks the state."""
    await session.core(_CANCEL, {"cancel_key": key})


async def cancel_for_member(session: Session, member_id: int, prefix: str = "") -> None:
    statement = update(DueWork).where(
        DueWork.member_id == member_id, DueWork.status == DueStatus.PENDING
    )
    if prefix:
        statement = statement.where(col(DueWork.key).startswith(prefix, autoescape=True))
    await session.execute(statement.values(status=DueStatus.CANCELLED))


async def cancel_prefix(session: Session, prefix: str) -> None:
    """Cancel every pending piece of work whose key starts with `prefix` (all of a
    mentorship's check-ins, both people's)."""
    await session.execute(
        update(DueWork)
        .where(
            col(DueWork.key).startswith(prefix, autoescape=True),
            DueWork.status == DueStatus.PENDING,
        )
        .values(status=DueStatus.CANCELLED)
    )


async def claim(session: Session, now: datetime, lease: timedelta, limit: int) -> list[DueWork]:
    due = or_(
        and_(DueWork.status == DueStatus.PENDING, DueWork.due_at <= now),
        and_(DueWork.status == DueStatus.RUNNING, DueWork.lease_until < now),
    )
    candidates = (
        select(DueWork.id)
        .where(due)
        .order_by(DueWork.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        update(DueWork)
        .where(DueWork.id.in_(candidates.scalar_subquery()))
        .values(status=DueStatus.RUNNING, lease_until=now + lease, attempts=DueWork.attempts + 1)
        .returning(DueWork)
    )
    return list(result.scalars())


_FINISH = (
    update(DueWork.__table__)
    .where(
        DueWork.__table__.c.id == bindparam("work_id"),
        DueWork.__table__.c.status == DueStatus.RUNNING,
    )
    .values(status=DueStatus.DONE, done_at=bindparam("done_at"), lease_until=None)
)


async def finish(session: Session, work_id: int, now: datetime) -> bool:
    """Mark done; False if the lease was lost (another worker took it), so the caller rolls back."""
    result = await session.core(_FINISH, {"work_id": work_id, "done_at": now})
    return bool(result.rowcount)


async def skip(session: Session, work_id: int, now: datetime, why: str) -> bool:
    """Record that the work was not done (too late to be useful); False if the lease was lost."""
    result = await session.execute(
        update(DueWork)
        .where(DueWork.id == work_id, DueWork.status == DueStatus.RUNNING)
        .values(status=DueStatus.SKIPPED, done_at=now, lease_until=None, last_error=why[:1000])
    )
    return bool(result.rowcount)


async def failed(session: Session, work: DueWork, error: str, retry_at: datetime | None) -> None:
    values: dict[str, Any] = {"last_error": error[:1000], "lease_until": None}
    values.update(
        {"status": DueStatus.PENDING, "due_at": retry_at}
        if retry_at
        else {"status": DueStatus.FAILED}
    )
    await session.execute(
        update(DueWork)
        .where(DueWork.id == work.id, DueWork.status == DueStatus.RUNNING)
        .values(**values)
    )
