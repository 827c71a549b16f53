"""Pruning what is only kept for a while: dedupe keys, delivered messages, failed events,
expired dashboard links and sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func

from storage import access, failed_events
from storage.models import Outbox, ProcessedEvent
from storage.session import Session
from storage.statuses import OutboxStatus


async def prune(
    session: Session, *, events_before: datetime, sent_before: datetime
) -> tuple[int, int]:
    events = await session.execute(
        delete(ProcessedEvent).where(ProcessedEvent.received_at < events_before)
    )
    sent = await session.execute(
        delete(Outbox).where(
            Outbox.status.in_((OutboxStatus.SENT, OutboxStatus.CANCELLED)),
            func.coalesce(Outbox.sent_at, Outbox.created_at) < sent_before,
        )
    )
    return int(events.rowcount), int(sent.rowcount)


async def prune_failed_events(session: Session, *, before: datetime) -> int:
    """Failed events (and the events kept to replay them) recorded before `before`."""
    return await failed_events.prune(session, before)


async def prune_dashboard_access(session: Session, *, now: datetime) -> tuple[int, int]:
    """Dashboard sign-in links and sessions expired before `now`: (links, sessions)."""
    return await access.prune(session, now)
