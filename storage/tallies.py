"""Running totals of the live kudos each member received, kept in the transaction of each
kudos given or revoked: per kind of contribution and in all (`ALL`), ever (`kudos_total`) and
per UTC day (`kudos_day_total`). The leaderboards read them (storage/recognition.py) instead
of summing up to a million kudos at each `/kudos top`.

`kudos_total` also holds each member's totals over a window of days for the week's and the
month's leaderboards (`week_*`, `month_*`): the kudos of the days from the window's first day
(`kudos_window`) on. A kudos given adds to them (its day is always inside); a revoke takes its
kudos away if its day is. Each day the periods' first whole day moves on: `roll`, run by the
first leaderboard read in a turn that day, takes the days left behind away (their day totals),
so a leaderboard reads the first rows of an index, and only the part of a day its period's
start cuts from the kudos themselves.

A kudos given adds its weight and one to four rows (its category and all, ever and on its
day), in two prepared upserts; a revoke takes them away again. When kudos rows go (a member
forgotten), `recount` works the receivers' rows out again from the live kudos; `rebuild`
works every row out from them (a migration's backfill, a bulk load).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Date,
    Float,
    bindparam,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.engine import Connection

from storage.health import sql
from storage.models import Kudos, KudosDayTotal, KudosTotal, KudosWindow
from storage.session import Session

ALL = ""  # the category of the rows that count every kind of contribution

TOTAL: Any = KudosTotal.__table__  # type: ignore[attr-defined]
DAY: Any = KudosDayTotal.__table__  # type: ignore[attr-defined]
KUDOS: Any = Kudos.__table__  # type: ignore[attr-defined]
WINDOW: Any = KudosWindow.__table__  # type: ignore[attr-defined]
# The periods with a window of running totals, and their length in days: `/kudos top week`
# and `/kudos top month` (bot/recognition/kudos.py).
WINDOWS = {"week": 7, "month": 30}


def _sum(table: str, columns: Iterable[str]) -> str:
    return ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in columns)


def _in_window(period: str, value: str, kind: str) -> str:
    """`value` if the kudos' day is inside `period`'s window, else nothing (a revoke of an
    older kudos leaves the window alone; so does a database without the window's row)."""
    return (
        f"CASE WHEN :day >= (SELECT first_day FROM kudos_window WHERE period = '{period}')"
        f" THEN CAST({value} AS {kind}) ELSE 0 END"
    )


_WINDOWED = [f"{p}_{c}" for p in WINDOWS for c in ("points", "kudos")]
_IN_WINDOWS = ", ".join(
    _in_window(p, f":{c}", kind)
    for p in WINDOWS
    for c, kind in (("points", "FLOAT"), ("kudos", "INTEGER"))
)
# Both rows of a kudos (its category's, and all: a kudos always has a category, so the two
# never share a key), in one statement each; the same SQL on SQLite and PostgreSQL.
_EVER = (
    f"INSERT INTO kudos_total (member_id, category, points, kudos, {', '.join(_WINDOWED)})"
    f" VALUES (:member_id, :category, :points, :kudos, {_IN_WINDOWS}),"
    f" (:member_id, '', :points, :kudos, {_IN_WINDOWS})"
    " ON CONFLICT (member_id, category) DO UPDATE SET"
    f" {_sum('kudos_total', ['points', 'kudos', *_WINDOWED])}"
)
_DAILY = (
    "INSERT INTO kudos_day_total (category, day, member_id, points, kudos)"
    " VALUES (:category, :day, :member_id, :points, :kudos),"
    " ('', :day, :member_id, :points, :kudos)"
    f" ON CONFLICT (category, day, member_id) DO UPDATE SET"
    f" {_sum('kudos_day_total', ['points', 'kudos'])}"
)
_TYPES = (bindparam("day", type_=Date()), bindparam("points", type_=Float()))
# SQLite: two statements, each built once (prepared plans key on the statement object).
_ADD = (text(_EVER).bindparams(*_TYPES), text(_DAILY).bindparams(*_TYPES))
# PostgreSQL: one round trip, the first insert in a WITH (which PostgreSQL runs whether or not
# the rest reads it).
_BOTH = text(f"WITH ever AS ({_EVER} RETURNING 1) {_DAILY}").bindparams(*_TYPES)


async def add(
    session: Session,
    receiver_id: int,
    category: str,
    given_at: datetime,
    points: float,
    kudos: int,
) -> None:
    """`kudos` (1, or -1 for a revoke) of `points` to the receiver's rows: their category's and
    all, ever, on the day the kudos was given, and in each window that day is inside."""
    dialect = session.get_bind().dialect.name
    params = {
        "member_id": receiver_id,
        "category": category,
        "day": given_at.astimezone(UTC).date(),
        "points": points,
        "kudos": kudos,
    }
    if dialect == "postgresql":
        if kudos < 0:  # not while `roll` moves a window on: it would take the kudos away too
            await session.execute(select(WINDOW.c.period).with_for_update(read=True))
        await session.execute(_BOTH, params)
        return
    ever, daily = _ADD
    await session.core(ever, params)
    await session.core(daily, params)


def _grouped(dialect: str, daily: bool, receivers: Any = None) -> Any:
    """(receiver, category, [day,] points, kudos) of the live kudos: per category, and all."""
    day = sql.day_of(KUDOS.c.created_at, dialect)

    def per(category: Any, *by: Any) -> Any:
        keys = [KUDOS.c.receiver_id, *by] + ([day] if daily else [])
        columns = [KUDOS.c.receiver_id, category] + ([day] if daily else [])
        statement = select(*columns, func.sum(KUDOS.c.weight), func.count()).where(
            KUDOS.c.revoked_at.is_(None),
            KUDOS.c.receiver_id.is_not(None),  # (None: received by a former member)
        )
        if receivers is not None:
            statement = statement.where(KUDOS.c.receiver_id.in_(receivers))
        return statement.group_by(*keys)  # never by a constant, which PostgreSQL refuses

    return union_all(per(KUDOS.c.category, KUDOS.c.category), per(literal(ALL)))


def _insert_from(dialect: str, table: Any, daily: bool, receivers: Any = None) -> Any:
    """The rows worked out from the live kudos; the windows' totals 0 (the columns' server
    default), for `_fill` to set."""
    names = ["member_id", "category"] + (["day"] if daily else []) + ["points", "kudos"]
    return table.insert().from_select(
        names, _grouped(dialect, daily, receivers), include_defaults=False
    )


async def recount(session: Session, receivers: Iterable[int]) -> None:
    """Work the rows of these receivers out again from the live kudos (some of theirs went)."""
    chosen = sorted(set(receivers))
    if not chosen:
        return
    ids: Any = bindparam("ids", expanding=True)
    dialect = session.get_bind().dialect.name
    for table, daily in ((TOTAL, False), (DAY, True)):
        await session.execute(delete(table).where(table.c.member_id.in_(ids)), {"ids": chosen})
        await session.execute(_insert_from(dialect, table, daily, ids), {"ids": chosen})
    for period in WINDOWS:
        await session.execute(_fill(period, chosen), {"ids": chosen})


def rebuild(connection: Connection) -> None:
    """Every row worked out anew from the live kudos."""
    for table, daily in ((TOTAL, False), (DAY, True)):
        connection.execute(delete(table))
        connection.execute(_insert_from(connection.dialect.name, table, daily))
    for period in WINDOWS:
        connection.execute(_fill(period))


def _totals_of_days(where: str) -> str:
    """Each member's and category's day totals of the days `where` picks."""
    return (
        "(SELECT member_id, category, SUM(points) AS points, SUM(kudos) AS kudos"
        f" FROM kudos_day_total WHERE {where} GROUP BY member_id, category) AS days"
    )


_SAME_ROW = "kudos_total.member_id = days.member_id AND kudos_total.category = days.category"


def _fill(period: str, receivers: list[int] | None = None) -> Any:
    """`period`'s window totals worked out anew from the day totals, for these receivers (or
    everyone), whose window totals are 0 (rows just worked out from the kudos)."""
    days = f"day >= (SELECT first_day FROM kudos_window WHERE period = '{period}')"
    if receivers is not None:
        days += " AND member_id IN :ids"
    statement = text(
        f"UPDATE kudos_total SET {period}_points = days.points, {period}_kudos = days.kudos"
        f" FROM {_totals_of_days(days)} WHERE {_SAME_ROW}"
    )
    return (
        statement if receivers is None else statement.bindparams(bindparam("ids", expanding=True))
    )


# The categories of the day totals, one index seek each (a loose index scan).
_CATEGORIES = text(
    "WITH RECURSIVE seen(category) AS ("
    " SELECT MIN(category) FROM kudos_day_total"
    " UNION ALL SELECT (SELECT MIN(category) FROM kudos_day_total"
    " WHERE category > seen.category) FROM seen WHERE seen.category IS NOT NULL)"
    " SELECT category FROM seen WHERE category IS NOT NULL"
)


async def window_from(session: Session, period: str, first_day: date, *, roll: bool) -> bool:
    """Whether `period`'s window totals hold the kudos of the days from `first_day` on. With
    `roll` (a transaction that may write), a window that starts elsewhere is moved there
    first: one that starts earlier (yesterday's) loses the day totals of the days it leaves
    behind; one that starts later (a clock set back) is worked out anew. On PostgreSQL the
    window's row stays locked to the end of the transaction, so two replicas never take the
    same days away."""
    statement = select(WINDOW.c.first_day).where(WINDOW.c.period == period)
    found = (await session.execute(statement)).first()
    if found is not None and found[0] == first_day:
        return True
    if not roll:
        return False  # read-only, on a new day: the caller adds the day totals up instead
    found = (await session.execute(statement.with_for_update())).first()  # read again, locked
    if found is not None and found[0] == first_day:
        return True  # moved on meanwhile, by another replica
    anew = found is None or found[0] > first_day  # (a clock set back, or no row yet)
    if anew:  # all of it worked out again, below
        points, kudos = TOTAL.c[f"{period}_points"], TOTAL.c[f"{period}_kudos"]
        await session.execute(
            TOTAL.update().where(or_(points != 0, kudos != 0)).values({points: 0, kudos: 0})
        )
    else:
        # The days left behind, category by category: each a range of the day totals' key
        # (category, day, member_id), instead of reading every day of every category.
        categories = list((await session.execute(_CATEGORIES)).scalars())
        days = "category IN :categories AND day >= :old AND day < :new"
        gone = text(
            f"UPDATE kudos_total SET {period}_points = CASE"
            f" WHEN kudos_total.{period}_kudos = days.kudos THEN 0"  # no float dust left over
            f" ELSE kudos_total.{period}_points - days.points END,"
            f" {period}_kudos = kudos_total.{period}_kudos - days.kudos"
            f" FROM {_totals_of_days(days)} WHERE {_SAME_ROW}"
        ).bindparams(
            bindparam("categories", expanding=True),
            bindparam("old", type_=Date()),
            bindparam("new", type_=Date()),
        )
        if categories:
            moved = {"categories": categories, "old": found[0], "new": first_day}
            await session.execute(gone, moved)
    if found is None:
        await session.execute(WINDOW.insert(), {"period": period, "first_day": first_day})
    else:
        await session.execute(
            WINDOW.update().where(WINDOW.c.period == period).values(first_day=first_day)
        )
    if anew:
        await session.execute(_fill(period))  # (from the new first day, just written)
    return True
