"""The onboarding funnel's day summaries (storage/health/funnel.py, stored as Kind.FUNNEL): a
stored day is what the Onboarding page reads, for the periods it answers; every later change
to a member's milestones drops the summary of the day they joined; a fill that read a day
before such a change does not store it. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from storage import activity, mentorship, recognition
from storage.health import daysets, funnel
from storage.health.daysets import Kind
from storage.health.onboarding import onboarding
from storage.health.types import Filters
from storage.models import DaySummary, Member
from storage.privacy import forget_member
from storage.session import Database, Session
from tests.storage.rows import add, store_day_sets, thank

FLOW = "onboarding"
JOINED = datetime(2026, 1, 5, 9, tzinfo=UTC)
JOINED_DAY = date(2026, 1, 5)
NOW = datetime(2026, 3, 1, tzinfo=UTC)  # every day of January and February closed
LATER = datetime(2026, 2, 10, 12, tzinfo=UTC)  # a change weeks after they joined
TO_NOW = Filters(datetime(2026, 1, 1, tzinfo=UTC), NOW)
JANUARY = Filters(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))


async def people(db: Database, *names: str) -> list[int]:
    """Members who joined on January 5th and said yes to consent a few minutes later."""
    said_yes = JOINED + timedelta(minutes=5)
    return await add(
        db,
        *(
            Member(
                display_name=name,
                created_at=JOINED,
                last_active_at=JOINED,
                consent=True,
                consent_at=said_yes,
            )
            for name in names
        ),
    )


async def steps(db: Database, filters: Filters = TO_NOW, flow: str = FLOW) -> list[int]:
    """How many members reached each step of the funnel."""
    async with db.reading() as session:
        return [step.members for step in (await onboarding(session, filters, flow)).funnel]


async def kept(db: Database, day: date = JOINED_DAY) -> funnel.Day | None:
    """The stored funnel of a day of joining; None when none is stored (or it was dropped)."""
    async with db.reading() as session:
        return (await daysets.funnel_days(session, day, day)).get(day)


async def test_a_stored_day_is_what_the_page_reads(db: Database) -> None:
    ada, _ = await people(db, "Ada", "Bea")
    async with db.transaction() as session:
        await mentorship.request(session, ada, JOINED + timedelta(hours=1))
    assert await steps(db) == [2, 2, 0, 1, 0, 0, 0]
    await store_day_sets(db, NOW)
    stored = await kept(db)
    assert stored is not None and stored.counts.members == (2, 2, 0, 1, 0, 0, 0)
    assert stored.last_at == JOINED + timedelta(hours=1)  # Ada's request, the latest
    # Proof that the page reads the stored day, not the rows: a stored count changed by hand
    # (nothing else ever writes one) shows.
    marked = stored.as_json() | {"members": [9, 2, 0, 1, 0, 0, 0]}
    async with db.transaction() as session:
        await session.execute(
            update(DaySummary)
            .where(DaySummary.kind == Kind.FUNNEL.value, DaySummary.day == JOINED_DAY)
            .values(summary=daysets._dump(Kind.FUNNEL, marked))
        )
    assert (await steps(db))[0] == 9
    # A platform filter reads the rows.
    async with db.reading() as session:
        slack = await onboarding(session, Filters(TO_NOW.start, NOW, platform="slack"), FLOW)
    assert slack.funnel[0].members == 0  # nobody here has an identity on Slack


async def test_a_change_on_the_day_they_joined_marks_nothing(db: Database) -> None:
    """The day is not closed yet: nothing of it can be stored, so the hot path writes nothing
    more."""
    ada, bea = await people(db, "Ada", "Bea")
    async with db.transaction() as session:
        await mentorship.request(session, ada, JOINED + timedelta(hours=2))
        await activity.finished(session, bea, FLOW, JOINED + timedelta(hours=3))
    async with db.reading() as session:
        marks = await session.execute(select(DaySummary).where(DaySummary.kind == "funnel"))
        assert marks.first() is None


Change = Callable[[Session, int, int], Awaitable[object]]


async def _asked(session: Session, ada: int, bea: int) -> object:
    return await mentorship.request(session, ada, LATER)


async def _thanked(session: Session, ada: int, bea: int) -> object:
    return await thank(session, bea, ada, LATER, "docs")


async def _matched(session: Session, ada: int, bea: int) -> object:
    return await activity.matched(session, ada, LATER)  # as storage/mentorship.py's accept does


async def _finished(session: Session, ada: int, bea: int) -> object:
    return await activity.finished(session, ada, FLOW, LATER)


async def _said_no(session: Session, ada: int, bea: int) -> object:
    member = await session.get(Member, ada)
    assert member is not None
    member.consent, member.consent_at = False, LATER
    return await activity.consented(session, member.created_at, LATER)  # as the flow's step does


@pytest.mark.parametrize(
    ("change", "after"),
    [
        (_asked, [2, 2, 0, 1, 0, 0, 0]),
        (_thanked, [2, 2, 0, 0, 0, 1, 0]),
        (_matched, [2, 2, 0, 0, 1, 0, 0]),
        (_finished, [2, 2, 1, 0, 0, 0, 0]),
        (_said_no, [2, 1, 0, 0, 0, 0, 0]),
    ],
    ids=["asked", "thanked", "matched", "onboarded", "said no"],
)
async def test_a_later_milestone_drops_the_day_they_joined(
    db: Database, change: Change, after: list[int]
) -> None:
    ada, bea = await people(db, "Ada", "Bea")
    await store_day_sets(db, NOW)
    assert await kept(db) is not None
    async with db.transaction() as session:
        await change(session, ada, bea)
    assert await kept(db) is None  # dropped...
    assert await steps(db) == after  # ...so the period reads the day from the rows
    await store_day_sets(db, NOW)
    stored = await kept(db)
    assert stored is not None and list(stored.counts.members) == after  # stored again
    assert await steps(db) == after


async def test_becoming_retained_and_a_revoked_first_kudos_drop_the_day(db: Database) -> None:
    (ada,) = await people(db, "Ada")
    (bea,) = await add(db, Member(display_name="Bea", created_at=JOINED, last_active_at=JOINED))
    async with db.transaction() as session:
        await activity.finished(session, ada, FLOW, JOINED + timedelta(hours=1))
        first = await _thanked(session, ada, bea)
    await store_day_sets(db, NOW)
    assert await steps(db) == [2, 1, 1, 0, 0, 1, 0]
    async with db.transaction() as session:  # active in the first and second week after
        for day in (JOINED_DAY + timedelta(days=2), JOINED_DAY + timedelta(days=9)):
            await activity.record(session, session.get_bind().dialect.name, ada, day, "slack")
    assert await kept(db) is None
    assert await steps(db) == [2, 1, 1, 0, 0, 1, 1]
    await store_day_sets(db, NOW)
    assert await kept(db) is not None
    async with db.transaction() as session:
        assert isinstance(first, int)
        assert await recognition.revoke(session, first, by=bea, now=LATER)
    assert await kept(db) is None
    assert await steps(db) == [2, 1, 1, 0, 0, 0, 1]  # no first contribution; still retained


async def test_a_period_that_ends_before_what_a_day_counted_reads_the_rows(
    db: Database,
) -> None:
    ada, bea = await people(db, "Ada", "Bea")
    async with db.transaction() as session:
        await _thanked(session, ada, bea)  # on February 10th
    await store_day_sets(db, NOW)
    stored = await kept(db)
    assert stored is not None and stored.last_at == LATER
    assert not stored.answers(FLOW, JANUARY.end) and stored.answers(FLOW, TO_NOW.end)
    assert (await steps(db, JANUARY))[5] == 0  # not thanked yet when January ended
    assert (await steps(db, TO_NOW))[5] == 1


async def test_another_onboarding_flow_is_worked_out_again(db: Database) -> None:
    ada, _ = await people(db, "Ada", "Bea")
    async with db.transaction() as session:
        await activity.finished(session, ada, "welcome", JOINED + timedelta(hours=1))
    await store_day_sets(db, NOW)  # for "onboarding"
    assert await steps(db, flow="welcome") == [2, 2, 1, 0, 0, 0, 0]  # from the rows
    await store_day_sets(db, NOW, onboarding_flow="welcome")
    stored = await kept(db)
    assert stored is not None and stored.flow == "welcome"
    assert stored.counts.members == (2, 2, 1, 0, 0, 0, 0)


async def test_a_fill_that_read_a_day_before_a_milestone_does_not_store_it(
    db: Database,
) -> None:
    ada, bea = await people(db, "Ada", "Bea")
    await store_day_sets(db, NOW)
    async with db.transaction() as session:
        await _asked(session, ada, bea)  # drops the 5th
    async with db.reading() as session:  # a fill reads the 5th...
        batch = await daysets.next_batch(session, NOW, onboarding_flow=FLOW)
        assert batch is not None and (batch.kind, batch.days) == (Kind.FUNNEL, [JOINED_DAY])
        summaries = await daysets.work_out(session, batch)
    async with db.transaction() as session:  # ...and Bea is thanked before it stores it
        await _thanked(session, bea, ada)
    async with db.transaction() as session:
        await daysets.store(session, batch, summaries)
    assert await kept(db) is None  # what it read is not kept
    assert await steps(db) == [2, 2, 0, 1, 0, 1, 0]
    await store_day_sets(db, NOW)
    stored = await kept(db)
    assert stored is not None and stored.counts.members == (2, 2, 0, 1, 0, 1, 0)


async def test_forgetting_a_member_drops_the_day_they_joined(db: Database) -> None:
    ada, _ = await people(db, "Ada", "Bea")
    await store_day_sets(db, NOW)
    async with db.transaction() as session:
        member = await session.get(Member, ada)
        assert member is not None
        await forget_member(session, member, actor="cli")
    assert await kept(db) is None
    assert await steps(db) == [1, 1, 0, 0, 0, 0, 0]
    await store_day_sets(db, NOW)
    stored = await kept(db)
    assert stored is not None and stored.counts.members == (1, 1, 0, 0, 0, 0, 0)
