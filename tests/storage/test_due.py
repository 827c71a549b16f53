"""Due work: scheduling by key, claiming with leases, finishing, failing and cancelling."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from storage import due
from storage.models import DueWork
from storage.session import Database
from tests.storage.rows import LEASE, NOW, new_member

LATER = NOW + timedelta(minutes=5)
EARLIER = NOW - timedelta(minutes=5)


async def _schedule(
    db: Database, key: str, due_at: datetime = NOW, member_id: int | None = None, **payload: int
) -> None:
    async with db.transaction() as session:
        await due.schedule(
            session, key=key, kind="nudge", due_at=due_at, member_id=member_id, payload=payload
        )


async def _work(db: Database, key: str) -> DueWork:
    async with db.reading() as session:
        return (await session.execute(select(DueWork).where(DueWork.key == key))).scalar_one()


async def _claim(db: Database, now: datetime = NOW, limit: int = 10) -> list[str]:
    async with db.transaction() as session:
        claimed = await due.claim(session, now, LEASE, limit)
    return sorted(work.key for work in claimed)


async def _finish(db: Database, key: str, now: datetime = NOW) -> bool:
    work = await _work(db, key)
    async with db.transaction() as session:
        return await due.finish(session, work.id or 0, now)


async def test_schedule_creates_pending_work(db: Database) -> None:
    member_id = await new_member(db, "ada")
    await _schedule(db, "flow.nudge:1", LATER, member_id, run=1)
    work = await _work(db, "flow.nudge:1")
    assert (work.kind, work.due_at, work.status, work.member_id, work.payload) == (
        "nudge",
        LATER,
        "pending",
        member_id,
        {"run": 1},
    )
    assert work.attempts == 0


async def test_schedule_again_with_the_same_key_moves_the_work(db: Database) -> None:
    await _schedule(db, "k", NOW, run=1)
    await _schedule(db, "k", LATER, run=2)
    async with db.reading() as session:
        rows = (await session.execute(select(DueWork))).scalars().all()
    assert [(w.key, w.due_at, w.status, w.payload) for w in rows] == [
        ("k", LATER, "pending", {"run": 2})
    ]


async def test_a_moved_work_is_claimed_at_its_new_time_only(db: Database) -> None:
    await _schedule(db, "k", NOW)
    await _schedule(db, "k", LATER)
    assert await _claim(db, NOW) == []
    assert await _claim(db, LATER) == ["k"]


async def test_schedule_again_makes_running_work_pending_with_a_fresh_start(
    db: Database,
) -> None:
    await _schedule(db, "k", EARLIER)
    assert await _claim(db) == ["k"]
    await _schedule(db, "k", LATER)
    work = await _work(db, "k")
    assert (work.status, work.due_at, work.lease_until, work.attempts) == (
        "pending",
        LATER,
        None,
        0,
    )


async def test_schedule_again_makes_done_work_pending(db: Database) -> None:
    await _schedule(db, "k", NOW)
    assert await _claim(db) == ["k"]
    assert await _finish(db, "k")
    await _schedule(db, "k", LATER)
    work = await _work(db, "k")
    assert (work.status, work.due_at, work.done_at) == ("pending", LATER, None)


async def test_claim_takes_due_pending_work_and_leases_it(db: Database) -> None:
    await _schedule(db, "past", EARLIER)
    await _schedule(db, "now", NOW)
    await _schedule(db, "future", LATER)
    assert await _claim(db) == ["now", "past"]
    work = await _work(db, "past")
    assert (work.status, work.lease_until, work.attempts) == ("running", NOW + LEASE, 1)
    assert (await _work(db, "future")).status == "pending"


async def test_claim_takes_the_earliest_due_work_first(db: Database) -> None:
    await _schedule(db, "second", EARLIER - timedelta(minutes=30))
    await _schedule(db, "first", EARLIER - timedelta(hours=1))
    await _schedule(db, "third", EARLIER)
    assert await _claim(db, limit=1) == ["first"]
    assert await _claim(db, limit=1) == ["second"]


async def test_claim_retakes_running_work_whose_lease_expired_but_not_live_work(
    db: Database,
) -> None:
    await _schedule(db, "k", NOW)
    assert await _claim(db, NOW) == ["k"]
    assert await _claim(db, NOW + LEASE) == []
    assert await _claim(db, NOW + LEASE + timedelta(seconds=1)) == ["k"]
    assert (await _work(db, "k")).attempts == 2


async def test_claim_ignores_done_failed_and_cancelled_work(db: Database) -> None:
    for key in ("done", "failed", "cancelled"):
        await _schedule(db, key, EARLIER)
    assert await _claim(db) == ["cancelled", "done", "failed"]
    assert await _finish(db, "done")
    async with db.transaction() as session:
        await due.failed(session, await _work(db, "failed"), "boom", None)
    await _schedule(db, "cancelled", LATER)
    async with db.transaction() as session:
        await due.cancel(session, "cancelled")
    assert await _claim(db, LATER + LEASE) == []


async def test_finish_is_true_once_then_false(db: Database) -> None:
    await _schedule(db, "k")
    assert await _claim(db) == ["k"]
    assert await _finish(db, "k", LATER) is True
    work = await _work(db, "k")
    assert (work.status, work.done_at, work.lease_until) == ("done", LATER, None)
    assert await _finish(db, "k") is False


async def test_finish_is_false_for_work_that_is_not_running(db: Database) -> None:
    await _schedule(db, "k")
    assert await _finish(db, "k") is False
    assert (await _work(db, "k")).status == "pending"


async def test_failed_with_a_retry_time_makes_the_work_pending_at_that_time(
    db: Database,
) -> None:
    await _schedule(db, "k")
    assert await _claim(db) == ["k"]
    async with db.transaction() as session:
        await due.failed(session, await _work(db, "k"), "boom", LATER)
    work = await _work(db, "k")
    assert (work.status, work.due_at, work.lease_until, work.last_error) == (
        "pending",
        LATER,
        None,
        "boom",
    )
    assert await _claim(db, NOW + LEASE + timedelta(seconds=1)) == []
    assert await _claim(db, LATER) == ["k"]


async def test_failed_without_a_retry_time_makes_the_work_failed(db: Database) -> None:
    await _schedule(db, "k")
    assert await _claim(db) == ["k"]
    async with db.transaction() as session:
        await due.failed(session, await _work(db, "k"), "x" * 2000, None)
    work = await _work(db, "k")
    assert (work.status, work.lease_until, work.last_error) == ("failed", None, "x" * 1000)


async def test_failed_leaves_work_alone_once_another_worker_finished_it(db: Database) -> None:
    await _schedule(db, "k")
    assert await _claim(db) == ["k"]
    stale = await _work(db, "k")
    assert await _claim(db, NOW + LEASE + timedelta(seconds=1)) == ["k"]
    assert await _finish(db, "k")
    async with db.transaction() as session:
        await due.failed(session, stale, "boom", LATER)
    assert (await _work(db, "k")).status == "done"


async def test_cancel_cancels_pending_work_with_that_key_only(db: Database) -> None:
    await _schedule(db, "k", LATER)
    await _schedule(db, "other", LATER)
    async with db.transaction() as session:
        await due.cancel(session, "k")
    assert (await _work(db, "k")).status == "cancelled"
    assert (await _work(db, "other")).status == "pending"
    assert await _claim(db, LATER) == ["other"]


async def test_cancel_leaves_running_and_done_work_alone(db: Database) -> None:
    await _schedule(db, "running")
    await _schedule(db, "done")
    assert await _claim(db) == ["done", "running"]
    assert await _finish(db, "done")
    async with db.transaction() as session:
        await due.cancel(session, "running")
        await due.cancel(session, "done")
    assert (await _work(db, "running")).status == "running"
    assert (await _work(db, "done")).status == "done"


async def test_cancel_for_member_cancels_only_that_members_pending_work(db: Database) -> None:
    ada, bob = await new_member(db, "ada"), await new_member(db, "bob")
    await _schedule(db, "ada.nudge", LATER, ada)
    await _schedule(db, "ada.check", LATER, ada)
    await _schedule(db, "bob.nudge", LATER, bob)
    await _schedule(db, "global", LATER)
    async with db.transaction() as session:
        await due.cancel_for_member(session, ada)
    keys = ("ada.nudge", "ada.check", "bob.nudge", "global")
    assert [(await _work(db, k)).status for k in keys] == [
        "cancelled",
        "cancelled",
        "pending",
        "pending",
    ]


async def test_cancel_for_member_leaves_running_and_done_work_alone(db: Database) -> None:
    ada = await new_member(db, "ada")
    await _schedule(db, "done", NOW, ada)
    await _schedule(db, "running", NOW, ada)
    assert await _claim(db) == ["done", "running"]
    assert await _finish(db, "done")
    async with db.transaction() as session:
        await due.cancel_for_member(session, ada)
    assert (await _work(db, "done")).status == "done"
    assert (await _work(db, "running")).status == "running"


async def test_cancel_for_member_with_a_prefix_cancels_only_matching_keys(db: Database) -> None:
    ada = await new_member(db, "ada")
    keys = ("flow.nudge:1", "flow.expire:1", "checkin:1", "xflow.nudge:1")
    for key in keys:
        await _schedule(db, key, LATER, ada)
    async with db.transaction() as session:
        await due.cancel_for_member(session, ada, prefix="flow.")
    assert [(await _work(db, k)).status for k in keys] == [
        "cancelled",
        "cancelled",
        "pending",
        "pending",
    ]
