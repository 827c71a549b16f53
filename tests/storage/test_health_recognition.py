"""The Recognition page's numbers on a small community built by hand, on SQLite and PostgreSQL.

The period is January and February 2026. Ada, Bea and Eli are on Slack, Cy and Dov on
Telegram. Every number expected below is counted by hand from the rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from storage.health.recognition import recognition
from storage.health.types import Filters, KindMonth, MonthCount
from storage.models import BadgeAward, Identity, Kudos, Member
from storage.session import Database
from tests.storage.conftest import DaySets
from tests.storage.rows import add, rebuild_milestones

JAN, FEB = date(2026, 1, 1), date(2026, 2, 1)
PERIOD = Filters(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
SLACK = Filters(PERIOD.start, PERIOD.end, platform="slack")


def at(month: int, day: int, year: int = 2026) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


async def person(db: Database, name: str, platform: str) -> int:
    joined = at(9, 1, year=2025)
    (member_id,) = await add(
        db, Member(display_name=name, created_at=joined, last_active_at=joined)
    )
    await add(
        db,
        Identity(member_id=member_id, platform=platform, external_id=name, created_at=joined),
    )
    return member_id


def kudos(
    giver: int, receiver: int, category: str, given: datetime, revoked: datetime | None = None
) -> Kudos:
    return Kudos(
        giver_id=giver,
        receiver_id=receiver,
        category=category,
        reason="Thank you for the thing you did",
        created_at=given,
        revoked_at=revoked,
    )


async def community(db: Database) -> None:
    ada, bea, eli = [await person(db, name, "slack") for name in ("Ada", "Bea", "Eli")]
    cy, dov = [await person(db, name, "telegram") for name in ("Cy", "Dov")]
    await add(
        db,
        kudos(ada, bea, "code", at(1, 3)),  # Bea's first
        kudos(ada, bea, "docs", at(1, 10)),
        kudos(cy, bea, "code", at(2, 2)),
        kudos(bea, cy, "translation", at(2, 5)),  # Cy's first
        kudos(ada, dov, "outreach", at(1, 15), revoked=at(1, 16)),  # revoked: counts nowhere
        kudos(bea, dov, "outreach", at(2, 20)),  # so this is Dov's first
        kudos(ada, eli, "code", at(12, 10, year=2025)),  # Eli's first, before the period
        kudos(eli, ada, "design", at(2, 25)),  # Ada's first
        kudos(cy, eli, "code", at(1, 20)),
        kudos(bea, ada, "design", at(3, 2)),  # after the period
    )
    await add(
        db,
        BadgeAward(member_id=bea, badge="first_kudos", awarded_at=at(1, 3)),
        BadgeAward(member_id=cy, badge="first_kudos", awarded_at=at(2, 5)),
        BadgeAward(member_id=dov, badge="first_kudos", awarded_at=at(2, 20)),
        BadgeAward(member_id=bea, badge="helper", awarded_at=at(2, 10)),
        BadgeAward(member_id=eli, badge="first_kudos", awarded_at=at(12, 10, year=2025)),
    )
    await rebuild_milestones(db)  # the kudos went in directly, not through what keeps them


async def test_the_period_s_recognition(db: Database, day_sets: DaySets) -> None:
    await community(db)
    await day_sets(db)
    async with db.reading() as session:
        found = await recognition(session, PERIOD)
    assert found.kudos == [
        KindMonth(JAN, "code", 2),
        KindMonth(JAN, "docs", 1),
        KindMonth(FEB, "code", 1),
        KindMonth(FEB, "design", 1),
        KindMonth(FEB, "outreach", 1),
        KindMonth(FEB, "translation", 1),
    ]
    assert (found.givers, found.receivers) == (4, 5)  # Ada, Bea, Cy, Eli gave; all five got
    assert found.badges == {"first_kudos": 3, "helper": 1}
    # Firsts: Bea in January; Cy, Dov (whose revoked kudos does not count) and Ada in
    # February; Eli's was in December.
    assert found.new_contributors == [MonthCount(JAN, 1), MonthCount(FEB, 3)]


async def test_a_platform_keeps_its_own_members(db: Database, day_sets: DaySets) -> None:
    await community(db)
    await day_sets(db)
    async with db.reading() as session:
        found = await recognition(session, SLACK)
    assert found.kudos == [
        KindMonth(JAN, "code", 2),
        KindMonth(JAN, "docs", 1),
        KindMonth(FEB, "code", 1),
        KindMonth(FEB, "design", 1),
    ]
    assert (found.givers, found.receivers) == (3, 3)  # Ada, Bea, Eli both ways
    assert found.badges == {"first_kudos": 1, "helper": 1}
    assert found.new_contributors == [MonthCount(JAN, 1), MonthCount(FEB, 1)]


async def test_an_empty_community(db: Database) -> None:
    async with db.reading() as session:
        found = await recognition(session, PERIOD)
    assert found.kudos == []
    assert (found.givers, found.receivers) == (0, 0)
    assert found.badges == {}
    assert found.new_contributors == [MonthCount(JAN, 0), MonthCount(FEB, 0)]


async def test_a_period_within_one_month(db: Database, day_sets: DaySets) -> None:
    await community(db)
    await day_sets(db)
    february = Filters(datetime(2026, 2, 3, tzinfo=UTC), datetime(2026, 2, 21, tzinfo=UTC))
    async with db.reading() as session:
        found = await recognition(session, february)
    assert found.kudos == [KindMonth(FEB, "outreach", 1), KindMonth(FEB, "translation", 1)]
    assert (found.givers, found.receivers) == (1, 2)  # Bea thanked Cy and Dov
    assert found.new_contributors == [MonthCount(FEB, 2)]  # Cy and Dov
