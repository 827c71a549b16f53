"""Campaigns: their recipient rows, planned in batches, fed to the outbox, and their outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, exists, func, literal, select, update

from storage.models import Answer, Campaign, CampaignRecipient, Consent, Member, Outbox
from storage.session import Session, dialect_insert
from storage.statuses import CampaignState, OutboxStatus, RecipientStatus

# Where a recipient row is: waiting for its time, in the outbox, then what became of it.
OPEN = (RecipientStatus.PLANNED, RecipientStatus.QUEUED)
# A later status never goes back (statuses arrive in any order): read beats delivered…
RANK = {
    RecipientStatus.QUEUED: 1,
    RecipientStatus.SENT: 2,
    RecipientStatus.FAILED: 3,
    RecipientStatus.DELIVERED: 4,
    RecipientStatus.READ: 5,
}

_R = CampaignRecipient.__table__
_O = Outbox.__table__


async def by_key(session: Session, key: str, *, lock: bool = False) -> Campaign | None:
    statement = select(Campaign).where(Campaign.key == key)
    if lock:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalars().first()


async def by_id(session: Session, campaign_id: int, *, lock: bool = False) -> Campaign | None:
    """The campaign; with `lock`, held until the transaction ends (PostgreSQL), so that a
    cancel and a plan's last batch cannot both decide its state."""
    statement = select(Campaign).where(Campaign.id == campaign_id)
    if lock:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalars().first()


async def all_campaigns(session: Session) -> list[Campaign]:
    return list((await session.execute(select(Campaign).order_by(Campaign.id))).scalars())


async def insert_recipients(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Add planned (or excluded) recipients; a member planned before (a resumed plan) keeps
    their row as it was."""
    if not rows:
        return
    statement = dialect_insert(session.get_bind().dialect.name)(_R)
    await session.core(
        statement.on_conflict_do_nothing(index_elements=["campaign_id", "member_id"]), rows
    )


async def counts(session: Session, campaign_id: int) -> list[tuple[str, str, str | None, int]]:
    """(platform, status, reason, how many) of a campaign's recipients."""
    statement = (
        select(_R.c.platform, _R.c.status, _R.c.reason, func.count())
        .where(_R.c.campaign_id == campaign_id)
        .group_by(_R.c.platform, _R.c.status, _R.c.reason)
    )
    return [tuple(row) for row in (await session.execute(statement)).all()]


async def send_times(session: Session, campaign_id: int) -> list[datetime]:
    """The distinct times at which planned recipients are due."""
    statement = (
        select(_R.c.send_at)
        .where(_R.c.campaign_id == campaign_id, _R.c.status == RecipientStatus.PLANNED)
        .distinct()
        .order_by(_R.c.send_at)
    )
    return [at for at in (await session.execute(statement)).scalars() if at is not None]


async def queued_by_platform(session: Session, campaign_id: int) -> dict[str, int]:
    statement = (
        select(_R.c.platform, func.count())
        .where(_R.c.campaign_id == campaign_id, _R.c.status == RecipientStatus.QUEUED)
        .group_by(_R.c.platform)
    )
    return {platform: count for platform, count in (await session.execute(statement)).all()}


async def due(
    session: Session,
    campaign_id: int,
    send_at: datetime,
    platform: str,
    limit: int,
    purpose: str | None,
) -> list[Any]:
    """The next planned recipients of one send time on one platform, in shuffled order: rows
    of (CampaignRecipient, left_out), `left_out` saying why one may no longer be sent it
    (they sent /stop, or withdrew their consent for `purpose`, since the plan)."""
    left_out: Any = None
    if purpose is not None:
        consented = exists().where(
            Consent.member_id == CampaignRecipient.member_id,
            Consent.purpose == purpose,
            Consent.granted.is_(True),
        )
        left_out = case(
            (Member.opted_out.is_(True), "opted_out"), (~consented, "no_consent"), else_=None
        )
    statement = (
        select(
            CampaignRecipient,
            literal(None).label("left_out") if left_out is None else left_out.label("left_out"),
        )
        .join(Member, Member.id == CampaignRecipient.member_id)
        .where(
            CampaignRecipient.campaign_id == campaign_id,
            CampaignRecipient.status == RecipientStatus.PLANNED,
            CampaignRecipient.send_at == send_at,
            CampaignRecipient.platform == platform,
        )
        .order_by(CampaignRecipient.position, CampaignRecipient.id)
        .limit(limit)
    )
    return list((await session.execute(statement)).all())


async def planned_platforms(session: Session, campaign_id: int, send_at: datetime) -> list[str]:
    statement = (
        select(_R.c.platform)
        .where(
            _R.c.campaign_id == campaign_id,
            _R.c.status == RecipientStatus.PLANNED,
            _R.c.send_at == send_at,
        )
        .distinct()
    )
    return list((await session.execute(statement)).scalars())


_QUEUED = (
    update(_R)
    .where(_R.c.id == bindparam("recipient_id"), _R.c.status == RecipientStatus.PLANNED)
    .values(
        status=RecipientStatus.QUEUED,
        outbox_id=bindparam("queued_outbox"),
        attempts=_R.c.attempts + 1,
        updated_at=bindparam("at"),
    )
)


async def mark_queued(session: Session, queued: Sequence[tuple[int, int]], now: datetime) -> None:
    """(recipient id, outbox id) pairs now in the outbox."""
    if queued:
        await session.core(
            _QUEUED, [{"recipient_id": r, "queued_outbox": o, "at": now} for r, o in queued]
        )


async def mark_skipped(
    session: Session, skipped: Sequence[tuple[int, str]], status: RecipientStatus, now: datetime
) -> None:
    """(recipient id, reason) pairs that will not be sent after all (excluded at send time)."""
    if skipped:
        await session.execute(
            update(_R)
            .where(_R.c.id == bindparam("skip_id"), _R.c.status == RecipientStatus.PLANNED)
            .values(status=status, reason=bindparam("why"), updated_at=now),
            [{"skip_id": r, "why": why[:500]} for r, why in skipped],
        )


_SENT = (
    update(_R)
    .where(_R.c.outbox_id == bindparam("sent_outbox"), _R.c.status == RecipientStatus.QUEUED)
    .values(
        status=RecipientStatus.SENT,
        delivery_id=bindparam("sent_delivery"),
        updated_at=bindparam("at"),
    )
)
_FAILED = (
    update(_R)
    .where(_R.c.outbox_id == bindparam("failed_outbox"), _R.c.status == RecipientStatus.QUEUED)
    .values(
        status=RecipientStatus.FAILED,
        reason=bindparam("why"),
        retryable=bindparam("can_retry"),
        updated_at=bindparam("at"),
    )
)


async def record_sent(session: Session, sent: Sequence[tuple[int, str]], now: datetime) -> None:
    """(outbox id, delivery id) of campaign messages the platform accepted."""
    if sent:
        await session.core(
            _SENT, [{"sent_outbox": o, "sent_delivery": d[:255], "at": now} for o, d in sent]
        )


async def record_failed(
    session: Session, failed: Sequence[tuple[int, str, bool]], now: datetime
) -> None:
    """(outbox id, reason, whether another attempt may succeed) of failed campaign messages."""
    if failed:
        await session.core(
            _FAILED,
            [
                {"failed_outbox": o, "why": why[:500], "can_retry": retry, "at": now}
                for o, why, retry in failed
            ],
        )


async def record_cancelled(session: Session, outbox_ids: Sequence[int], now: datetime) -> None:
    """Campaign messages stopped by a cancel before they went."""
    await session.execute(
        update(_R)
        .where(_R.c.outbox_id.in_(list(outbox_ids)), _R.c.status == RecipientStatus.QUEUED)
        .values(status=RecipientStatus.CANCELLED, updated_at=now)
    )


async def is_cancelled(session: Session, campaign_id: int) -> bool:
    state = (
        await session.execute(select(Campaign.state).where(Campaign.id == campaign_id))
    ).scalar_one_or_none()
    return state in (None, CampaignState.CANCELLED)


def _rank(column: Any) -> Any:
    return case(*((column == status, rank) for status, rank in RANK.items()), else_=0)


async def record_delivery(
    session: Session, platform: str, delivery_id: str, status: str, now: datetime, error: str | None
) -> None:
    """What the platform later said of a campaign message (delivered, read, failed)."""
    if status not in RANK:
        return
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if status == RecipientStatus.FAILED:
        values |= {"reason": (error or "the platform reported a failure")[:500], "retryable": False}
    await session.execute(
        update(_R)
        .where(
            _R.c.platform == platform,
            _R.c.delivery_id == delivery_id[:255],
            _rank(_R.c.status) < RANK[status],
        )
        .values(**values)
    )


async def cancel(
    session: Session,
    campaign_id: int,
    now: datetime,
    status: RecipientStatus = RecipientStatus.CANCELLED,
) -> int:
    """Stop every message of the campaign not yet sent (planned, or waiting in the outbox);
    returns how many were stopped. What is being sent at this instant still goes."""
    pending_outbox = select(_O.c.id).where(
        _O.c.id.in_(
            select(_R.c.outbox_id).where(
                _R.c.campaign_id == campaign_id, _R.c.status == RecipientStatus.QUEUED
            )
        ),
        _O.c.status == OutboxStatus.PENDING,
    )
    stopped_ids = list((await session.execute(pending_outbox)).scalars())
    if stopped_ids:
        await session.execute(
            update(_O)
            .where(_O.c.id.in_(stopped_ids), _O.c.status == OutboxStatus.PENDING)
            .values(status=OutboxStatus.CANCELLED)
        )
    planned = await session.execute(
        update(_R)
        .where(_R.c.campaign_id == campaign_id, _R.c.status == RecipientStatus.PLANNED)
        .values(status=status, updated_at=now)
    )
    queued = 0
    if stopped_ids:
        result = await session.execute(
            update(_R)
            .where(
                _R.c.campaign_id == campaign_id,
                _R.c.status == RecipientStatus.QUEUED,
                _R.c.outbox_id.in_(stopped_ids),
            )
            .values(status=status, updated_at=now)
        )
        queued = int(result.rowcount)
    return int(planned.rowcount) + queued


async def expire(session: Session, campaign_id: int, send_at: datetime, now: datetime) -> int:
    """Drop the unsent messages of one send time (past the campaign's expiry)."""
    stale = select(_R.c.outbox_id).where(
        _R.c.campaign_id == campaign_id,
        _R.c.send_at == send_at,
        _R.c.status == RecipientStatus.QUEUED,
    )
    cancelled = list(
        (
            await session.execute(
                update(_O)
                .where(_O.c.id.in_(stale), _O.c.status == OutboxStatus.PENDING)
                .values(status=OutboxStatus.CANCELLED)
                .returning(_O.c.id)
            )
        ).scalars()
    )
    result = await session.execute(
        update(_R)
        .where(
            _R.c.campaign_id == campaign_id,
            _R.c.send_at == send_at,
            (_R.c.status == RecipientStatus.PLANNED)
            | and_(_R.c.status == RecipientStatus.QUEUED, _R.c.outbox_id.in_(cancelled or [-1])),
        )
        .values(
            status=RecipientStatus.EXPIRED, reason="expired before it could be sent", updated_at=now
        )
    )
    return int(result.rowcount)


def _curable(campaign_id: int) -> Any:
    """The failures another attempt may cure."""
    return and_(
        _R.c.campaign_id == campaign_id,
        _R.c.status == RecipientStatus.FAILED,
        _R.c.retryable.is_(True),
    )


async def curable_count(session: Session, campaign_id: int) -> int:
    """How many failures `requeue_failed` would plan again."""
    statement = select(func.count()).where(_curable(campaign_id))
    return int((await session.execute(statement)).scalar_one())


async def requeue_failed(session: Session, campaign_id: int, send_at: datetime) -> int:
    """Plan again the failures another attempt may cure; returns how many."""
    result = await session.execute(
        update(_R)
        .where(_curable(campaign_id))
        .values(
            status=RecipientStatus.PLANNED,
            send_at=send_at,
            reason=None,
            retryable=False,
            outbox_id=None,
        )
    )
    return int(result.rowcount)


async def mark_failed_unsent(
    session: Session, recipient_ids: Sequence[int], reason: str, now: datetime
) -> None:
    """Planned recipients that cannot be sent from here (retryable once that is fixed)."""
    if recipient_ids:
        await session.execute(
            update(_R)
            .where(_R.c.id.in_(list(recipient_ids)), _R.c.status == RecipientStatus.PLANNED)
            .values(
                status=RecipientStatus.FAILED, reason=reason[:500], retryable=True, updated_at=now
            )
        )


async def open_in_slot(session: Session, campaign_id: int, send_at: datetime) -> int:
    statement = select(func.count()).where(
        _R.c.campaign_id == campaign_id, _R.c.send_at == send_at, _R.c.status.in_(OPEN)
    )
    return int((await session.execute(statement)).scalar_one())


async def open_count(session: Session, campaign_id: int) -> int:
    statement = select(func.count()).where(_R.c.campaign_id == campaign_id, _R.c.status.in_(OPEN))
    return int((await session.execute(statement)).scalar_one())


async def recipients(session: Session, campaign_id: int) -> list[CampaignRecipient]:
    statement = (
        select(CampaignRecipient)
        .where(CampaignRecipient.campaign_id == campaign_id)
        .order_by(CampaignRecipient.member_id)
    )
    return list((await session.execute(statement)).scalars())


async def answers(
    session: Session, flow_id: str, member_ids: Sequence[int], since: datetime
) -> dict[int, dict[str, Any]]:
    """Each member's latest answers to `flow_id` since `since` (a survey's), by step."""
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(member_ids), 500):
        chunk = list(member_ids[start : start + 500])
        statement = (
            select(Answer.member_id, Answer.step_id, Answer.value)
            .where(
                Answer.flow_id == flow_id,
                Answer.member_id.in_(chunk),
                Answer.answered_at >= since,
            )
            .order_by(Answer.answered_at)
        )
        for member_id, step_id, value in (await session.execute(statement)).all():
            found.setdefault(member_id, {})[step_id] = value
    return found
