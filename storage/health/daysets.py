"""Each closed UTC day summarised once, for the health metrics: who did something that day
(sets of member ids: active, joined, gave or received a live kudos), how much of it (counts:
live kudos per kind of contribution, badges awarded per badge), how long those who joined
waited for the bot's first message (durations), and how far those who joined went through
the onboarding funnel. A period's distinct members are then the union of its days' sets,
counted in memory, instead of a distinct count over every row of the period (700,000 days of
activity in 90 days at 100,000 members) or a probe per member; its kudos per month and kind
are sums of a few hundred small counts instead of a count over a million kudos.

A closed day's summaries never change on their own (but for the funnel, see below):
activity, members, kudos and badges are written with the clock of the moment, so once the
day is over (by an hour, to allow for two replicas' clocks) nothing new lands on it. `fill`
stores them (`day_summary`: per kind and day, a Roaring bitmap or a JSON object of counts),
run by a periodic job; days not stored yet (today, or all of them before the job first ran)
are read from the rows, and so is the part of a day a period's instant edge cuts. What can
change a closed day drops its summaries, which `fill` then works out again: a kudos revoked
(`forget_days`), a member forgotten (`forget_member`: their days go, so no copy of their id
is kept), and, for the onboarding funnel of the members who joined on a day
(storage/health/funnel.py), any later step one of them takes (storage/activity.py). A
dropped day's version moves on, and a fill stores only at the version it read, so a fill that
read the rows before a change cannot store them after it.
"""

from __future__ import annotations

import asyncio
import json
import struct
import sys
from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from pyroaring import BitMap
from sqlalchemy import func, or_, select, update

from storage.health import funnel, sql
from storage.health.types import Filters
from storage.models import BadgeAward, DaySummary, Kudos, Member, MemberActivity
from storage.session import Database, Session, dialect_insert

ACTIVITY: Any = MemberActivity.__table__  # type: ignore[attr-defined]
MEMBER: Any = Member.__table__  # type: ignore[attr-defined]
KUDOS: Any = Kudos.__table__  # type: ignore[attr-defined]
BADGE: Any = BadgeAward.__table__  # type: ignore[attr-defined]
SETS: Any = DaySummary.__table__  # type: ignore[attr-defined]

ONE_DAY = timedelta(days=1)
FILL_DAYS = 31  # days of one kind stored per `fill` call: one short transaction each
CLOSING = timedelta(hours=1)  # how long after midnight the day before counts as closed


class Kind(StrEnum):
    # Sets of members
    ACTIVE = "active"  # a day of member_activity
    JOINED = "joined"  # member.created_at
    GAVE = "gave"  # a live kudos, as its giver
    RECEIVED = "received"  # a live kudos, as its receiver
    FIRST_KUDOS = "first_kudos"  # member.first_kudos_at: their first live kudos received
    # Counts
    KUDOS = "kudos"  # live kudos per kind of contribution (category)
    BADGES = "badges"  # badges awarded, per badge
    # Durations
    WAITS = "waits"  # seconds from joining to the bot's first message, of those reached
    # The onboarding funnel of the members who joined that day (storage/health/funnel.py),
    # for the content's onboarding flow: stored only when a fill is told which flow that is.
    FUNNEL = "funnel"


COUNTED = frozenset({Kind.KUDOS, Kind.BADGES})
# Stored as bitmaps of member ids.
MEMBER_SETS = frozenset({Kind.ACTIVE, Kind.JOINED, Kind.GAVE, Kind.RECEIVED, Kind.FIRST_KUDOS})
IN_JSON = COUNTED | {Kind.FUNNEL}  # stored as JSON: counts by key, or a day's funnel
# Durations (WAITS) are stored as 8-byte floats, little-endian: a year of waits (100,000) is
# read in a millisecond, where it took 20 as JSON.
Counts = dict[str, int]


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _source(kind: Kind, dialect: str, low: datetime, high: datetime) -> Any:
    """(day, member id) of every row of `kind` at an instant in [low, high), or (day, key,
    count) for counted kinds; for ACTIVE, which has days only, the days of that range (`low`
    and `high` are midnights); for GAVE and RECEIVED, (day, giver, receiver): both sides of
    the live kudos, read together (`_givers_and_receivers`)."""
    assert kind is not Kind.FUNNEL  # read by storage/health/funnel.py
    if kind in COUNTED:
        when, key = (
            (KUDOS.c.created_at, KUDOS.c.category)
            if kind is Kind.KUDOS
            else (BADGE.c.awarded_at, BADGE.c.badge)
        )
        day = sql.day_of(when, dialect)
        statement = select(day, key, func.count()).where(when >= low, when < high)
        if kind is Kind.KUDOS:
            statement = statement.where(KUDOS.c.revoked_at.is_(None))
        return statement.group_by(day, key)
    if kind is Kind.WAITS:
        joined, reached = MEMBER.c.created_at, MEMBER.c.first_reached_at
        waited = sql.seconds_between(joined, reached, dialect)
        return select(sql.day_of(joined, dialect), waited).where(
            joined >= low, joined < high, reached.is_not(None)
        )
    if kind is Kind.ACTIVE:
        day = ACTIVITY.c.day
        return select(day, ACTIVITY.c.member_id).where(day >= low.date(), day < high.date())
    if kind in _PAIRED:
        when = KUDOS.c.created_at
        return select(sql.day_of(when, dialect), KUDOS.c.giver_id, KUDOS.c.receiver_id).where(
            when >= low, when < high, KUDOS.c.revoked_at.is_(None)
        )
    when = MEMBER.c.created_at if kind is Kind.JOINED else MEMBER.c.first_kudos_at
    return select(sql.day_of(when, dialect), MEMBER.c.id).where(when >= low, when < high)


_PAIRED = {Kind.GAVE: Kind.RECEIVED, Kind.RECEIVED: Kind.GAVE}  # two sides of the same rows


async def _live(session: Session, kind: Kind, low: datetime, high: datetime) -> dict[date, Any]:
    """Each day's summary in [low, high), read from the rows (days with none left out).
    Givers and receivers are read together, once a session: a page, or the report, that
    asks for both (the Recognition page does) reads the period's edge kudos once."""
    if kind in _PAIRED:
        return await _givers_and_receivers(session, low, high, kind)
    rows = await session.execute(_source(kind, sql.dialect_of(session), low, high))
    if kind in COUNTED:
        counts: dict[Any, Counts] = defaultdict(dict)
        for day, key, n in rows:
            counts[day][key] = int(n)
        return {sql.as_date(day): found for day, found in counts.items()}
    if kind is Kind.WAITS:
        waits: dict[Any, array[float]] = defaultdict(lambda: array("d"))
        for day, seconds in rows:
            waits[day].append(float(seconds))
        return {sql.as_date(day): found for day, found in waits.items()}
    ids: dict[Any, list[int]] = defaultdict(list)
    for day, member in rows:
        ids[day].append(member)
    return {sql.as_date(day): BitMap(members) for day, members in ids.items()}


async def _givers_and_receivers(
    session: Session, low: datetime, high: datetime, kind: Kind
) -> dict[date, BitMap]:
    read: dict[Any, dict[date, BitMap]] = session.orm.info.setdefault("daysets.kudos_people", {})
    found = read.pop((kind, low, high), None)  # the other side of an earlier read
    if found is not None:
        return found
    statement = _source(kind, sql.dialect_of(session), low, high)
    givers: dict[Any, list[int]] = defaultdict(list)
    receivers: dict[Any, list[int]] = defaultdict(list)
    for on, giver, receiver in await session.execute(statement):
        if giver is not None:  # (None: a former member's side of the kudos)
            givers[on].append(giver)
        if receiver is not None:
            receivers[on].append(receiver)
    sides = {
        side: {sql.as_date(on): BitMap(ids) for on, ids in by_day.items()}
        for side, by_day in ((Kind.GAVE, givers), (Kind.RECEIVED, receivers))
    }
    read[(_PAIRED[kind], low, high)] = sides[_PAIRED[kind]]
    return sides[kind]


def _empty(kind: Kind) -> Any:
    return {} if kind in COUNTED else array("d") if kind is Kind.WAITS else BitMap()


def _dump(kind: Kind, summary: Any) -> bytes:
    if kind in IN_JSON:
        return json.dumps(summary, sort_keys=True, separators=(",", ":")).encode()
    if kind is Kind.WAITS:
        return struct.pack(f"<{len(summary)}d", *summary)
    summary.run_optimize()
    return summary.serialize()  # type: ignore[no-any-return]


def _load(kind: Kind, blob: bytes) -> Any:
    if kind in IN_JSON:
        return json.loads(blob)
    if kind is Kind.WAITS:
        durations = array("d", blob)
        if sys.byteorder == "big":
            durations.byteswap()
        return durations
    return BitMap.deserialize(blob)


def each_day(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += ONE_DAY


def _runs(days: list[date], longest: int | None = None) -> Iterator[list[date]]:
    """Sorted days in runs of consecutive ones (at most `longest` long)."""
    run: list[date] = []
    for day in days:
        if run and (day - run[-1] != ONE_DAY or (longest and len(run) == longest)):
            yield run
            run = []
        run.append(day)
    if run:
        yield run


async def _stored(session: Session, kind: Kind, first: date, last: date) -> dict[date, bytes]:
    statement = select(SETS.c.day, SETS.c.summary).where(
        SETS.c.kind == kind.value,
        SETS.c.day >= first,
        SETS.c.day <= last,
        SETS.c.summary.is_not(None),
    )
    return {sql.as_date(day): members for day, members in await session.execute(statement)}


async def _days(session: Session, kind: Kind, first: date, last: date) -> dict[date, Any]:
    """The summary of every day from `first` to `last` (inclusive): stored ones, and the
    others read from the rows (a query per run of consecutive missing days)."""
    if last < first:
        return {}
    found = {
        day: _load(kind, blob) for day, blob in (await _stored(session, kind, first, last)).items()
    }
    missing = [day for day in each_day(first, last) if day not in found]
    for run in _runs(missing):
        live = await _live(session, kind, midnight(run[0]), midnight(run[-1] + ONE_DAY))
        for day in run:
            found[day] = live.get(day, _empty(kind))
    return found


async def days(session: Session, kind: Kind, first: date, last: date) -> dict[date, BitMap]:
    """The set of members of every day from `first` to `last` (inclusive)."""
    assert kind in MEMBER_SETS
    return await _days(session, kind, first, last)


def first_whole_day(start: datetime) -> date:
    """The first whole UTC day from `start` on: its own day if it is a midnight."""
    start = start.astimezone(UTC)
    return start.date() if start == midnight(start.date()) else start.date() + ONE_DAY


def whole_days(start: datetime, end: datetime) -> tuple[date, date]:
    """The first and last whole UTC days inside [start, end) (the first after the last when
    there is none)."""
    return first_whole_day(start), end.date() - ONE_DAY  # the day holding `end` is not whole


async def summaries(
    session: Session, kind: Kind, start: datetime, end: datetime
) -> dict[date, Any]:
    """The summary (members, counts or durations) of every day with an instant in
    [start, end), of those instants only: whole days from their stored summaries, the
    part-days at either edge from the rows."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return {}
    first, last = whole_days(start, end)
    if first > last:
        return await _live(session, kind, start, end)
    found = await _days(session, kind, first, last)
    for low, high in ((start, midnight(first)), (midnight(last + ONE_DAY), end)):
        if low < high:
            found.update(await _live(session, kind, low, high))
    return found


async def funnel_days(session: Session, first: date, last: date) -> dict[date, funnel.Day]:
    """The stored funnel of each day of joining from `first` to `last` (days not stored, or
    dropped, left out); `funnel.Day.answers` says whether one holds for a period."""
    stored = await _stored(session, Kind.FUNNEL, first, last)
    return {day: funnel.Day.from_json(json.loads(blob)) for day, blob in stored.items()}


def union(sets: Mapping[date, BitMap], first: date, last: date) -> BitMap:
    """The members in any of the sets of the days from `first` to `last`."""
    chosen = [members for day, members in sets.items() if first <= day <= last]
    return BitMap.union(*chosen) if chosen else BitMap()


async def between(session: Session, kind: Kind, start: datetime, end: datetime) -> BitMap:
    """The members with a row of `kind` at an instant in [start, end)."""
    assert kind in MEMBER_SETS
    return _merged(await summaries(session, kind, start, end))


def _merged(sets: Mapping[date, BitMap]) -> BitMap:
    return BitMap.union(*sets.values()) if sets else BitMap()


async def scope(session: Session, filters: Filters) -> BitMap | None:
    """The members the filters keep (platform, locale); None when they name neither."""
    if not (filters.platform or filters.locale):
        return None
    statement = select(MEMBER.c.id).where(sql.in_scope(filters, MEMBER.c.id))
    return BitMap((await session.execute(statement)).scalars())


def count(members: BitMap, kept: BitMap | None) -> int:
    """How many of `members` the filters keep (`kept` from `scope`)."""
    return len(members) if kept is None else members.intersection_cardinality(kept)


async def _one(session: Session, statement: Any) -> Any:
    return (await session.execute(statement)).scalar()


async def _oldest(session: Session, kind: Kind) -> date | None:
    if kind is Kind.ACTIVE:
        oldest: date | None = await _one(session, select(func.min(ACTIVITY.c.day)))
        return oldest
    column = {
        Kind.JOINED: MEMBER.c.created_at,
        Kind.WAITS: MEMBER.c.created_at,
        Kind.FUNNEL: MEMBER.c.created_at,
        Kind.FIRST_KUDOS: MEMBER.c.first_kudos_at,
        Kind.BADGES: BADGE.c.awarded_at,
    }.get(kind, KUDOS.c.created_at)
    first: datetime | None = await _one(session, select(func.min(column)))
    return None if first is None else first.astimezone(UTC).date()


@dataclass(frozen=True)
class Batch:
    """Closed days of one kind whose sets are to be stored: missing, or `stale` (dropped by a
    change; the version each was seen at)."""

    kind: Kind
    days: list[date]
    stale: dict[date, int]
    onboarding_flow: str | None = None  # the funnel's


def last_closed(now: datetime) -> date:
    """The last day nothing new can land on: the day before the one `now` falls in, once an
    hour of that one has passed (two replicas' clocks may disagree that long)."""
    return (now.astimezone(UTC) - CLOSING).date() - ONE_DAY


async def next_batch(
    session: Session,
    now: datetime,
    longest: int = FILL_DAYS,
    onboarding_flow: str | None = None,
) -> Batch | None:
    """The first run of at most `longest` closed days of one kind whose summaries are not
    stored (or, for the funnel, stored for another onboarding flow than `onboarding_flow`;
    without one, the funnel is left alone); None when all are."""
    closed = last_closed(now)
    for kind in Kind:
        if kind is Kind.FUNNEL and onboarding_flow is None:
            continue
        oldest = await _oldest(session, kind)
        if oldest is None or oldest > closed:
            continue
        statement = select(SETS.c.day, SETS.c.version, SETS.c.summary).where(
            SETS.c.kind == kind.value, SETS.c.day >= oldest, SETS.c.day <= closed
        )
        seen = {
            sql.as_date(day): (version, _stale(kind, summary, onboarding_flow))
            for day, version, summary in await session.execute(statement)
        }
        missing = [day for day in each_day(oldest, closed) if seen.get(day, (0, True))[1]]
        for run in _runs(missing, longest):
            stale = {day: seen[day][0] for day in run if day in seen}
            return Batch(kind, run, stale, onboarding_flow if kind is Kind.FUNNEL else None)
    return None


def _stale(kind: Kind, summary: bytes | None, onboarding_flow: str | None) -> bool:
    if summary is None:
        return True
    return kind is Kind.FUNNEL and json.loads(summary).get("flow") != onboarding_flow


async def work_out(session: Session, batch: Batch) -> dict[date, bytes]:
    """The batch's sets, read from the rows and serialized."""
    low, high = midnight(batch.days[0]), midnight(batch.days[-1] + ONE_DAY)
    if batch.kind is Kind.FUNNEL:
        flow = batch.onboarding_flow or ""
        found = await funnel.by_day(session, flow, low, high, sql.dialect_of(session))
        nobody = funnel.Day(flow, funnel.Counts(), None, None)
        return {day: _dump(batch.kind, found.get(day, nobody).as_json()) for day in batch.days}
    live = await _live(session, batch.kind, low, high)
    return {day: _dump(batch.kind, live.get(day, _empty(batch.kind))) for day in batch.days}


async def store(session: Session, batch: Batch, sets: Mapping[date, bytes]) -> None:
    """Store what `work_out` read, unless a change dropped a set since it was read: a new day
    only if nothing was stored for it meanwhile (not even a change's mark), a stale one only
    at the version it was seen at."""
    kind = batch.kind.value
    new = [
        {"kind": kind, "day": day, "summary": sets[day], "version": 0}
        for day in batch.days
        if day not in batch.stale
    ]
    if new:
        insert = dialect_insert(sql.dialect_of(session))(SETS)
        await session.execute(insert.on_conflict_do_nothing(), new)
    for day, version in batch.stale.items():
        await session.execute(
            update(SETS)
            .where(SETS.c.kind == kind, SETS.c.day == day, SETS.c.version == version)
            .values(summary=sets[day])
        )


async def fill(
    db: Database, now: datetime, longest: int = FILL_DAYS, onboarding_flow: str | None = None
) -> int:
    """Store the sets of every closed day not stored, `longest` days of a kind at a time: each
    batch read outside any transaction and written in a short one of its own, so that a first
    fill over a year of rows never holds SQLite's one writer for long. How many days it
    stored (a batch a change overtook is left for the next fill). The funnel's days are
    stored only when `onboarding_flow` names the content's onboarding flow."""
    total, previous = 0, None
    while True:
        async with db.reading() as session:
            batch = await next_batch(session, now, longest, onboarding_flow)
            if batch is None or (batch.kind, batch.days[0]) == previous:
                return total
            sets = await work_out(session, batch)
        async with db.transaction() as session:
            await store(session, batch, sets)
        total += len(batch.days)
        previous = (batch.kind, batch.days[0])
        await asyncio.sleep(0)  # between batches, whatever else waits runs


async def forget_days(session: Session, kinds: Iterable[Kind], days_: Iterable[date]) -> None:
    """These summaries no longer hold (a kudos of theirs revoked, a member who joined then
    reached for the first time, a member forgotten): they are dropped and their version
    moves on (a row marks even a day not stored yet, so that a fill that read the rows
    before the change cannot store what it read)."""
    chosen = sorted(set(days_))
    rows = [
        {"kind": kind.value, "day": day, "summary": None, "version": 1}
        for kind in kinds
        for day in chosen
    ]
    if rows:
        insert = dialect_insert(sql.dialect_of(session))(SETS)
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=[SETS.c.kind, SETS.c.day],
                set_={"summary": None, "version": SETS.c.version + 1},
            ),
            rows,
        )


async def forget_member(session: Session, member_id: int, joined: datetime) -> None:
    """Before a member's rows are deleted: drop every summary that may hold their id or count
    their rows (their days of activity, the day they joined, the days of kudos they gave or
    received and of their badges), which `fill` works out again without them."""
    dialect = sql.dialect_of(session)
    kudos_days = select(func.distinct(sql.day_of(KUDOS.c.created_at, dialect))).where(
        or_(KUDOS.c.giver_id == member_id, KUDOS.c.receiver_id == member_id)
    )
    active_days = select(ACTIVITY.c.day).where(ACTIVITY.c.member_id == member_id)
    await forget_days(session, [Kind.ACTIVE], (await session.execute(active_days)).scalars())
    joined_on = [joined.astimezone(UTC).date()]
    await forget_days(session, [Kind.JOINED, Kind.WAITS, Kind.FUNNEL], joined_on)
    thanked = await _one(session, select(MEMBER.c.first_kudos_at).where(MEMBER.c.id == member_id))
    if thanked is not None:
        await forget_days(session, [Kind.FIRST_KUDOS], [thanked.astimezone(UTC).date()])
    days_ = [sql.as_date(day) for day in (await session.execute(kudos_days)).scalars()]
    await forget_days(session, [Kind.GAVE, Kind.RECEIVED, Kind.KUDOS], days_)
    badge_days = select(func.distinct(sql.day_of(BADGE.c.awarded_at, dialect))).where(
        BADGE.c.member_id == member_id
    )
    days_ = [sql.as_date(day) for day in (await session.execute(badge_days)).scalars()]
    await forget_days(session, [Kind.BADGES], days_)
