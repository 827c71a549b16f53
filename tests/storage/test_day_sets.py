"""The health metrics' day sets (storage/health/daysets.py): which days are stored, the part-days
at a period's edges, and what a revoked kudos or a forgotten member leaves of them.

Every expected number is counted by hand from the rows each test writes; on SQLite and
PostgreSQL, and (where the `day_sets` fixture runs) with the sets read from the rows and
stored.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from pyroaring import BitMap
from sqlalchemy import select

from storage import activity
from storage.health import daysets
from storage.health.daysets import Kind
from storage.health.onboarding import onboarding
from storage.health.overview import overview
from storage.health.recognition import recognition
from storage.health.types import Filters, KindMonth, MonthCount, Spread
from storage.models import DaySummary, Kudos, Member, MemberActivity
from storage.privacy import forget_member
from storage.recognition import revoke
from storage.session import Database
from tests.storage.conftest import DaySets
from tests.storage.rows import add, store_day_sets


def at(day: int, hour: int = 12, month: int = 2) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


async def people(db: Database, *names: str) -> list[int]:
    joined = datetime(2026, 1, 5, 9, tzinfo=UTC)
    return await add(
        db, *(Member(display_name=name, created_at=joined, last_active_at=joined) for name in names)
    )


def kudos(giver: int, receiver: int, given: datetime) -> Kudos:
    return Kudos(
        giver_id=giver, receiver_id=receiver, category="code", reason="thanks", created_at=given
    )


async def active(db: Database, member: int, *days: int) -> None:
    async with db.transaction() as session:
        session.add_all(
            MemberActivity(member_id=member, day=date(2026, 2, d), platform="slack") for d in days
        )


async def stored(db: Database) -> dict[tuple[str, date], BitMap]:
    """The stored sets of members (not the dropped ones, which hold no one until stored
    again, nor the counts)."""
    async with db.reading() as session:
        rows = (await session.execute(select(DaySummary))).scalars()
        return {
            (row.kind, row.day): BitMap.deserialize(row.summary)
            for row in rows
            if row.summary is not None and row.kind in daysets.MEMBER_SETS
        }


async def test_a_period_counts_the_part_days_at_its_edges_by_the_instant(
    db: Database, day_sets: DaySets
) -> None:
    ada, bea, cy, dov, eve = await people(db, "Ada", "Bea", "Cy", "Dov", "Eve")
    await add(
        db,
        kudos(ada, eve, at(3, 8)),  # the first day, before the period starts at noon
        kudos(bea, eve, at(3, 13)),  # the first day, inside
        kudos(cy, eve, at(10)),  # a whole day inside
        kudos(dov, eve, at(20, 11)),  # the last day, before the period ends at noon
        kudos(eve, ada, at(20, 15)),  # the last day, after it
    )
    await day_sets(db)
    period = Filters(at(3), at(20))
    same_day = Filters(at(3, 9), at(3, 14))
    async with db.reading() as session:
        found = await recognition(session, period)
        within = await recognition(session, same_day)
    assert (found.givers, found.receivers) == (3, 1)  # Bea, Cy, Dov to Eve
    assert found.kudos == [KindMonth(date(2026, 2, 1), "code", 3)]
    assert (within.givers, within.receivers) == (1, 1)  # Bea to Eve
    assert within.kudos == [KindMonth(date(2026, 2, 1), "code", 1)]


def test_a_day_is_closed_an_hour_after_the_next_one_began() -> None:
    assert daysets.last_closed(datetime(2026, 2, 10, 0, 59, tzinfo=UTC)) == date(2026, 2, 8)
    assert daysets.last_closed(datetime(2026, 2, 10, 1, 0, tzinfo=UTC)) == date(2026, 2, 9)


async def test_only_closed_days_are_stored_each_once(db: Database) -> None:
    (ada,) = await people(db, "Ada")
    await active(db, ada, 1, 2, 9)
    async with db.reading() as session:
        batch = await daysets.next_batch(session, datetime(2026, 2, 10, tzinfo=UTC), longest=3)
    assert batch is not None
    assert (batch.kind, batch.days) == (Kind.ACTIVE, [date(2026, 2, d) for d in (1, 2, 3)])
    assert await store_day_sets(db, datetime(2026, 2, 10, tzinfo=UTC)) > 0
    assert await store_day_sets(db, datetime(2026, 2, 10, tzinfo=UTC)) == 0  # nothing left to store
    sets = await stored(db)
    days = {day: members for (kind, day), members in sets.items() if kind == Kind.ACTIVE}
    # From her first day to the 8th: at midnight, the 9th is not closed until 01:00.
    assert sorted(days) == [date(2026, 2, d) for d in range(1, 9)]
    assert [day.day for day, members in sorted(days.items()) if ada in members] == [1, 2]
    # The day she joined holds her; the days between are stored empty, not read again.
    assert sets[(Kind.JOINED, date(2026, 1, 5))] == BitMap([ada])
    assert sets[(Kind.JOINED, date(2026, 1, 6))] == BitMap()


async def test_a_revoked_kudos_no_longer_counts_its_stored_day(db: Database) -> None:
    ada, bea, cy = await people(db, "Ada", "Bea", "Cy")
    (mistake, _) = await add(db, kudos(ada, bea, at(3)), kudos(cy, bea, at(4)))
    await store_day_sets(db, datetime(2026, 3, 1, tzinfo=UTC))
    february = Filters(at(1, 0), at(1, 0, month=3))
    async with db.transaction() as session:
        assert await revoke(session, mistake, by=ada, now=at(25))
    async with db.reading() as session:
        found = await recognition(session, february)
    assert (found.givers, found.receivers) == (1, 1)  # Cy to Bea; Ada's was revoked
    assert found.kudos == [KindMonth(date(2026, 2, 1), "code", 1)]
    sets = await stored(db)
    assert (Kind.GAVE, date(2026, 2, 3)) not in sets  # dropped, to be stored again
    await store_day_sets(db, datetime(2026, 3, 1, tzinfo=UTC))
    assert (await stored(db))[(Kind.GAVE, date(2026, 2, 3))] == BitMap()


async def test_forgetting_a_member_leaves_no_stored_set_holding_them(db: Database) -> None:
    ada, bea, cy = await people(db, "Ada", "Bea", "Cy")
    await add(
        db,
        kudos(ada, bea, at(3)),
        kudos(cy, ada, at(4)),
        kudos(cy, bea, at(5)),
    )
    await active(db, ada, 3, 6)
    await active(db, bea, 6)
    await store_day_sets(db, datetime(2026, 3, 1, tzinfo=UTC))
    assert any(ada in members for members in (await stored(db)).values())
    async with db.transaction() as session:
        member = await session.get(Member, ada)
        assert member is not None
        await forget_member(session, member, actor="cli")
    assert not any(ada in members for members in (await stored(db)).values())
    await store_day_sets(db, datetime(2026, 3, 1, tzinfo=UTC))  # stored again from what is left
    sets = await stored(db)
    assert not any(ada in members for members in sets.values())
    assert sets[(Kind.ACTIVE, date(2026, 2, 6))] == BitMap([bea])
    assert sets[(Kind.RECEIVED, date(2026, 2, 5))] == BitMap([bea])
    february = Filters(at(1, 0), at(1, 0, month=3))
    async with db.reading() as session:
        found = await recognition(session, february)
    assert (found.givers, found.receivers) == (1, 1)  # Cy to Bea, on the 5th


async def test_a_fill_that_read_the_rows_before_a_revoke_does_not_store_them_after(
    db: Database,
) -> None:
    ada, bea = await people(db, "Ada", "Bea")
    (mistake,) = await add(db, kudos(ada, bea, at(3)))
    now = datetime(2026, 3, 1, tzinfo=UTC)
    await store_day_sets(db, now)
    async with db.transaction() as session:
        await revoke(session, mistake, by=ada, now=at(25))  # drops the 3rd's sets
    kudos_again = [kudos(ada, bea, at(3, 15))]
    (again,) = await add(db, *kudos_again)  # given again (by hand: the clock was the 3rd's)
    async with db.reading() as session:  # a fill reads the 3rd, with both kudos...
        batch = await daysets.next_batch(session, now)
        assert batch is not None and batch.days[0] == date(2026, 2, 3)
        sets = await daysets.work_out(session, batch)
    async with db.transaction() as session:  # ...and the second one is revoked meanwhile
        await revoke(session, again, by=ada, now=at(26))
    async with db.transaction() as session:
        await daysets.store(session, batch, sets)
    assert (Kind.GAVE, date(2026, 2, 3)) not in await stored(db)  # what it read is not kept
    await store_day_sets(db, now)
    assert (await stored(db))[(Kind.GAVE, date(2026, 2, 3))] == BitMap()


async def test_a_fill_that_read_a_member_before_they_were_forgotten_does_not_store_them(
    db: Database,
) -> None:
    ada, bea = await people(db, "Ada", "Bea")
    await active(db, ada, 3)
    await active(db, bea, 3)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    async with db.reading() as session:  # a first fill reads the 3rd, Ada in it...
        batch = await daysets.next_batch(session, now)
        assert batch is not None and batch.kind is Kind.ACTIVE
        sets = await daysets.work_out(session, batch)
    async with db.transaction() as session:  # ...and she is forgotten before it stores it
        member = await session.get(Member, ada)
        assert member is not None
        await forget_member(session, member, actor="cli")
    async with db.transaction() as session:
        await daysets.store(session, batch, sets)
    assert not any(ada in members for members in (await stored(db)).values())
    await store_day_sets(db, now)
    assert (await stored(db))[(Kind.ACTIVE, date(2026, 2, 3))] == BitMap([bea])


async def test_a_member_reached_days_after_joining_counts_in_the_waits_of_their_day(
    db: Database,
) -> None:
    ada, bea = await people(db, "Ada", "Bea")  # both joined on January 5th at 09:00
    now = datetime(2026, 3, 1, tzinfo=UTC)
    async with db.transaction() as session:
        await activity.first_reached(session, [ada], datetime(2026, 1, 5, 9, 1, tzinfo=UTC))
    await store_day_sets(db, now)
    january = Filters(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
    async with db.reading() as session:
        assert (await onboarding(session, january, "onboarding")).first_message == Spread(
            1, 60.0, 60.0
        )
    async with db.transaction() as session:  # Bea, reached at last on February 20th
        await activity.first_reached(session, [bea], at(20, 9))
    async with db.reading() as session:
        found = (await onboarding(session, january, "onboarding")).first_message
    assert found == Spread(2, (60.0 + 46 * 86400) / 2, 46 * 86400.0)
    await store_day_sets(db, now)  # and so once stored again
    async with db.reading() as session:
        assert (await onboarding(session, january, "onboarding")).first_message == found


async def test_a_revoked_first_kudos_moves_the_members_first_contribution(db: Database) -> None:
    """Bea's first kudos (the 3rd) is revoked after its day was stored: her first contribution
    is now the 4th, in the overview and in New Contributors; the days of both are dropped."""
    ada, bea, cy = await people(db, "Ada", "Bea", "Cy")
    (first, _) = await add(db, kudos(ada, bea, at(3)), kudos(cy, bea, at(4)))
    async with db.transaction() as session:
        await activity.recount(session, receivers=[bea])  # the rows went in directly
    await store_day_sets(db, datetime(2026, 3, 1, tzinfo=UTC))
    assert (await stored(db))[(Kind.FIRST_KUDOS, date(2026, 2, 3))] == BitMap([bea])
    third = Filters(at(3, 0), at(4, 0))  # the 3rd only
    async with db.transaction() as session:
        assert await revoke(session, first, by=ada, now=at(25))
    sets = await stored(db)
    assert (Kind.FIRST_KUDOS, date(2026, 2, 3)) not in sets  # dropped, both days
    assert (Kind.FIRST_KUDOS, date(2026, 2, 4)) not in sets
    for _ in range(2):  # read from the rows, then from the days stored again
        async with db.reading() as session:
            assert (await overview(session, third, "onboarding")).first_contributions.current == 0
            found = await recognition(session, Filters(at(1, 0), at(1, 0, month=3)))
        assert found.new_contributors == [MonthCount(date(2026, 2, 1), 1)]  # Bea, on the 4th
        await store_day_sets(db, datetime(2026, 3, 1, tzinfo=UTC))
    sets = await stored(db)
    assert sets[(Kind.FIRST_KUDOS, date(2026, 2, 4))] == BitMap([bea])
    # Now before the first day anyone was first thanked: not stored again, read from the rows.
    assert (Kind.FIRST_KUDOS, date(2026, 2, 3)) not in sets
