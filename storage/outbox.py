"""The transactional outbox: rows written with the state change, delivered after commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    Text,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    tuple_,
    update,
)

from storage import lists
from storage.models import Outbox
from storage.session import Database, Session
from storage.statuses import OUTBOX_OPEN_SQL, SETTLED_FLAGS, DeliveryStatus, OutboxStatus

OPEN = (OutboxStatus.PENDING, OutboxStatus.SENDING)
# A claimed row's `last_error` when its previous lease ran out with no outcome recorded (a
# crash between handing it to the platform and recording that): the sender asks the
# platform whether it has it before sending it again (`Adapter.already_sent`).
OUTCOME_UNKNOWN = "lease ran out with no outcome recorded"


async def claim(
    session: Session,
    now: datetime,
    lease: timedelta,
    limit: int,
    ids: Sequence[int] | None = None,
    platforms: Sequence[str] | None = None,
) -> list[Any]:
    """Lease deliverable rows: pending and due, or sending with an expired lease.

    Each member reads messages in order: a row is taken only if every earlier open row to
    the same recipient is taken with it (so none is in flight elsewhere, held back by a retry,
    or left out by `ids`). On PostgreSQL, concurrent claimers also take a transaction-scoped
    advisory lock per recipient, so two workers never split one member's queue between them.

    A sweep on PostgreSQL (no `ids`) takes those locks first, in a statement of its own, and
    only then reads which rows it may take: a statement reads the rows as they were when it
    began, so locking and reading in one would let it read a recipient's earlier row as
    pending, then get the lock as soon as another replica, which had just taken that row,
    committed, and send a later row while the other sends the earlier (members read their
    messages out of order with three replicas: bench/webhooks.py --replicas 3). Claiming
    given `ids` (a turn's own replies) needs no second statement: any earlier open row that
    is not among them blocks its recipient, whatever it was taken by.
    Returns rows (id, platform, recipient, payload, attempts, ...) in id order.
    """
    dialect = session.get_bind().dialect.name
    params: dict[str, Any] = {"now": now, "lease_until": now + lease, "limit": limit}
    if ids is not None:
        params["ids"] = lists.value(dialect, ids)
    if platforms is not None:
        params["platforms"] = lists.value(dialect, platforms)
    locked_first = dialect == "postgresql" and ids is None
    if locked_first:
        locked = await session.core(_lock_recipients(platforms is not None), params)
        params["recipients"] = [tuple(pair) for pair in locked.all()]
        if not params["recipients"]:
            return []
    statement = _claim(dialect, ids is not None, platforms is not None, locked_first)
    result = await session.core(statement, params)
    return sorted(result.all(), key=lambda row: row.id)


def _candidates(dialect: str, by_ids: bool, by_platform: bool) -> Any:
    """The rows a claim may take, in id order, up to `limit`: claimable, with no earlier
    open row of the same recipient left behind."""
    table = Outbox.__table__
    earlier = table.alias("earlier")
    now: Any = bindparam("now")

    def claimable(row: Any, status: Any = None) -> Any:
        status = row.c.status if status is None else status
        conditions = [
            or_(
                and_(status == OutboxStatus.PENDING, row.c.not_before <= now),
                and_(status == OutboxStatus.SENDING, row.c.lease_until < now),
            )
        ]
        if by_ids:
            conditions.append(row.c.id.in_(lists.one_of(dialect, "ids")))
        if by_platform:
            conditions.append(row.c.platform.in_(lists.one_of(dialect, "platforms")))
        return and_(*conditions)

    blocked_by_earlier = exists().where(
        earlier.c.platform == table.c.platform,
        earlier.c.recipient == table.c.recipient,
        earlier.c.id < table.c.id,
        # The partial index's own condition, word for word, so that the index of open rows
        # serves this (SQLite proves nothing else): a member's history is not read.
        text(OUTBOX_OPEN_SQL.replace("status", f"{earlier.name}.status", 1)),
        ~claimable(earlier),
    )
    status = table.c.status
    if by_ids and dialect == "sqlite":
        # `+status`, which no index serves: SQLite would otherwise read every due row through
        # the status index (thousands while a campaign is queued: 0.9 ms a claim at 5,000, and
        # every event claims its replies) instead of looking the few given ids up (18 µs).
        status = literal_column(f"+{table.name}.status", type_=table.c.status.type)
    return (
        select(table.c.id)
        .where(claimable(table, status), ~blocked_by_earlier)
        .order_by(table.c.id)
        .limit(bindparam("limit"))
    )


def _recipient_key(platform: Any, recipient: Any) -> Any:
    return func.hashtext(platform + ":" + recipient)


@cache
def _lock_recipients(by_platform: bool) -> Any:
    """PostgreSQL: the advisory locks of the recipients a sweep would take rows of; returns
    the (platform, recipient) pairs it got."""
    table = Outbox.__table__
    picked = (
        _candidates("postgresql", False, by_platform)
        .add_columns(table.c.platform, table.c.recipient)
        .subquery("picked")
    )
    found = select(picked.c.platform, picked.c.recipient).distinct().subquery("recipients")
    return select(found.c.platform, found.c.recipient).where(
        func.pg_try_advisory_xact_lock(_recipient_key(found.c.platform, found.c.recipient))
    )


@cache
def _claim(dialect: str, by_ids: bool, by_platform: bool, locked_first: bool = False) -> Any:
    """Built once per shape; the hot path only binds parameters. `locked_first`: only the
    `recipients` whose advisory locks `_lock_recipients` took."""
    table = Outbox.__table__
    candidates = _candidates(dialect, by_ids, by_platform)
    if locked_first:
        # Waits for a row another transaction holds instead of skipping it: skipping a
        # member's earlier message would take their later one without it (three replicas
        # did, now and then). With these recipients' locks held, whoever holds such a row
        # lets go within its statement: a claim given `ids` passing through (it locks rows
        # before it tries the recipient's lock), an outcome being recorded.
        pair = tuple_(table.c.platform, table.c.recipient)
        candidates = candidates.where(
            pair.in_(bindparam("recipients", expanding=True))
        ).with_for_update()
    else:
        candidates = candidates.with_for_update(skip_locked=True)
    chosen: Any = candidates.scalar_subquery()
    if dialect == "postgresql" and not locked_first:
        # Applied after LIMIT, so a claimer locks only the recipients it is about to take.
        limited = candidates.add_columns(table.c.platform, table.c.recipient).subquery("picked")
        recipient_key = _recipient_key(limited.c.platform, limited.c.recipient)
        chosen = select(limited.c.id).where(func.pg_try_advisory_xact_lock(recipient_key))
    return (
        update(table)
        .where(table.c.id.in_(chosen))
        .values(
            status=OutboxStatus.SENDING,
            lease_until=bindparam("lease_until"),
            attempts=table.c.attempts + 1,
            # Taken again while still `sending`: the last holder's lease ran out with no
            # outcome recorded, so it may have reached the platform (`OUTCOME_UNKNOWN`).
            last_error=case(
                (table.c.status == OutboxStatus.SENDING, literal(OUTCOME_UNKNOWN)),
                else_=table.c.last_error,
            ),
        )
        .returning(*table.c)
    )


async def renew(
    session: Session, outbox_ids: Sequence[int], now: datetime, lease_until: datetime
) -> list[int]:
    """Extend the leases of these rows that are still leased (to us: a lease that has not run
    out cannot have been taken by anyone else); returns the ids renewed."""
    if not outbox_ids:
        return []
    dialect = session.get_bind().dialect.name
    params = {"ids": lists.value(dialect, outbox_ids), "now": now, "lease_until": lease_until}
    result = await session.core(_renew(dialect), params)
    return [row.id for row in result.all()]


@cache
def _renew(dialect: str) -> Any:
    table = Outbox.__table__
    return (
        update(table)
        .where(
            table.c.id.in_(lists.one_of(dialect, "ids")),
            table.c.status == OutboxStatus.SENDING,
            table.c.lease_until > bindparam("now"),
        )
        .values(lease_until=bindparam("lease_until"))
        .returning(table.c.id)
    )


async def recipients(session: Session, outbox_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """Platform and recipient of those of these rows that are still to be delivered."""
    if not outbox_ids:
        return {}
    dialect = session.get_bind().dialect.name
    result = await session.core(_recipients(dialect), {"ids": lists.value(dialect, outbox_ids)})
    return {row.id: (row.platform, row.recipient) for row in result.all()}


@cache
def _recipients(dialect: str) -> Any:
    table = Outbox.__table__
    return select(table.c.id, table.c.platform, table.c.recipient).where(
        table.c.id.in_(lists.one_of(dialect, "ids")),
        or_(*(table.c.status == status for status in OPEN)),
    )


_MARK_SENT = (
    update(Outbox.__table__)
    .where(
        Outbox.__table__.c.id == bindparam("sent_id"),
        Outbox.__table__.c.status == OutboxStatus.SENDING,
    )
    .values(
        status=OutboxStatus.SENT,
        delivery_id=bindparam("sent_delivery"),
        sent_at=bindparam("sent_at"),
        lease_until=None,
        last_error=None,
    )
)


async def mark_sent(session: Session, sent: Sequence[tuple[int, str]], now: datetime) -> None:
    if sent:
        await session.core(
            _MARK_SENT,
            [{"sent_id": i, "sent_delivery": d[:255], "sent_at": now} for i, d in sent],
        )


async def retry_later(
    session: Session,
    outbox_id: int,
    not_before: datetime,
    error: str,
    *,
    count_attempt: bool = True,
) -> None:
    values: dict[str, Any] = {
        "status": OutboxStatus.PENDING,
        "not_before": not_before,
        "lease_until": None,
        "last_error": error[:1000],
    }
    if not count_attempt:
        values["attempts"] = Outbox.attempts - 1
    await session.execute(
        update(Outbox)
        .where(Outbox.id == outbox_id, Outbox.status == OutboxStatus.SENDING)
        .values(**values)
    )


async def release(session: Session, outbox_ids: Sequence[int]) -> None:
    """Give back leased rows that were not attempted (their turn never came)."""
    if outbox_ids:
        await session.execute(
            update(Outbox)
            .where(Outbox.id.in_(outbox_ids), Outbox.status == OutboxStatus.SENDING)
            .values(status=OutboxStatus.PENDING, lease_until=None, attempts=Outbox.attempts - 1)
        )


async def queue(session: Session, row: dict[str, Any]) -> None:
    """One message more, written beside an outcome (a notice that a message was given up)."""
    await session.execute(insert(Outbox).values(row))


async def delete_settled(session: Session, outbox_ids: Sequence[int]) -> None:
    """Rows that must not stay once their delivery is settled (an erased member's last)."""
    await session.execute(delete(Outbox).where(Outbox.id.in_(outbox_ids)))


async def cancel_leased(session: Session, outbox_ids: Sequence[int]) -> None:
    """Leased rows that will not go after all (their campaign was cancelled)."""
    await session.execute(
        update(Outbox)
        .where(Outbox.id.in_(outbox_ids), Outbox.status == OutboxStatus.SENDING)
        .values(status=OutboxStatus.CANCELLED, lease_until=None)
    )


async def mark_failed(session: Session, outbox_id: int, error: str) -> None:
    await session.execute(
        update(Outbox)
        .where(Outbox.id == outbox_id, Outbox.status == OutboxStatus.SENDING)
        .values(status=OutboxStatus.FAILED, lease_until=None, last_error=error[:1000])
    )


async def cancel_for_member(session: Session, member_id: int) -> None:
    """The member's messages still to send will not go (/stop). One that must not outlive its
    delivery (a data export's file) goes now instead of waiting, cancelled, for retention."""
    flagged = or_(*(cast(Outbox.payload, Text).like(f'%"{flag}": true%') for flag in SETTLED_FLAGS))
    await session.execute(
        delete(Outbox).where(
            Outbox.member_id == member_id, Outbox.status == OutboxStatus.PENDING, flagged
        )
    )
    await session.execute(
        update(Outbox)
        .where(Outbox.member_id == member_id, Outbox.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.CANCELLED)
    )


async def reclaim_all_sending(session: Session) -> int:
    """At start-up of the only process (SQLite): nothing can still be in flight. A row still
    `sending` may have reached the platform before the process stopped: `OUTCOME_UNKNOWN`."""
    result = await session.execute(
        update(Outbox)
        .where(Outbox.status == OutboxStatus.SENDING)
        .values(status=OutboxStatus.PENDING, lease_until=None, last_error=OUTCOME_UNKNOWN)
    )
    return int(result.rowcount)


async def counts(session: Session) -> dict[str, int]:
    result = await session.execute(select(Outbox.status, func.count()).group_by(Outbox.status))
    return {status: count for status, count in result.all()}


# A later status never goes back: read beats delivered, delivered beats failed (Meta may
# report a failure, then deliver on its own retry), anything beats sent. Statuses arrive in
# any order.
STATUS_RANK = {
    DeliveryStatus.SENT: 1,
    DeliveryStatus.FAILED: 2,
    DeliveryStatus.DELIVERED: 3,
    DeliveryStatus.READ: 4,
}


def _rank(column: Any) -> Any:
    return case(*((column == status, rank) for status, rank in STATUS_RANK.items()), else_=0)


_TABLE = Outbox.__table__
_RECORD_DELIVERY = (
    update(_TABLE)
    .where(
        _TABLE.c.platform == bindparam("on_platform"),
        _TABLE.c.delivery_id == bindparam("for_delivery"),
        _rank(_TABLE.c.delivery_status) < bindparam("rank"),
    )
    .values(
        delivery_status=bindparam("new_status"),
        delivery_status_at=bindparam("at"),
        last_error=func.coalesce(bindparam("error"), _TABLE.c.last_error),
    )
)


async def record_delivery(
    session: Session,
    platform: str,
    delivery_id: str,
    status: str,
    at: datetime,
    error: str | None = None,
) -> bool:
    """Record what the platform later said of a sent message, unless it already said more.
    False when no message has that delivery id (or a later status is already recorded)."""
    result = await session.core(
        _RECORD_DELIVERY,
        {
            "on_platform": platform,
            "for_delivery": delivery_id[:255],
            "rank": STATUS_RANK[status],
            "new_status": status,
            "at": at,
            "error": error[:1000] if error else None,
        },
    )
    return bool(result.rowcount)


# Where replicas that do not send tell the one that does about new messages (bot/sender.py).
CHANNEL = "onramp_outbox"


async def notify(db: Database) -> None:
    """Wake the sending replica (PostgreSQL's NOTIFY, delivered to it once this commits)."""
    async with db.engine.connect() as connection:
        await connection.exec_driver_sql(f"NOTIFY {CHANNEL}")
        await connection.commit()
