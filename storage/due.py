"""Due work: durable per-member timers (nudges, expiries, check-ins) claimed with leases."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import DueWork, utcnow


async def schedule(
    session: AsyncSession,
    *,
    key: str,
    kind: str,
    due_at: datetime,
    member_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Create the work, or (same key) move it and make it pending again."""
    dialect = session.get_bind().dialect.name
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    values = {
        "key": key,
        "kind": kind,
        "due_at": due_at,
        "member_id": member_id,
        "payload": payload or {},
        "status": "pending",
        "attempts": 0,
        "lease_until": None,
        "last_error": None,
        "done_at": None,
    }
    statement = insert(DueWork).values(**values, created_at=utcnow())
    await session.execute(statement.on_conflict_do_update(index_elements=["key"], set_=values))


async def cancel(session: AsyncSession, key: str) -> None:
    """Cancel pending work. Work already running finishes; its handler re-checks the state."""
    await session.execute(
        update(DueWork)
        .where(DueWork.key == key, DueWork.status == "pending")
        .values(status="cancelled")
    )


async def cancel_for_member(session: AsyncSession, member_id: int, prefix: str = "") -> None:
    statement = update(DueWork).where(DueWork.member_id == member_id, DueWork.status == "pending")
    if prefix:
        statement = statement.where(col(DueWork.key).startswith(prefix, autoescape=True))
    await session.execute(statement.values(status="cancelled"))


async def claim(
    session: AsyncSession, now: datetime, lease: timedelta, limit: int
) -> list[DueWork]:
    due = or_(
        and_(DueWork.status == "pending", DueWork.due_at <= now),
        and_(DueWork.status == "running", DueWork.lease_until < now),
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
        .values(status="running", lease_until=now + lease, attempts=DueWork.attempts + 1)
        .returning(DueWork)
    )
    return list(result.scalars())


async def finish(session: AsyncSession, work_id: int, now: datetime) -> bool:
    """Mark done; False if the lease was lost (another worker took it), so the caller rolls back."""
    result = await session.execute(
        update(DueWork)
        .where(DueWork.id == work_id, DueWork.status == "running")
        .values(status="done", done_at=now, lease_until=None)
    )
    return bool(result.rowcount)


async def failed(
    session: AsyncSession, work: DueWork, error: str, retry_at: datetime | None
) -> None:
    values: dict[str, Any] = {"last_error": error[:1000], "lease_until": None}
    values.update({"status": "pending", "due_at": retry_at} if retry_at else {"status": "failed"})
    await session.execute(
        update(DueWork).where(DueWork.id == work.id, DueWork.status == "running").values(**values)
    )
