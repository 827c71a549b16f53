"""Failed events: what the core could not handle, recorded so it never blocks the rest.

The operator sees what failed (platform, key, kind of event, class of error, when), never what
a member wrote; `event` (the event itself, kept only so it can be run again) is read by
`replayable` alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, tuple_, update
from sqlmodel import col

from storage.models import FailedEvent, Identity
from storage.session import Session
from storage.statuses import FailedEventStatus

_LISTED = (
    col(FailedEvent.id),
    col(FailedEvent.dedupe_key),
    col(FailedEvent.platform),
    col(FailedEvent.member_id),
    col(FailedEvent.event_type),
    col(FailedEvent.error),
    col(FailedEvent.attempts),
    col(FailedEvent.failed_at),
    col(FailedEvent.status),
    col(FailedEvent.retried_at),
)


@dataclass(frozen=True)
class Listed:
    """A failed event as `onramp events failed` shows it: no member text, no event body."""

    id: int
    dedupe_key: str
    platform: str
    member_id: int | None
    event_type: str
    error: str
    attempts: int
    failed_at: datetime
    status: FailedEventStatus
    retried_at: datetime | None


async def record(
    session: Session,
    *,
    dedupe_key: str,
    platform: str,
    workspace: str,
    actor: str,
    member_id: int | None,
    event_type: str,
    error: str,
    attempts: int,
    failed_at: datetime,
    event: dict[str, Any],
) -> None:
    session.add(
        FailedEvent(
            dedupe_key=dedupe_key,
            platform=platform,
            workspace=workspace,
            actor=actor[:128],
            member_id=member_id,
            event_type=event_type[:64],
            error=error[:200],
            attempts=attempts,
            failed_at=failed_at,
            event=event,
        )
    )
    await session.flush()


async def listed(session: Session, *, everything: bool = False) -> list[Listed]:
    """Oldest first; only those still failed unless `everything` (replayed ones too)."""
    statement = select(*_LISTED).order_by(col(FailedEvent.failed_at), col(FailedEvent.id))
    if not everything:
        statement = statement.where(col(FailedEvent.status) == FailedEventStatus.FAILED)
    return [Listed(*row) for row in (await session.execute(statement)).all()]


async def replayable(session: Session, dedupe_key: str) -> FailedEvent | None:
    """The failed event with this key, with the event to run again, locked for the replay
    (on PostgreSQL); None if there is none, or it was replayed already."""
    statement = (
        select(FailedEvent)
        .where(
            col(FailedEvent.dedupe_key) == dedupe_key,
            col(FailedEvent.status) == FailedEventStatus.FAILED,
            col(FailedEvent.event).is_not(None),
        )
        .with_for_update()
    )
    found: FailedEvent | None = (await session.execute(statement)).scalars().first()
    return found


async def retried(session: Session, failed: FailedEvent, at: datetime) -> None:
    """Replayed: the event is no longer kept; the row stays as a record until pruned."""
    failed.status = FailedEventStatus.RETRIED
    failed.retried_at = at
    failed.event = None
    failed.attempts += 1
    await session.flush()


async def failed_again(session: Session, dedupe_key: str) -> None:
    await session.execute(
        update(FailedEvent)
        .where(col(FailedEvent.dedupe_key) == dedupe_key)
        .values(attempts=FailedEvent.attempts + 1)
    )


async def prune(session: Session, before: datetime) -> int:
    statement = delete(FailedEvent).where(col(FailedEvent.failed_at) < before)
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount)


def _of_member(member_id: int) -> Any:
    """Failed events recorded with their member id, and those sent by one of their
    identities before they were a member."""
    identities = select(
        col(Identity.platform), col(Identity.workspace), col(Identity.external_id)
    ).where(col(Identity.member_id) == member_id)
    return (col(FailedEvent.member_id) == member_id) | tuple_(
        col(FailedEvent.platform), col(FailedEvent.workspace), col(FailedEvent.actor)
    ).in_(identities)


async def of_member(session: Session, member_id: int) -> list[FailedEvent]:
    statement = select(FailedEvent).where(_of_member(member_id)).order_by(col(FailedEvent.id))
    return list((await session.execute(statement)).scalars())


async def forget(session: Session, member_id: int) -> None:
    """Delete the member's failed events (before their identities are deleted)."""
    statement = delete(FailedEvent).where(_of_member(member_id))
    await session.execute(statement.execution_options(synchronize_session=False))
