"""The transactional outbox: rows written with the state change, delivered after commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Outbox

OPEN = ("pending", "sending")


async def claim(
    session: AsyncSession,
    now: datetime,
    lease: timedelta,
    limit: int,
    ids: Sequence[int] | None = None,
    platforms: Sequence[str] | None = None,
) -> list[Outbox]:
    """Lease deliverable rows: pending and due, or sending with an expired lease.

    Each member reads messages in order: a row is taken only if every earlier open row to
    the same recipient is taken with it (so none is in flight elsewhere, held back by a retry,
    or left out by `ids`). On PostgreSQL, concurrent claimers also take a transaction-scoped
    advisory lock per recipient, so two workers never split one member's queue between them.
    """

    def claimable(row: Any) -> Any:
        due = or_(
            and_(row.status == "pending", row.not_before <= now),
            and_(row.status == "sending", row.lease_until < now),
        )
        conditions = [due]
        if ids is not None:
            conditions.append(row.id.in_(ids))
        if platforms is not None:
            conditions.append(row.platform.in_(platforms))
        return and_(*conditions)

    earlier = aliased(Outbox)
    blocked_by_earlier = exists().where(
        earlier.platform == Outbox.platform,
        earlier.recipient == Outbox.recipient,
        earlier.id < Outbox.id,
        earlier.status.in_(OPEN),
        ~claimable(earlier),
    )
    candidates = select(Outbox.id).where(claimable(Outbox), ~blocked_by_earlier)
    candidates = candidates.order_by(Outbox.id).limit(limit).with_for_update(skip_locked=True)
    chosen: Any = candidates.scalar_subquery()
    if session.get_bind().dialect.name == "postgresql":
        # Applied after LIMIT, so a claimer locks only the recipients it is about to take.
        limited = candidates.add_columns(Outbox.platform, Outbox.recipient).subquery("candidates")
        recipient_key = func.hashtext(limited.c.platform + ":" + limited.c.recipient)
        chosen = select(limited.c.id).where(func.pg_try_advisory_xact_lock(recipient_key))
    result = await session.execute(
        update(Outbox)
        .where(Outbox.id.in_(chosen))
        .values(status="sending", lease_until=now + lease, attempts=Outbox.attempts + 1)
        .returning(Outbox)
    )
    return sorted(result.scalars(), key=lambda row: row.id or 0)


async def mark_sent(session: AsyncSession, sent: Sequence[tuple[int, str]], now: datetime) -> None:
    for outbox_id, delivery_id in sent:
        await session.execute(
            update(Outbox)
            .where(Outbox.id == outbox_id, Outbox.status == "sending")
            .values(
                status="sent",
                delivery_id=delivery_id[:255],
                sent_at=now,
                lease_until=None,
                last_error=None,
            )
        )


async def retry_later(
    session: AsyncSession,
    outbox_id: int,
    not_before: datetime,
    error: str,
    *,
    count_attempt: bool = True,
) -> None:
    values: dict[str, Any] = {
        "status": "pending",
        "not_before": not_before,
        "lease_until": None,
        "last_error": error[:1000],
    }
    if not count_attempt:
        values["attempts"] = Outbox.attempts - 1
    await session.execute(
        update(Outbox).where(Outbox.id == outbox_id, Outbox.status == "sending").values(**values)
    )


async def release(session: AsyncSession, outbox_ids: Sequence[int]) -> None:
    """Give back leased rows that were not attempted (their turn never came)."""
    if outbox_ids:
        await session.execute(
            update(Outbox)
            .where(Outbox.id.in_(outbox_ids), Outbox.status == "sending")
            .values(status="pending", lease_until=None, attempts=Outbox.attempts - 1)
        )


async def mark_failed(session: AsyncSession, outbox_id: int, error: str) -> None:
    await session.execute(
        update(Outbox)
        .where(Outbox.id == outbox_id, Outbox.status == "sending")
        .values(status="failed", lease_until=None, last_error=error[:1000])
    )


async def cancel_for_member(session: AsyncSession, member_id: int) -> None:
    await session.execute(
        update(Outbox)
        .where(Outbox.member_id == member_id, Outbox.status == "pending")
        .values(status="cancelled")
    )


async def reclaim_all_sending(session: AsyncSession) -> int:
    """At start-up of the only process (SQLite): nothing can still be in flight."""
    result = await session.execute(
        update(Outbox).where(Outbox.status == "sending").values(status="pending", lease_until=None)
    )
    return int(result.rowcount)


async def counts(session: AsyncSession) -> dict[str, int]:
    result = await session.execute(select(Outbox.status, func.count()).group_by(Outbox.status))
    return {status: count for status, count in result.all()}
