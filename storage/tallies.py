"""Running totals of the live kudos each member received, kept in the transaction of each
kudos given or revoked: per kind of contribution and in all (`ALL`), ever (`kudos_total`) and
per UTC day (`kudos_day_total`). The leaderboards read them (storage/recognition.py) instead
of summing up to a million kudos at each `/kudos top`.

A kudos given adds its weight and one to four rows (its category and all, ever and on its
day), in two prepared upserts; a revoke takes them away again. When kudos rows go (a member
forgotten), `recount` works the receivers' rows out again from the live kudos; `rebuild`
works every row out from them (a migration's backfill, a bulk load).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Date, Float, bindparam, delete, func, literal, select, text, union_all
from sqlalchemy.engine import Connection

from storage.health import sql
from storage.models import Kudos, KudosDayTotal, KudosTotal
from storage.session import Session, dialect_insert

ALL = ""  # the category of the rows that count every kind of contribution

TOTAL: Any = KudosTotal.__table__  # type: ignore[attr-defined]
DAY: Any = KudosDayTotal.__table__  # type: ignore[attr-defined]
KUDOS: Any = Kudos.__table__  # type: ignore[attr-defined]


def _upsert(table: Any) -> Any:
    insert = dialect_insert("sqlite")(table)
    keys = [column.name for column in table.primary_key.columns]
    return insert.on_conflict_do_update(
        index_elements=keys,
        set_={
            "points": table.c.points + insert.excluded.points,
            "kudos": table.c.kudos + insert.excluded.kudos,
        },
    )


# SQLite: built once, as the same statement object is what its prepared plans key on.
# (PostgreSQL runs `_BOTH`, below.)
_ADD = (_upsert(TOTAL), _upsert(DAY))


async def add(
    session: Session,
    receiver_id: int,
    category: str,
    given_at: datetime,
    points: float,
    kudos: int,
) -> None:
    """`kudos` (1, or -1 for a revoke) of `points` to the receiver's rows: their category's and
    all, ever and on the day the kudos was given."""
    dialect = session.get_bind().dialect.name
    day = given_at.astimezone(UTC).date()
    if dialect == "postgresql":  # one round trip, where a statement costs one
        one = {"member_id": receiver_id, "category": category, "day": day}
        await session.execute(_BOTH, {**one, "points": points, "kudos": kudos})
        return
    ever, daily = _ADD
    rows = [
        {"member_id": receiver_id, "category": kind, "points": points, "kudos": kudos}
        for kind in (category, ALL)
    ]
    await session.core(ever, rows)
    await session.core(daily, [{**row, "day": day} for row in rows])


def _sum(table: str) -> str:
    return f"points = {table}.points + excluded.points, kudos = {table}.kudos + excluded.kudos"


# PostgreSQL: both tables' two rows (the category's, and all) in one statement, the first
# insert in a WITH (which PostgreSQL runs whether or not the rest reads it). A kudos always
# has a category, so its two rows never share a key.
_BOTH = text(
    "WITH ever AS ("
    " INSERT INTO kudos_total (member_id, category, points, kudos)"
    " VALUES (:member_id, :category, :points, :kudos), (:member_id, '', :points, :kudos)"
    f" ON CONFLICT (member_id, category) DO UPDATE SET {_sum('kudos_total')} RETURNING 1)"
    " INSERT INTO kudos_day_total (category, day, member_id, points, kudos)"
    " VALUES (:category, :day, :member_id, :points, :kudos),"
    " ('', :day, :member_id, :points, :kudos)"
    f" ON CONFLICT (category, day, member_id) DO UPDATE SET {_sum('kudos_day_total')}"
).bindparams(bindparam("day", type_=Date()), bindparam("points", type_=Float()))


def _grouped(dialect: str, daily: bool, receivers: Any = None) -> Any:
    """(receiver, category, [day,] points, kudos) of the live kudos: per category, and all."""
    day = sql.day_of(KUDOS.c.created_at, dialect)

    def per(category: Any, *by: Any) -> Any:
        keys = [KUDOS.c.receiver_id, *by] + ([day] if daily else [])
        columns = [KUDOS.c.receiver_id, category] + ([day] if daily else [])
        statement = select(*columns, func.sum(KUDOS.c.weight), func.count()).where(
            KUDOS.c.revoked_at.is_(None)
        )
        if receivers is not None:
            statement = statement.where(KUDOS.c.receiver_id.in_(receivers))
        return statement.group_by(*keys)  # never by a constant, which PostgreSQL refuses

    return union_all(per(KUDOS.c.category, KUDOS.c.category), per(literal(ALL)))


def _insert_from(dialect: str, table: Any, daily: bool, receivers: Any = None) -> Any:
    names = ["member_id", "category"] + (["day"] if daily else []) + ["points", "kudos"]
    return table.insert().from_select(names, _grouped(dialect, daily, receivers))


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


def rebuild(connection: Connection) -> None:
    """Every row worked out anew from the live kudos."""
    for table, daily in ((TOTAL, False), (DAY, True)):
        connection.execute(delete(table))
        connection.execute(_insert_from(connection.dialect.name, table, daily))
