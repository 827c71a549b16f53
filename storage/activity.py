"""What the health metrics need written as things happen, in the transaction of what they
summarise: the days each member was active (`member_activity`, one row per member per UTC day),
when the bot first reached them (`member.first_reached_at`), and their milestones, so that the
funnel, the overview and New Contributors read a column per member instead of probing other
tables for every member of a period at each request:

- `member.mentor_requested_at`: their mentor request's `requested_at` (it moves when a
  cancelled request reopens, and the funnel has always counted that moment);
- `member.first_matched_at`: their first mentorship as a newcomer;
- `member.first_kudos_at`: their first live kudos received (again on a revoke, and when a
  giver is forgotten and their kudos go);
- `flow_milestone`: when they first finished each flow, and `retained_on`, the day they became
  retained after it: active in 2 of the 4 weeks after the day they finished (week k: days
  7k+1 to 7k+7 after it), the first active day of the second such week. Kept per flow, so that
  it holds whichever flow the content names as onboarding, now or later.

A milestone that changes on a later day than the member joined (consent answered, a flow
finished, retained, a mentor request, a first match, a first kudos, one recounted) drops the
stored onboarding funnel of the day they joined (storage/health/funnel.py): those statements
return when the member joined, so this costs a statement only when it happens.

`rebuild` writes the milestones anew from the rows (bench/metrics_seed.py after its bulk load;
migration 0011 keeps its own copy of this SQL as it was); the functions below keep them as
rows are written.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    String,
    and_,
    bindparam,
    delete,
    exists,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection

from storage import lists
from storage.health import daysets, sql
from storage.models import Consent, FlowMilestone, Member, MemberActivity
from storage.session import Session, dialect_insert
from storage.types import UTCDateTime

_TABLE: Any = MemberActivity.__table__  # type: ignore[attr-defined]
# The consent purpose of the days of activity: counted until the member withdraws it (its
# default is always `granted`: community.yaml cannot ask it first), so nothing is recorded
# for a member who withdrew (docs/managers/consent.md).
STATISTICS = "statistics"


def _record(dialect: str) -> Any:
    """The day, unless known already or the member withdrew `statistics`: one statement."""
    day = select(
        bindparam("member_id", type_=Integer()),
        bindparam("day", type_=Date()),
        bindparam("platform", type_=String()),
    ).where(~exists().where(_CONSENT.c.member_id == bindparam("member_id"), _WITHDRAWN))
    return (
        dialect_insert(dialect)(_TABLE)
        .from_select(["member_id", "day", "platform"], day)
        .on_conflict_do_nothing()
    )


_CONSENT: Any = Consent.__table__  # type: ignore[attr-defined]
_WITHDRAWN = and_(_CONSENT.c.purpose == STATISTICS, _CONSENT.c.granted.is_(False))
# Built once per dialect: the same statement object is what SQLite's prepared plans key on.
_RECORD = {dialect: _record(dialect) for dialect in ("sqlite", "postgresql")}
_MEMBER: Any = Member.__table__  # type: ignore[attr-defined]


def _first_reached(dialect: str) -> Any:
    return (
        update(_MEMBER)
        .where(
            _MEMBER.c.id.in_(lists.one_of(dialect, "member_ids")),
            _MEMBER.c.first_reached_at.is_(None),
        )
        .values(first_reached_at=bindparam("sent_at", type_=UTCDateTime()))
        .returning(_MEMBER.c.created_at)
    )


_FIRST_REACHED = {dialect: _first_reached(dialect) for dialect in ("sqlite", "postgresql")}


async def record(session: Session, dialect: str, member_id: int, day: date, platform: str) -> None:
    """The member was active on `day` (a UTC date); nothing happens if that day is known. A
    new day may make them retained after a flow they finished in the 4 weeks before it."""
    created = await session.core(
        _RECORD[dialect], {"member_id": member_id, "day": day, "platform": platform}
    )
    if created.rowcount:
        retained = await session.core(
            _STATEMENTS[dialect]["active"], {"member_id": member_id, "day": day}
        )
        if retained.rowcount:  # they became retained (or earlier): once per flow at most
            await _funnel_moved(session, await _joined(session, [member_id]), day)


async def first_reached(session: Session, member_ids: Iterable[int], sent_at: datetime) -> None:
    """Messages to these members were just sent: the first one for those not reached yet."""
    ids = sorted(set(member_ids))
    if not ids:
        return
    dialect = _dialect(session)
    value = lists.value(dialect, ids)
    reached = await session.core(_FIRST_REACHED[dialect], {"member_ids": value, "sent_at": sent_at})
    # Almost always members who joined today. One who joined before waited on a day the
    # health metrics may have summarised already: that day's waits are worked out again.
    today = sent_at.astimezone(UTC).date()
    joined = {when.astimezone(UTC).date() for (when,) in reached.all()}
    await daysets.forget_days(session, [daysets.Kind.WAITS], {d for d in joined if d < today})


# The day a flow was finished, the last day of the 4 weeks after it, and the first day of the
# week after the one holding `first` (a day in those weeks), per dialect.
_DAYS = {
    "sqlite": {
        "finished": "date(flow_milestone.finished_at)",
        "last": "date(flow_milestone.finished_at, '+28 days')",
        "week_after": (
            "date(flow_milestone.finished_at, '+' || (7 * (1 + CAST(("
            "julianday({first}) - julianday(date(flow_milestone.finished_at)) - 1) / 7"
            " AS INTEGER)) + 1) || ' days')"
        ),
    },
    "postgresql": {
        "finished": "CAST(flow_milestone.finished_at AS DATE)",
        "last": "(CAST(flow_milestone.finished_at AS DATE) + 28)",
        "week_after": (
            "(CAST(flow_milestone.finished_at AS DATE) + 7 * (1 + ("
            "{first} - CAST(flow_milestone.finished_at AS DATE) - 1) / 7) + 1)"
        ),
    },
}


def _retained(dialect: str) -> str:
    """The `retained_on` of a flow_milestone row, from the member's days of activity: the
    first day in the 4 weeks that falls in a later week than the first day in them."""
    days = _DAYS[dialect]
    window = (
        "{a}.member_id = flow_milestone.member_id"
        f" AND {{a}}.day > {days['finished']} AND {{a}}.day <= {days['last']}"
    )
    first = f"(SELECT MIN(b.day) FROM member_activity b WHERE {window.format(a='b')})"
    return (
        f"(SELECT MIN(a.day) FROM member_activity a WHERE {window.format(a='a')}"
        f" AND a.day >= {days['week_after'].format(first=first)})"
    )


def _milestone(column: Any, earliest: bool = True) -> Any:
    """Set a member's milestone `column` to `:at` (only if that is earlier, or it had none,
    when `earliest`); returns when the member joined, for the rows it changed."""
    at = bindparam("at", type_=UTCDateTime())
    statement = update(_MEMBER).where(_MEMBER.c.id == bindparam("member_id"))
    if earliest:
        statement = statement.where(or_(column.is_(None), column > at))
    return statement.values({column.name: at}).returning(_MEMBER.c.created_at)


def _statements(dialect: str) -> dict[str, Any]:
    days = _DAYS[dialect]
    retained = _retained(dialect)
    at = bindparam("at", type_=UTCDateTime())
    return {
        # A new day of activity: the rows of the flows finished in the 4 weeks before it.
        # Out of order too: a day before the one that made them retained recomputes it.
        "active": text(
            f"UPDATE flow_milestone SET retained_on = {retained}"
            " WHERE member_id = :member_id AND (retained_on IS NULL OR retained_on > :day)"
            f" AND {days['finished']} < :day AND :day <= {days['last']}"
        ).bindparams(bindparam("day", type_=Date())),
        "finished": text(
            "INSERT INTO flow_milestone (member_id, flow_id, finished_at)"
            " VALUES (:member_id, :flow_id, :at) ON CONFLICT (member_id, flow_id)"
            " DO UPDATE SET finished_at = excluded.finished_at"
            " WHERE excluded.finished_at < flow_milestone.finished_at"
        ).bindparams(at),
        "finished_retained": text(
            f"UPDATE flow_milestone SET retained_on = {retained}"
            " WHERE member_id = :member_id AND flow_id = :flow_id"
        ),
        # Each returns when the member joined, when it changed a row (for `_funnel_moved`).
        "requested": _milestone(_MEMBER.c.mentor_requested_at, earliest=False),
        "matched": _milestone(_MEMBER.c.first_matched_at),
        "thanked": _milestone(_MEMBER.c.first_kudos_at),
    }


# Built once per dialect: the same statement object is what SQLite's prepared plans key on.
_STATEMENTS = {dialect: _statements(dialect) for dialect in _DAYS}

_FIRST_KUDOS = (
    "SELECT MIN(k.created_at) FROM kudos k WHERE k.receiver_id = member.id AND k.revoked_at IS NULL"
)
_FIRST_MATCH = "SELECT MIN(s.started_at) FROM mentorship s WHERE s.newcomer_id = member.id"
_REQUESTED = "SELECT r.requested_at FROM mentor_request r WHERE r.member_id = member.id"


def _dialect(session: Session) -> str:
    return str(session.get_bind().dialect.name)


async def _joined(session: Session, member_ids: Iterable[int]) -> list[datetime]:
    """When these members joined."""
    ids = sorted(set(member_ids))
    if not ids:
        return []
    dialect = _dialect(session)
    found = await session.core(_joined_at(dialect), {"ids": lists.value(dialect, ids)})
    return list(found.scalars())


@cache
def _joined_at(dialect: str) -> Any:
    """Built once per dialect (an IN list built per call left its parameter in reference
    cycles), with the ids as one parameter: prepared on SQLite."""
    return select(_MEMBER.c.created_at).where(_MEMBER.c.id.in_(lists.one_of(dialect, "ids")))


async def _funnel_moved(session: Session, joined: Iterable[Any], on: date | None) -> None:
    """Milestones of members who joined at `joined` changed on the day `on` (any day, when
    None): the stored funnel of each day they joined before it no longer holds
    (storage/health/funnel.py). A change on the day a member joined needs nothing: that day
    is not closed, so nothing of it is stored yet."""
    days = {sql.as_utc(when).date() for when in joined}
    await daysets.forget_days(
        session, [daysets.Kind.FUNNEL], {day for day in days if on is None or day < on}
    )


async def _changed(session: Session, statement: Any, member_id: int, at: datetime) -> None:
    """Run one of the member milestone UPDATEs above; if it changed the row, the funnel of the
    day the member joined is dropped (`_funnel_moved`)."""
    changed = await session.core(statement, {"member_id": member_id, "at": at})
    await _funnel_moved(session, [row[0] for row in changed.all()], at.astimezone(UTC).date())


async def finished(session: Session, member_id: int, flow_id: str, at: datetime) -> None:
    """The member completed a run of `flow_id` at `at`: their first time, if it is (or
    earlier than the one known: two replicas' clocks)."""
    statements = _STATEMENTS[_dialect(session)]
    keys = {"member_id": member_id, "flow_id": flow_id}
    written = await session.core(statements["finished"], {**keys, "at": at})
    if written.rowcount:  # days already recorded after it (events handled out of order)
        await session.core(statements["finished_retained"], keys)
        await _funnel_moved(session, await _joined(session, [member_id]), at.astimezone(UTC).date())


async def consented(session: Session, joined: datetime, at: datetime) -> None:
    """A member who joined at `joined` answered the consent question at `at` (yes or no: the
    funnel counts who said yes, and when)."""
    await _funnel_moved(session, [joined], at.astimezone(UTC).date())


async def requested(session: Session, member_id: int, at: datetime) -> None:
    """The member's mentor request was made, or reopened, at `at`."""
    await _changed(session, _STATEMENTS[_dialect(session)]["requested"], member_id, at)


async def matched(session: Session, newcomer_id: int, at: datetime) -> None:
    """A mentorship of this newcomer started at `at`."""
    await _changed(session, _STATEMENTS[_dialect(session)]["matched"], newcomer_id, at)


async def thanked(session: Session, receiver_id: int, at: datetime) -> None:
    """The member received a kudos at `at`."""
    await _changed(session, _STATEMENTS[_dialect(session)]["thanked"], receiver_id, at)


async def recount(
    session: Session, *, receivers: Iterable[int] = (), newcomers: Iterable[int] = ()
) -> None:
    """Work out again the first live kudos of `receivers` (one revoked, or its giver's kudos
    deleted) and the first mentorship of `newcomers` (their mentor's deleted)."""
    for ids, name, first in (
        (receivers, "first_kudos_at", _FIRST_KUDOS),
        (newcomers, "first_matched_at", _FIRST_MATCH),
    ):
        chosen = sorted(set(ids))
        if not chosen:
            continue
        kudos = name == "first_kudos_at"
        moved = await _first_kudos_days(session, chosen) if kudos else None
        statement = text(f"UPDATE member SET {name} = ({first}) WHERE id IN :ids")
        await session.execute(
            statement.bindparams(bindparam("ids", expanding=True)), {"ids": chosen}
        )
        await _funnel_moved(session, await _joined(session, chosen), None)
        if moved is not None:  # the days of their first kudos, before and after
            moved |= await _first_kudos_days(session, chosen)
            await daysets.forget_days(session, [daysets.Kind.FIRST_KUDOS], moved)


async def _first_kudos_days(session: Session, member_ids: list[int]) -> set[date]:
    found = await session.execute(
        select(_MEMBER.c.first_kudos_at).where(
            _MEMBER.c.id.in_(member_ids), _MEMBER.c.first_kudos_at.is_not(None)
        )
    )
    return {sql.as_utc(when).date() for when in found.scalars()}


def rebuild(connection: Connection) -> None:
    """Every member's milestones worked out anew from the rows (a migration's backfill, or a
    bulk load that wrote rows without them)."""
    dialect = connection.dialect.name
    for statement in (
        f"UPDATE member SET mentor_requested_at = ({_REQUESTED}),"
        f" first_matched_at = ({_FIRST_MATCH}), first_kudos_at = ({_FIRST_KUDOS})",
        "DELETE FROM flow_milestone",
        "INSERT INTO flow_milestone (member_id, flow_id, finished_at)"
        " SELECT member_id, flow_id, MIN(finished_at) FROM flow_run"
        " WHERE status = 'completed' AND finished_at IS NOT NULL GROUP BY member_id, flow_id",
        f"UPDATE flow_milestone SET retained_on = {_retained(dialect)}",
        # Every stored funnel and day of first kudos counted the milestones as they were.
        "UPDATE day_summary SET summary = NULL, version = version + 1"
        " WHERE kind IN ('funnel', 'first_kudos')",
    ):
        connection.execute(text(statement))


async def forget_activity(session: Session, member_id: int) -> int:
    """The member withdrew `statistics`: their days of activity go, with the retention worked
    out from them, and the summaries that counted them are worked out again without them.
    How many days went."""
    days = await session.execute(select(_TABLE.c.day).where(_TABLE.c.member_id == member_id))
    active_days = [row[0] for row in days.all()]
    await daysets.forget_days(session, [daysets.Kind.ACTIVE], active_days)
    milestones: Any = FlowMilestone.__table__  # type: ignore[attr-defined]
    retained = await session.execute(
        update(milestones)
        .where(milestones.c.member_id == member_id, milestones.c.retained_on.is_not(None))
        .values(retained_on=None)
    )
    if getattr(retained, "rowcount", 0):
        await _funnel_moved(session, await _joined(session, [member_id]), None)
    await session.execute(delete(_TABLE).where(_TABLE.c.member_id == member_id))
    return len(active_days)
