"""Pruning what is only kept for a while: dedupe keys and delivered messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func

from storage.models import Outbox, ProcessedEvent
from storage.session import Session


async def prune(
    session: Session, *, events_before: datetime, sent_before: datetime
) -> tuple[int, int]:
    events = await session.execute(
        delete(ProcessedEvent).where(ProcessedEvent.received_at < events_before)
    )
    sent = await session.execute(
        delete(Outbox).where(
            Outbox.status.in_(("sent", "cancelled")),
            func.coalesce(Outbox.sent_at, Outbox.created_at) < sent_before,
        )
    )
    return int(events.rowcount), int(sent.rowcount)
