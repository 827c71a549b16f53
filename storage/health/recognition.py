"""The Recognition page: live kudos per contribution kind and month, how many gave and
received them, badges awarded, and CHAOSS New Contributors (members whose first kudos received
falls in a month). Revoked kudos count nowhere, not even as someone's first."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import case, func, select
from sqlmodel import col

from storage.health.periods import during, every_month, months
from storage.health.sql import exists_where, first_of_month, in_scope, month
from storage.health.types import Filters, KindMonth, MonthCount, Recognition
from storage.models import BadgeAward, Kudos, Member
from storage.session import Session

_LIVE = col(Kudos.revoked_at).is_(None)


async def recognition(session: Session, filters: Filters) -> Recognition:
    """Kudos count for their receiver (kept by the filters); givers are counted among the
    members the filters keep as givers."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        givers, receivers = await _people(session, filters)
    else:  # PostgreSQL counts distinct ids faster than it probes per member
        givers = await _distinct(session, filters, col(Kudos.giver_id))
        receivers = await _distinct(session, filters, col(Kudos.receiver_id))
    return Recognition(
        kudos=await _kudos(session, filters, dialect),
        givers=givers,
        receivers=receivers,
        badges=await _badges(session, filters),
        new_contributors=await _new_contributors(session, filters, dialect),
    )


async def _kudos(session: Session, filters: Filters, dialect: str) -> list[KindMonth]:
    # On SQLite only: PostgreSQL hashes the period's kudos into groups faster than it counts
    # ranges (without a vacuum since the load, its index-only scans still visit the table).
    if dialect == "sqlite" and not (filters.platform or filters.locale):
        return await _kudos_by_range(session, filters)
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


async def _kudos_by_range(session: Session, filters: Filters) -> list[KindMonth]:
    """The same counts when every receiver counts: each (category, month) is one range of
    ix_kudos_live_category_created, counted where it lies, instead of every kudos of the
    period being given a month and sorted into its group. The categories are found by
    skipping from one to the next (a recursive query: a probe each, not a scan)."""
    kudos: Any = Kudos.__table__  # type: ignore[attr-defined]
    live = kudos.c.revoked_at.is_(None)
    categories = select(func.min(kudos.c.category).label("category")).where(live)
    found = categories.cte("categories", recursive=True)
    following = select(func.min(kudos.c.category)).where(live, kudos.c.category > found.c.category)
    found = found.union_all(
        select(following.scalar_subquery()).where(found.c.category.is_not(None))
    )
    firsts = months(filters)
    bounds = [max(filters.start, _instant(first)) for first in firsts]
    bounds.append(filters.end)
    counts = [
        select(func.count())
        .where(
            live,
            kudos.c.category == found.c.category,
            kudos.c.created_at >= low,
            kudos.c.created_at < high,
        )
        .scalar_subquery()
        for low, high in pairwise(bounds)
    ]
    statement = select(found.c.category, *counts).where(found.c.category.is_not(None))
    rows = (await session.execute(statement)).all()  # in the database's order of categories
    return [
        KindMonth(first, category, int(n))
        for index, first in enumerate(firsts)
        for category, *per_month in rows
        if (n := per_month[index])
    ]


def _instant(first: date) -> datetime:
    return datetime(first.year, first.month, first.day, tzinfo=UTC)


async def _people(session: Session, filters: Filters) -> tuple[int, int]:
    """Members (kept by the filters) who gave, and who received, a live kudos in the period:
    a probe per member of ix_kudos_live_giver_created and ix_kudos_live_receiver_created,
    cheaper than a distinct count of the period's hundreds of thousands of kudos."""
    kudos: Any = Kudos.__table__  # type: ignore[attr-defined]
    member: Any = Member.__table__  # type: ignore[attr-defined]

    def did(role: Any) -> Any:
        return case(
            (
                exists_where(
                    role == member.c.id,
                    kudos.c.revoked_at.is_(None),
                    during(kudos.c.created_at, filters),
                ),
                1,
            )
        )

    statement = (
        select(func.count(did(kudos.c.giver_id)), func.count(did(kudos.c.receiver_id)))
        .select_from(member)
        .where(in_scope(filters, member.c.id))
    )
    givers, receivers = (await session.execute(statement)).one()
    return int(givers), int(receivers)


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
    (member.first_kudos_at, kept as kudos are given and revoked) falls in each month of the
    period."""
    first = col(Member.first_kudos_at)
    when = month(first, dialect)
    statement = (
        select(when, func.count())
        .where(during(first, filters), in_scope(filters, col(Member.id)))
        .group_by(when)
    )
    return every_month(filters, (await session.execute(statement)).all())
