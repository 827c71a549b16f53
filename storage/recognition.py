"""Kudos and badges: recording them, the counts the anti-abuse rules need, leaderboards.

Leaderboards and the contributors' export list only members who allow `leaderboards` (consent
per purpose, `listed` below); kudos to the others still count, for their badges and totals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, insert, literal, or_, select, union_all, update

from storage import activity, consent, lists, tallies
from storage.health import daysets
from storage.models import BadgeAward, FlowRun, Kudos, Member, Mentorship
from storage.session import Session, dialect_insert
from storage.statuses import RunStatus

_LIVE = Kudos.revoked_at.is_(None)
LEADERBOARDS = "leaderboards"  # the consent purpose of being listed


def listed(member_id: Any, default: bool) -> Any:
    """SQL: whether the member in `member_id` may be listed (`leaderboards`, counted as
    `default` until they say)."""
    return consent.allows(member_id, LEADERBOARDS, default)


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
    """Record a kudos (one prepared INSERT … RETURNING, no ORM object) and the receiver's
    first contribution if it is that; its id."""
    params = {
        "giver_id": giver_id,
        "receiver_id": receiver_id,
        "category": category,
        "reason": reason,
        "created_at": now,
        "weight": weight,
        "shouted": shouted,
    }
    kudos_id = int((await session.core(_INSERT, params)).first()[0])
    await activity.thanked(session, receiver_id, now)
    await tallies.add(session, receiver_id, category, now, weight, 1)
    return kudos_id


_KUDOS: Any = Kudos.__table__
_INSERT = insert(_KUDOS).returning(_KUDOS.c.id)


def _counted(*where: Any) -> Any:
    return select(func.count()).select_from(_KUDOS).where(*where).scalar_subquery()


_GIVER: Any = bindparam("giver_id")
_RECEIVER: Any = bindparam("receiver_id")
_LIVE_ROW = _KUDOS.c.revoked_at.is_(None)


def _pair(giver: Any, receiver: Any, since: str) -> Any:
    return _counted(
        _KUDOS.c.giver_id == giver,
        _KUDOS.c.receiver_id == receiver,
        _KUDOS.c.created_at >= bindparam(since),
        _LIVE_ROW,
    )


_SHOUTED = _counted(_KUDOS.c.shouted.is_(True), _KUDOS.c.created_at >= bindparam("hour"))
# Everything the anti-abuse rules ask before a kudos, in one statement run prepared: one
# round trip, each count one range of an index (ix_kudos_giver_created, _pair_created and,
# for the last hour's shout-outs, ix_kudos_shouted_created).
_RULES = select(
    _counted(_KUDOS.c.giver_id == _GIVER, _KUDOS.c.created_at >= bindparam("day"), _LIVE_ROW),
    _pair(_GIVER, _RECEIVER, "week"),
    _pair(_GIVER, _RECEIVER, "window"),
    _pair(_RECEIVER, _GIVER, "window"),
    _SHOUTED,
)


@dataclass(frozen=True)
class RuleCounts:
    """What the anti-abuse rules count before `giver` thanks `receiver` (live kudos)."""

    given_today: int  # by the giver, in the last 24 hours
    to_this_week: int  # by the giver to the receiver, in the last 7 days
    to_lately: int  # the same, in the reciprocal rule's window
    back_lately: int  # by the receiver to the giver, in that window
    shouted: int  # shout-outs by anyone in the last hour (revoked ones too)


async def rule_counts(
    session: Session, giver_id: int, receiver_id: int, now: datetime, window: timedelta
) -> RuleCounts:
    params = {
        "giver_id": giver_id,
        "receiver_id": receiver_id,
        "day": now - timedelta(days=1),
        "week": now - timedelta(days=7),
        "window": now - window,
        "hour": now - timedelta(hours=1),
    }
    row = (await session.core(_RULES, params)).first()
    return RuleCounts(*(int(n) for n in row))


async def revoke(session: Session, kudos_id: int, by: int, now: datetime) -> Kudos | None:
    """Revoke a kudos once; None if there is none with that id, or it was revoked already."""
    result = await session.execute(
        update(Kudos)
        .where(Kudos.id == kudos_id, _LIVE)
        .values(revoked_at=now, revoked_by=by)
        .returning(Kudos)
    )
    revoked: Kudos | None = result.scalar_one_or_none()
    if revoked is None:
        return None
    if revoked.receiver_id is not None:  # (None: a former member's) perhaps their first
        await activity.recount(session, receivers=[revoked.receiver_id])
        await tallies.add(
            session,
            revoked.receiver_id,
            revoked.category,
            revoked.created_at,
            -revoked.weight,
            -1,
        )
    # The health metrics' summaries of its day (givers, receivers, kudos) hold no longer.
    day = revoked.created_at.astimezone(UTC).date()
    kinds = (daysets.Kind.GAVE, daysets.Kind.RECEIVED, daysets.Kind.KUDOS)
    await daysets.forget_days(session, kinds, [day])
    return revoked


async def leaderboard(
    session: Session,
    since: datetime | None,
    category: str | None,
    limit: int = 10,
    *,
    window: str | None = None,
    roll: bool = False,
    listed_by_default: bool = True,
) -> list[Standing]:
    """The members who received the most (weighted) kudos since `since` (ever, if None), in
    `category` if given: the first `limit` places, and everyone tied with the last of them.

    From the running totals (storage/tallies.py): ever, the first rows of `kudos_total` by
    points. Since a moment: with `window` (a period of `tallies.WINDOWS` that starts at
    `since`), the first rows of that window's totals, with the kudos of the part of its first
    day after `since`; `roll` lets a window a day behind move on first (a transaction that may
    write). Without (or when the window cannot be read: a read-only transaction on a new day),
    the day totals of the days after it are added up. Names are read for the few members
    shown. Members who do not allow `leaderboards` (`listed_by_default` until they say) are
    left out, and the places are counted without them."""
    kind = category or tallies.ALL
    totals = None
    if window is not None and since is not None:
        first_whole = daysets.first_whole_day(since)
        if await tallies.window_from(session, window, first_whole, roll=roll):
            totals = await _windowed(
                session, window, since, first_whole, kind, limit, listed_by_default
            )
    if totals is None:
        totals = _since(session, since, kind, listed_by_default)
    points = totals.c.points
    ranked = select(totals.c.receiver_id, points, totals.c.kudos).order_by(
        points.desc(), totals.c.receiver_id
    )
    fetched = (await session.execute(ranked.limit(limit + 10))).all()
    if len(fetched) == limit + 10 and fetched[-1][1] == fetched[limit - 1][1]:
        # More tied with the last place than fetched: everyone with that many points.
        fetched = (await session.execute(ranked.where(points >= fetched[limit - 1][1]))).all()
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


def _part_day(since: datetime, first_whole: date, category: str, by_default: bool) -> Any:
    """(receiver_id, points, kudos) of each live kudos in the part of `since`'s day after it,
    to a member who may be listed."""
    part = select(_KUDOS.c.receiver_id, _KUDOS.c.weight, literal(1)).where(
        _LIVE_ROW,
        _KUDOS.c.created_at >= since,
        _KUDOS.c.created_at < daysets.midnight(first_whole),
        listed(_KUDOS.c.receiver_id, by_default),
    )
    return part if category == tallies.ALL else part.where(_KUDOS.c.category == category)


async def _windowed(
    session: Session,
    period: str,
    since: datetime,
    first_whole: date,
    category: str,
    limit: int,
    by_default: bool,
) -> Any:
    """(receiver_id, points, kudos) of enough members to rank the first `limit` places since
    `since`: everyone whose window total reaches the `limit`-th highest (`floor`), and everyone
    with a kudos in the part of a day before the window. Anyone else has their window total
    alone, below the floor, which at least `limit` of these reach."""
    total: Any = tallies.TOTAL
    points, kudos = total.c[f"{period}_points"], total.c[f"{period}_kudos"]
    here = [total.c.category == category, kudos > 0, listed(total.c.member_id, by_default)]
    floor = (
        await session.execute(
            select(points).where(*here).order_by(points.desc()).offset(limit - 1).limit(1)
        )
    ).scalar()
    part = _part_day(since, first_whole, category, by_default)
    window = select(total.c.member_id.label("receiver_id"), points, kudos).where(*here)
    if floor is None:  # fewer than `limit` members in the window: all of them
        both = union_all(window, part).subquery()
    else:  # (two statements, not one OR: each a range of an index)
        cut = part.subquery()
        to_the_floor = window.where(points >= floor)
        below = window.where(points < floor, total.c.member_id.in_(select(cut.c.receiver_id)))
        both = union_all(to_the_floor, below, part).subquery()
    return (
        select(
            both.c.receiver_id,
            func.sum(both.c[f"{period}_points"]).label("points"),
            func.sum(both.c[f"{period}_kudos"]).label("kudos"),
        )
        .group_by(both.c.receiver_id)
        .having(func.sum(both.c[f"{period}_kudos"]) > 0)
        .subquery()
    )


def _since(session: Session, since: datetime | None, category: str, by_default: bool) -> Any:
    """(receiver_id, points, kudos) of every member who may be listed with a live kudos since
    `since`."""
    total: Any = tallies.TOTAL
    if since is None:
        return (
            select(total.c.member_id.label("receiver_id"), total.c.points, total.c.kudos)
            .where(
                total.c.category == category,
                total.c.kudos > 0,
                listed(total.c.member_id, by_default),
            )
            .subquery()
        )
    day: Any = tallies.DAY
    first_whole = daysets.first_whole_day(since)
    days = select(day.c.member_id.label("receiver_id"), day.c.points, day.c.kudos).where(
        day.c.category == category,
        day.c.day >= first_whole,
        listed(day.c.member_id, by_default),
    )
    # The part of the first day after `since`, from the kudos themselves.
    both = union_all(days, _part_day(since, first_whole, category, by_default)).subquery()
    points = func.sum(both.c.points).label("points")
    kudos = func.sum(both.c.kudos).label("kudos")
    return (
        select(both.c.receiver_id, points, kudos)
        .group_by(both.c.receiver_id)
        .having(func.sum(both.c.kudos) > 0)
        .subquery()
    )


async def received_by_category(session: Session, member_id: int) -> dict[str, int]:
    """The live kudos a member received per kind of contribution (their running totals)."""
    total: Any = tallies.TOTAL
    rows = await session.execute(
        select(total.c.category, total.c.kudos).where(
            total.c.member_id == member_id, total.c.category != tallies.ALL, total.c.kudos > 0
        )
    )
    return {category: int(count) for category, count in rows.all()}


def _given_count(in_category: bool) -> Any:
    where = [_KUDOS.c.giver_id == bindparam("member_id"), _LIVE_ROW]
    if in_category:
        where.append(_KUDOS.c.category == bindparam("category"))
    return select(func.count()).select_from(_KUDOS).where(*where)


# Badge progress after every kudos: built once, run prepared. Kudos given are counted; kudos
# received are the running totals' (storage/tallies.py), one key's row.
_GIVEN_COUNT = {in_category: _given_count(in_category) for in_category in (True, False)}
_TOTAL: Any = tallies.TOTAL
_RECEIVED_COUNT = select(_TOTAL.c.kudos).where(
    _TOTAL.c.member_id == bindparam("member_id"), _TOTAL.c.category == bindparam("category")
)


async def kudos_count(
    session: Session, member_id: int, *, received: bool, category: str | None = None
) -> int:
    """The live kudos a member received (or gave), in `category` if given."""
    if received:
        params = {"member_id": member_id, "category": category or tallies.ALL}
        row = (await session.core(_RECEIVED_COUNT, params)).first()
        return int(row[0]) if row is not None else 0
    statement = _GIVEN_COUNT[category is not None]
    given: dict[str, Any] = {"member_id": member_id}
    if category is not None:
        given["category"] = category
    return int((await session.core(statement, given)).first()[0])


# Badge progress, read when a flow or a mentorship ends (built once).
_FLOWS_COMPLETED = (
    select(func.count())
    .select_from(FlowRun)
    .where(FlowRun.member_id == bindparam("member_id"), FlowRun.status == bindparam("completed"))
)
_FLOWS_COMPLETED_OF = {  # of one flow, or of any (keyed like _GIVEN_COUNT)
    True: _FLOWS_COMPLETED.where(FlowRun.flow_id == bindparam("flow")),
    False: _FLOWS_COMPLETED,
}
_MENTORSHIPS_COMPLETED = (
    select(func.count())
    .select_from(Mentorship)
    .where(
        Mentorship.end_reason == "completed",
        or_(
            Mentorship.newcomer_id == bindparam("member_id"),
            Mentorship.mentor_id == bindparam("member_id"),
        ),
    )
)


async def flows_completed(session: Session, member_id: int, flow: str | None = None) -> int:
    params: dict[str, Any] = {"member_id": member_id, "completed": RunStatus.COMPLETED}
    if flow is not None:
        params["flow"] = flow
    statement = _FLOWS_COMPLETED_OF[flow is not None]
    return int((await session.core(statement, params)).first()[0])


async def mentorships_completed(session: Session, member_id: int) -> int:
    result = await session.core(_MENTORSHIPS_COMPLETED, {"member_id": member_id})
    return int(result.first()[0])


_BADGE: Any = BadgeAward.__table__
_BADGES_OF = (
    select(_BADGE.c.badge, _BADGE.c.awarded_at)
    .where(_BADGE.c.member_id == bindparam("member_id"))
    .order_by(_BADGE.c.awarded_at)
)


async def badges_of(session: Session, member_id: int) -> dict[str, datetime]:
    rows = (await session.core(_BADGES_OF, {"member_id": member_id})).all()
    return {badge: at for badge, at in rows}


async def badges_of_each(session: Session, member_ids: Sequence[int]) -> dict[int, set[str]]:
    """The badges of each of these members (a kudos' giver and receiver), in one query."""
    dialect = session.get_bind().dialect.name
    params = {"member_ids": lists.value(dialect, member_ids)}
    owned: dict[int, set[str]] = {member_id: set() for member_id in member_ids}
    for member_id, badge in (await session.core(_badges_of_each(dialect), params)).all():
        owned[member_id].add(badge)
    return owned


@cache
def _badges_of_each(dialect: str) -> Any:
    return select(_BADGE.c.member_id, _BADGE.c.badge).where(
        _BADGE.c.member_id.in_(lists.one_of(dialect, "member_ids"))
    )


async def award(session: Session, member_id: int, badge: str, now: datetime) -> bool:
    """Award a badge; False if the member has it already (each badge once)."""
    dialect = session.get_bind().dialect.name
    result = await session.core(
        _award(dialect), {"awardee": member_id, "awarded_badge": badge, "awarded_when": now}
    )
    return result.first() is not None


@cache
def _award(dialect: str) -> Any:
    """Built once per dialect (each build left objects in reference cycles for the
    collector)."""
    return (
        dialect_insert(dialect)(BadgeAward)
        .values(
            member_id=bindparam("awardee"),
            badge=bindparam("awarded_badge"),
            awarded_at=bindparam("awarded_when"),
        )
        .on_conflict_do_nothing(index_elements=["member_id", "badge"])
        .returning(BadgeAward.id)
    )


async def everyone(
    session: Session, listed_by_default: bool = True
) -> list[tuple[int, str, str, float, int]]:
    """Every member who may be listed (`leaderboards`, `listed_by_default` until they say)
    with live kudos received: id, name, category, points, count (for exports)."""
    rows = await session.execute(
        select(
            Kudos.receiver_id,
            Member.display_name,
            Kudos.category,
            func.sum(Kudos.weight),
            func.count(),
        )
        .join(Member, Member.id == Kudos.receiver_id)
        .where(_LIVE, listed(Kudos.receiver_id, listed_by_default))
        .group_by(Kudos.receiver_id, Member.display_name, Kudos.category)
        .order_by(Kudos.receiver_id, Kudos.category)
    )
    return [(m, n, c, float(p), int(k)) for m, n, c, p, k in rows.all()]
