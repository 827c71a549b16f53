"""What the health metrics need written as things happen: the days each member was active
(`member_activity`, one row per member per UTC day) and when the bot first reached them
(`member.first_reached_at`)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, column, func, select, update

from storage.models import Member, MemberActivity
from storage.session import Session, dialect_insert
from storage.types import UTCDateTime

_TABLE: Any = MemberActivity.__table__  # type: ignore[attr-defined]
# Built once per dialect: the same statement object is what SQLite's prepared plans key on.
_RECORD = {
    dialect: dialect_insert(dialect)(_TABLE).on_conflict_do_nothing()
    for dialect in ("sqlite", "postgresql")
}
_MEMBER: Any = Member.__table__  # type: ignore[attr-defined]


def _first_reached(dialect: str) -> Any:
    # The ids as one JSON parameter on SQLite, so the statement keeps one shape and runs
    # prepared (storage/prepared.py); an expanding list on PostgreSQL.
    ids: Any = bindparam("member_ids", expanding=True)
    if dialect == "sqlite":
        ids = select(column("value")).select_from(func.json_each(bindparam("member_ids")))
    return (
        update(_MEMBER)
        .where(_MEMBER.c.id.in_(ids), _MEMBER.c.first_reached_at.is_(None))
        .values(first_reached_at=bindparam("sent_at", type_=UTCDateTime()))
    )


_FIRST_REACHED = {dialect: _first_reached(dialect) for dialect in ("sqlite", "postgresql")}


async def record(session: Session, dialect: str, member_id: int, day: date, platform: str) -> None:
    """The member was active on `day` (a UTC date); nothing happens if that day is known."""
    await session.core(_RECORD[dialect], {"member_id": member_id, "day": day, "platform": platform})


async def first_reached(session: Session, member_ids: Iterable[int], sent_at: datetime) -> None:
    """Messages to these members were just sent: the first one for those not reached yet."""
    ids = sorted(set(member_ids))
    if not ids:
        return
    dialect = session.get_bind().dialect.name
    value: Any = json.dumps(ids) if dialect == "sqlite" else ids
    await session.core(_FIRST_REACHED[dialect], {"member_ids": value, "sent_at": sent_at})
