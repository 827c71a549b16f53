"""The Recognition page: live kudos per contribution kind and month, how many gave and
received them, badges awarded, and CHAOSS New Contributors (members whose first kudos received
falls in a month). Revoked kudos count nowhere, not even as someone's first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import aliased
from sqlmodel import col

from storage.health.periods import during, every_month
from storage.health.sql import first_of_month, in_scope, month
from storage.health.types import Filters, KindMonth, MonthCount, Recognition
from storage.models import BadgeAward, Kudos
from storage.session import Session

_LIVE = col(Kudos.revoked_at).is_(None)


async def recognition(session: Session, filters: Filters) -> Recognition:
    """Kudos count for their receiver (kept by the filters); givers are counted among the
    members the filters keep as givers."""
    dialect = session.get_bind().dialect.name
    return Recognition(
        kudos=await _kudos(session, filters, dialect),
        givers=await _distinct(session, filters, col(Kudos.giver_id)),
        receivers=await _distinct(session, filters, col(Kudos.receiver_id)),
        badges=await _badges(session, filters),
        new_contributors=await _new_contributors(session, filters, dialect),
    )


async def _kudos(session: Session, filters: Filters, dialect: str) -> list[KindMonth]:
    given = month(col(Kudos.created_at), dialect)
    statement = (
        select(given, col(Kudos.category), func.count())
        .where(
            _LIVE, during(col(Kudos.created_at), filters), in_scope(filters, col(Kudos.receiver_id))
        )
        .group_by(given, col(Kudos.category))
        .order_by(given, col(Kudos.category))
    )
    rows = (await session.execute(statement)).all()
    return [KindMonth(first_of_month(text), category, int(n)) for text, category, n in rows]


async def _distinct(session: Session, filters: Filters, member: Any) -> int:
    statement = select(func.count(func.distinct(member))).where(
        _LIVE, during(col(Kudos.created_at), filters), in_scope(filters, member)
    )
    return int((await session.execute(statement)).scalar_one())


async def _badges(session: Session, filters: Filters) -> dict[str, int]:
    statement = (
        select(col(BadgeAward.badge), func.count())
        .where(
            during(col(BadgeAward.awarded_at), filters),
            in_scope(filters, col(BadgeAward.member_id)),
        )
        .group_by(col(BadgeAward.badge))
        .order_by(col(BadgeAward.badge))
    )
    return {badge: int(n) for badge, n in (await session.execute(statement)).all()}


async def _new_contributors(session: Session, filters: Filters, dialect: str) -> list[MonthCount]:
    """CHAOSS New Contributors: members (kept by the filters) whose first live kudos received
    falls in each month of the period: those thanked in the period and never before it.
    (Taking each receiver's first kudos of all time reads every kudos ever given; this reads
    the period's and stops at a receiver's first earlier one.)"""
    first = func.min(col(Kudos.created_at)).label("first")
    thanked = (
        select(col(Kudos.receiver_id).label("receiver_id"), first)
        .where(
            _LIVE,
            during(col(Kudos.created_at), filters),
            in_scope(filters, col(Kudos.receiver_id)),
        )
        .group_by(col(Kudos.receiver_id))
        .subquery()
    )
    before = aliased(Kudos)
    earlier = exists().where(
        col(before.receiver_id) == thanked.c.receiver_id,
        col(before.revoked_at).is_(None),
        col(before.created_at) < filters.start,
    )
    when = month(thanked.c.first, dialect)
    statement = select(when, func.count()).where(~earlier).group_by(when)
    return every_month(filters, (await session.execute(statement)).all())
