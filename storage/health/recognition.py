"""The Recognition page: live kudos per contribution kind and month, how many gave and
received them, badges awarded, and CHAOSS New Contributors (members whose first kudos received
falls in a month). Revoked kudos count nowhere, not even as someone's first."""

from __future__ import annotations

from collections import Counter
from datetime import date

from pyroaring import BitMap
from sqlalchemy import func, select
from sqlmodel import col

from storage.health import daysets
from storage.health.daysets import Kind
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
    # The union of the period's days' sets of givers and receivers (storage/health/daysets.py):
    # no distinct count over its hundreds of thousands of kudos, nor a probe per member.
    kept = await daysets.scope(session, filters)
    givers = daysets.count(
        await daysets.between(session, Kind.GAVE, filters.start, filters.end), kept
    )
    receivers = daysets.count(
        await daysets.between(session, Kind.RECEIVED, filters.start, filters.end), kept
    )
    return Recognition(
        kudos=await _kudos(session, filters, dialect),
        givers=givers,
        receivers=receivers,
        badges=await _badges(session, filters),
        new_contributors=await _new_contributors(session, filters, kept),
    )


async def _kudos(session: Session, filters: Filters, dialect: str) -> list[KindMonth]:
    if not (filters.platform or filters.locale):  # every receiver: the days' counts, summed
        found: Counter[tuple[date, str]] = Counter()
        for day, counts in (
            await daysets.summaries(session, Kind.KUDOS, filters.start, filters.end)
        ).items():
            for category, n in counts.items():
                found[(day.replace(day=1), category)] += n
        return [KindMonth(first, category, n) for (first, category), n in sorted(found.items())]
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


async def _badges(session: Session, filters: Filters) -> dict[str, int]:
    if not (filters.platform or filters.locale):  # every member: the days' counts, summed
        found: Counter[str] = Counter()
        for counts in (
            await daysets.summaries(session, Kind.BADGES, filters.start, filters.end)
        ).values():
            found.update(counts)
        return dict(sorted(found.items()))
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


async def _new_contributors(
    session: Session, filters: Filters, kept: BitMap | None
) -> list[MonthCount]:
    """CHAOSS New Contributors: members (kept by the filters) whose first live kudos received
    (member.first_kudos_at, kept as kudos are given and revoked) falls in each month of the
    period, from the days' sets."""
    days = await daysets.summaries(session, Kind.FIRST_KUDOS, filters.start, filters.end)
    found: Counter[str] = Counter()
    for day, members in days.items():
        found[day.strftime("%Y-%m")] += daysets.count(members, kept)
    return every_month(filters, found.items())
