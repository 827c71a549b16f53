"""Members' milestones (storage/activity.py), written where their rows are written: a kudos
given and revoked, a mentor request made and reopened, a mentorship started, a flow finished,
a day of activity, and a member forgotten; and `rebuild` gives the same from the rows alone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from storage import activity, mentorship, recognition
from storage.models import FlowMilestone, FlowRun, Member
from storage.privacy import export_member, forget_member
from storage.session import Database
from storage.statuses import RequestStatus, RunStatus
from tests.storage.rows import new_member, rebuild_milestones, thank

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
FINISHED_DAY = date(2026, 3, 2)


def day(n: int) -> date:
    """The day n days after the one the flow was finished."""
    return FINISHED_DAY + timedelta(days=n)


async def milestones(db: Database, member_id: int) -> dict[str, Any]:
    async with db.reading() as session:
        member = await session.get(Member, member_id)
        assert member is not None
        rows = await session.execute(
            select(FlowMilestone).where(FlowMilestone.member_id == member_id)
        )
        return {
            "mentor_requested_at": member.mentor_requested_at,
            "first_matched_at": member.first_matched_at,
            "first_kudos_at": member.first_kudos_at,
            "flows": {row.flow_id: (row.finished_at, row.retained_on) for row in rows.scalars()},
        }


async def everyone(db: Database, *member_ids: int) -> list[dict[str, Any]]:
    return [await milestones(db, member_id) for member_id in member_ids]


async def assert_rebuild_agrees(db: Database, *member_ids: int) -> None:
    kept = await everyone(db, *member_ids)
    await rebuild_milestones(db)
    assert await everyone(db, *member_ids) == kept


async def give(db: Database, giver: int, receiver: int, at: datetime) -> int:
    async with db.transaction() as session:
        return await thank(session, giver, receiver, at)


async def revoke(db: Database, kudos_id: int, by: int) -> None:
    async with db.transaction() as session:
        assert await recognition.revoke(session, kudos_id, by, START) is not None


async def active(db: Database, member_id: int, *days: date) -> None:
    for one in days:
        async with db.transaction() as session:
            dialect = session.get_bind().dialect.name
            await activity.record(session, dialect, member_id, one, "console")


async def finish(db: Database, member_id: int, flow_id: str, at: datetime) -> None:
    """A run of the flow completed, as bot/conversation.py closes one."""
    async with db.transaction() as session:
        session.add(
            FlowRun(
                member_id=member_id,
                flow_id=flow_id,
                status=RunStatus.COMPLETED,
                started_at=at,
                updated_at=at,
                finished_at=at,
            )
        )
        await activity.finished(session, member_id, flow_id, at)


async def test_the_first_live_kudos_received(db: Database) -> None:
    ada, bea = await new_member(db, "ada"), await new_member(db, "bea")
    assert (await milestones(db, bea))["first_kudos_at"] is None
    later = await give(db, ada, bea, START + timedelta(days=3))
    assert (await milestones(db, bea))["first_kudos_at"] == START + timedelta(days=3)
    first = await give(db, ada, bea, START)  # an earlier one, written later
    await give(db, ada, bea, START + timedelta(days=5))
    assert (await milestones(db, bea))["first_kudos_at"] == START
    await assert_rebuild_agrees(db, ada, bea)

    await revoke(db, first, ada)  # the next one is the first now
    assert (await milestones(db, bea))["first_kudos_at"] == START + timedelta(days=3)
    await revoke(db, later, ada)
    assert (await milestones(db, bea))["first_kudos_at"] == START + timedelta(days=5)
    await assert_rebuild_agrees(db, ada, bea)
    assert (await milestones(db, ada))["first_kudos_at"] is None


async def test_a_revoked_only_kudos_leaves_none(db: Database) -> None:
    ada, bea = await new_member(db, "ada"), await new_member(db, "bea")
    await revoke(db, await give(db, ada, bea, START), ada)
    assert (await milestones(db, bea))["first_kudos_at"] is None
    await assert_rebuild_agrees(db, bea)


async def test_forgetting_a_giver_keeps_the_receivers_first_kudos(db: Database) -> None:
    """Their kudos stay for the people they thanked (from "a former member"): so does the
    first contribution those kudos recognised."""
    ada, bea, cy = [await new_member(db, name) for name in ("ada", "bea", "cy")]
    await give(db, ada, bea, START)
    await give(db, cy, bea, START + timedelta(days=2))
    await give(db, ada, cy, START + timedelta(days=1))
    async with db.transaction() as session:
        member = await session.get(Member, ada)
        assert member is not None
        await forget_member(session, member, "test")
    assert (await milestones(db, bea))["first_kudos_at"] == START
    assert (await milestones(db, cy))["first_kudos_at"] == START + timedelta(days=1)
    await assert_rebuild_agrees(db, bea, cy)


async def test_mentor_request_and_first_match(db: Database) -> None:
    ada, jon, kim = [await new_member(db, name) for name in ("ada", "jon", "kim")]
    async with db.transaction() as session:
        assert await mentorship.request(session, ada, START) is None
    assert (await milestones(db, ada))["mentor_requested_at"] == START
    reopened = START + timedelta(days=4)
    async with db.transaction() as session:  # cancelled, then asked again: the funnel's moment
        await mentorship.request_moved(session, ada, RequestStatus.CANCELLED, START)
        assert await mentorship.request(session, ada, reopened) is None
    assert (await milestones(db, ada))["mentor_requested_at"] == reopened

    for mentor, offset in ((jon, 6), (kim, 9)):
        at = START + timedelta(days=offset)
        async with db.transaction() as session:
            offer = await mentorship.propose(
                session, ada, mentor, at, at + timedelta(days=2), 1, []
            )
            assert offer is not None
            assert await mentorship.accept(session, offer, at) is not None
    assert (await milestones(db, ada))["first_matched_at"] == START + timedelta(days=6)
    await assert_rebuild_agrees(db, ada, jon, kim)

    async with db.transaction() as session:  # the first mentor forgotten: the second is first
        member = await session.get(Member, jon)
        assert member is not None
        await forget_member(session, member, "test")
    assert (await milestones(db, ada))["first_matched_at"] == START + timedelta(days=9)
    await assert_rebuild_agrees(db, ada, kim)


async def test_finishing_a_flow_the_first_time(db: Database) -> None:
    ada = await new_member(db, "ada")
    await finish(db, ada, "onboarding", START)
    await finish(db, ada, "onboarding", START + timedelta(days=3))  # again: still the first
    await finish(db, ada, "feedback", START + timedelta(days=1))
    assert (await milestones(db, ada))["flows"] == {
        "onboarding": (START, None),
        "feedback": (START + timedelta(days=1), None),
    }
    await assert_rebuild_agrees(db, ada)


async def test_retained_on_the_first_day_of_a_second_week_after_finishing(db: Database) -> None:
    ada = await new_member(db, "ada")
    await finish(db, ada, "onboarding", START)
    # The day itself does not count, nor a second day in week 0 (days 1-7).
    await active(db, ada, day(0), day(2), day(7))
    assert (await milestones(db, ada))["flows"]["onboarding"][1] is None
    await active(db, ada, day(10))  # week 1
    await active(db, ada, day(12))
    assert (await milestones(db, ada))["flows"]["onboarding"] == (START, day(10))
    await assert_rebuild_agrees(db, ada)


async def test_retained_by_days_in_any_two_of_the_four_weeks(db: Database) -> None:
    ada, bea, cy, dov = [await new_member(db, name) for name in ("ada", "bea", "cy", "dov")]
    for member in (ada, bea, cy, dov):
        await finish(db, member, "onboarding", START)
    await active(db, ada, day(15), day(28))  # weeks 2 and 3: on the last day of the 4 weeks
    await active(db, bea, day(8), day(29))  # day 29 is after the 4 weeks
    await active(db, cy, day(22), day(3))  # out of order: week 0 written after week 3
    await active(db, dov, day(22), day(3), day(9))  # day 9 (week 1) makes it earlier
    found = await everyone(db, ada, bea, cy, dov)
    assert [one["flows"]["onboarding"][1] for one in found] == [day(28), None, day(22), day(9)]
    await assert_rebuild_agrees(db, ada, bea, cy, dov)


async def test_an_earlier_finish_written_later_moves_the_milestone(db: Database) -> None:
    """Two replicas whose clocks differ: the earlier finish counts, and retention follows it."""
    ada = await new_member(db, "ada")
    await active(db, ada, day(9), day(16))
    await finish(db, ada, "onboarding", START + timedelta(days=8))  # weeks 0 and 1 after it
    assert (await milestones(db, ada))["flows"]["onboarding"] == (
        START + timedelta(days=8),
        day(16),
    )
    await finish(db, ada, "onboarding", START)  # days 9 (week 1) and 16 (week 2) after it
    assert (await milestones(db, ada))["flows"]["onboarding"] == (START, day(16))
    await active(db, ada, day(2))  # week 0: now day 9 is the second week's first day
    assert (await milestones(db, ada))["flows"]["onboarding"] == (START, day(9))
    await assert_rebuild_agrees(db, ada)


async def test_days_recorded_before_the_flow_is_finished(db: Database) -> None:
    """Events handled out of order: the days after are already there when it finishes."""
    ada = await new_member(db, "ada")
    await active(db, ada, day(1), day(9))
    await finish(db, ada, "onboarding", START)
    assert (await milestones(db, ada))["flows"]["onboarding"] == (START, day(9))
    await assert_rebuild_agrees(db, ada)


async def test_export_holds_the_milestones_and_forget_removes_them(db: Database) -> None:
    ada, bea = await new_member(db, "ada"), await new_member(db, "bea")
    await give(db, bea, ada, START)
    await finish(db, ada, "onboarding", START)
    await active(db, ada, day(1), day(8))
    async with db.reading() as session:
        member = await session.get(Member, ada)
        assert member is not None
        document = await export_member(session, member)
    assert document["member"]["first_kudos_at"] == START.isoformat()
    assert document["flow_milestone"] == [
        {
            "member_id": ada,
            "flow_id": "onboarding",
            "finished_at": START.isoformat(),
            "retained_on": day(8).isoformat(),
        }
    ]
    async with db.transaction() as session:
        member = await session.get(Member, ada)
        assert member is not None
        await forget_member(session, member, "test")
    async with db.reading() as session:
        left = await session.execute(select(FlowMilestone))
        assert list(left.scalars()) == []
