"""Check-ins as stored rows: one per person, mentorship and scheduled number, asked once
(a unique constraint), answered once (a conditional UPDATE), with a note allowed after the
score. The mentorships they belong to are in `storage/mentorship.py`."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select, update

from storage.models import CheckIn
from storage.session import Session, dialect_insert


async def asked(
    session: Session, mentorship_id: int, member_id: int, number: int, now: datetime
) -> int | None:
    """Record that check-in `number` was put to the member; None if it already was (the
    same check-in is never asked twice)."""
    result = await session.core(
        _asked(session.get_bind().dialect.name),
        {"mentorship_id": mentorship_id, "member_id": member_id, "number": number, "at": now},
    )
    return result.scalars().first()


@cache
def _asked(dialect: str) -> Any:
    table = CheckIn.__table__
    return (
        dialect_insert(dialect)(table)
        .values(
            mentorship_id=bindparam("mentorship_id"),
            member_id=bindparam("member_id"),
            number=bindparam("number"),
            asked_at=bindparam("at"),
        )
        .on_conflict_do_nothing(index_elements=["mentorship_id", "member_id", "number"])
        .returning(table.c.id)
    )


async def answered(
    session: Session, checkin_id: int, score: int | None, comment: str | None, now: datetime
) -> bool:
    """Record the answer, once."""
    result = await session.execute(
        update(CheckIn)
        .where(CheckIn.id == checkin_id, CheckIn.answered_at.is_(None))
        .values(score=score, comment=comment, answered_at=now)
    )
    return bool(result.rowcount)


async def unanswered_in_a_row(session: Session, mentorship_id: int, member_id: int) -> int:
    """How many of the member's latest check-ins in this mentorship went unanswered."""
    rows = await session.execute(
        select(CheckIn.answered_at)
        .where(CheckIn.mentorship_id == mentorship_id, CheckIn.member_id == member_id)
        .order_by(CheckIn.number.desc())
    )
    count = 0
    for (answered_at,) in rows.all():
        if answered_at is not None:
            break
        count += 1
    return count


async def noted(session: Session, checkin_id: int, comment: str | None) -> None:
    """A note added after the score (the check-in was answered already)."""
    if comment:
        await session.execute(
            update(CheckIn).where(CheckIn.id == checkin_id).values(comment=comment)
        )
