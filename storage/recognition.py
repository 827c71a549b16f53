"""Kudos and badges: recording them, the counts the anti-abuse rules need, leaderboards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update

from storage import activity
from storage.health import daysets
from storage.models import BadgeAward, FlowRun, Kudos, Member, Mentorship
from storage.session import Session, dialect_insert
from storage.statuses import RunStatus

_LIVE = Kudos.revoked_at.is_(None)


@dataclass(frozen=True)
class Standing:
    """One line of a leaderboard."""

    rank: int  # competition ranking: 1, 2, 2, 4
    member_id: int
    name: str
    points: float
    kudos: int


async def give(
    session: Session,
    *,
    giver_id: int,
    receiver_id: int,
    category: str,
    reason: str,
    now: datetime,
    weight: float,
    shouted: bool,
) -> int:
    kudos = Kudos(
        giver_id=giver_id,
        receiver_id=receiver_id,
        category=category,
        reason=reason,
        created_at=now,
        weight=weight,
        shouted=shouted,
    )
    session.add(kudos)
    await session.flush()
    assert kudos.id is not None
    await activity.thanked(session, receiver_id, now)
    return kudos.id


_KUDOS: Any = Kudos.__table__
# The anti-abuse rules' counts run on every kudos: statements built once, run prepared.
_GIVEN_SINCE = (
    select(func.count())
    .select_from(_KUDOS)
    .where(
        _KUDOS.c.giver_id == bindparam("giver_id"),
        _KUDOS.c.created_at >= bindparam("since"),
        _KUDOS.c.revoked_at.is_(None),
    )
)
_TO_SINCE = _GIVEN_SINCE.where(_KUDOS.c.receiver_id == bindparam("receiver_id"))
_SHOUTED_SINCE = (
    select(func.count())
    .select_from(_KUDOS)
    .where(_KUDOS.c.shouted.is_(True), _KUDOS.c.created_at >= bindparam("since"))
)


async def _count(session: Session, statement: Any, params: dict[str, Any]) -> int:
    return int((await session.core(statement, params)).first()[0])


async def given_since(session: Session, giver_id: int, since: datetime) -> int:
    return await _count(session, _GIVEN_SINCE, {"giver_id": giver_id, "since": since})


async def to_since(session: Session, giver_id: int, receiver_id: int, since: datetime) -> int:
    params = {"giver_id": giver_id, "receiver_id": receiver_id, "since": since}
    return await _count(session, _TO_SINCE, params)


async def shouted_since(session: Session, since: datetime) -> int:
    return await _count(session, _SHOUTED_SINCE, {"since": since})


async def revoke(session: Session, kudos_id: int, by: int, now: datetime) -> Kudos | None:
    """Revoke a kudos once; None if there is none with that id, or it was revoked already."""
    result = await session.execute(
        update(Kudos)
        .where(Kudos.id == kudos_id, _LIVE)
        .values(revoked_at=now, revoked_by=by)
        .returning(Kudos)
    )
    revoked: Kudos | None = result.scalar_one_or_none()
    if revoked is not None:  # it may have been the receiver's first
        await activity.recount(session, receivers=[revoked.receiver_id])
        # The health metrics' summaries of its day (givers, receivers, kudos) hold no longer.
        day = revoked.created_at.astimezone(UTC).date()
        kinds = (daysets.Kind.GAVE, daysets.Kind.RECEIVED, daysets.Kind.KUDOS)
        await daysets.forget_days(session, kinds, [day])
    return revoked


async def leaderboard(
    session: Session, since: datetime | None, category: str | None, limit: int = 10
) -> list[Standing]:
    """The members who received the most (weighted) kudos since `since` (ever, if None), in
    `category` if given: the first `limit` places, and everyone tied with the last of them.

    One aggregate over a covering partial index of the live kudos (see `Kudos`); names are
    read for the few members shown."""
    where = [_LIVE]
    if since is not None:
        where.append(Kudos.created_at >= since)
    if category is not None:
        where.append(Kudos.category == category)
    points = func.sum(Kudos.weight)
    # For a period, grouping by `receiver_id + 0` keeps SQLite from walking the by-receiver
    # index in order (to save a sort) instead of reading only the period's range by date.
    receiver = Kudos.receiver_id if since is None and category is None else Kudos.receiver_id + 0
    totals = (
        select(receiver, points, func.count())
        .where(*where)
        .group_by(receiver)
        .order_by(points.desc(), receiver)
    )
    fetched = (await session.execute(totals.limit(limit + 10))).all()
    if len(fetched) == limit + 10 and fetched[-1][1] == fetched[limit - 1][1]:
        # More tied with the last place than fetched: everyone with that many points.
        fetched = (await session.execute(totals.having(points >= fetched[limit - 1][1]))).all()
    if len(fetched) > limit:
        last = fetched[limit - 1][1]
        fetched = [row for row in fetched if row[1] >= last]
    names = dict(
        (
            await session.execute(
                select(Member.id, Member.display_name).where(
                    Member.id.in_([row[0] for row in fetched])
                )
            )
        ).all()
    )
    ordered = sorted(fetched, key=lambda row: (-row[1], names.get(row[0], ""), row[0]))
    standings: list[Standing] = []
    for position, (member_id, total, count) in enumerate(ordered, start=1):
        rank = position
        if standings and round(standings[-1].points, 6) == round(float(total), 6):
            rank = standings[-1].rank
        name = names.get(member_id, "")
        standings.append(Standing(rank, member_id, name, round(float(total), 2), int(count)))
    return standings


async def received_by_category(session: Session, member_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(Kudos.category, func.count())
        .where(Kudos.receiver_id == member_id, _LIVE)
        .group_by(Kudos.category)
    )
    return {category: int(count) for category, count in rows.all()}


async def kudos_count(
    session: Session, member_id: int, *, received: bool, category: str | None = None
) -> int:
    who = Kudos.receiver_id if received else Kudos.giver_id
    where = [who == member_id, _LIVE]
    if category is not None:
        where.append(Kudos.category == category)
    result = await session.execute(select(func.count()).select_from(Kudos).where(*where))
    return int(result.scalar_one())


async def flows_completed(session: Session, member_id: int, flow: str | None = None) -> int:
    where = [FlowRun.member_id == member_id, FlowRun.status == RunStatus.COMPLETED]
    if flow is not None:
        where.append(FlowRun.flow_id == flow)
    result = await session.execute(select(func.count()).select_from(FlowRun).where(*where))
    return int(result.scalar_one())


async def mentorships_completed(session: Session, member_id: int) -> int:
    result = await session.execute(
        select(func.count())
        .select_from(Mentorship)
        .where(
            Mentorship.end_reason == "completed",
            or_(Mentorship.newcomer_id == member_id, Mentorship.mentor_id == member_id),
        )
    )
    return int(result.scalar_one())


async def badges_of(session: Session, member_id: int) -> dict[str, datetime]:
    rows = await session.execute(
        select(BadgeAward.badge, BadgeAward.awarded_at)
        .where(BadgeAward.member_id == member_id)
        .order_by(BadgeAward.awarded_at)
    )
    return {badge: at for badge, at in rows.all()}


async def award(session: Session, member_id: int, badge: str, now: datetime) -> bool:
    """Award a badge; False if the member has it already (each badge once)."""
    insert = dialect_insert(session.get_bind().dialect.name)
    result = await session.execute(
        insert(BadgeAward)
        .values(member_id=member_id, badge=badge, awarded_at=now)
        .on_conflict_do_nothing(index_elements=["member_id", "badge"])
        .returning(BadgeAward.id)
    )
    return result.scalar_one_or_none() is not None


async def everyone(session: Session) -> list[tuple[int, str, str, float, int]]:
    """Every member with live kudos received: id, name, category, points, count (for
    exports)."""
    rows = await session.execute(
        select(
            Kudos.receiver_id,
            Member.display_name,
            Kudos.category,
            func.sum(Kudos.weight),
            func.count(),
        )
        .join(Member, Member.id == Kudos.receiver_id)
        .where(_LIVE)
        .group_by(Kudos.receiver_id, Member.display_name, Kudos.category)
        .order_by(Kudos.receiver_id, Kudos.category)
    )
    return [(m, n, c, float(p), int(k)) for m, n, c, p, k in rows.all()]
