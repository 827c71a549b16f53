"""Flow runs and answers: the current run, saving answers in place, closing runs."""

from __future__ import annotations

from datetime import timedelta

from storage import runs
from storage.models import Answer, FlowRun
from storage.session import Database
from tests.storage.rows import NOW, add, count, load, new_member

LATER = NOW + timedelta(minutes=5)


async def _run(db: Database, member_id: int, status: str = "active") -> int:
    (run_id,) = await add(db, FlowRun(member_id=member_id, flow_id="onboarding", status=status))
    return run_id


async def test_current_run_is_the_latest_active_run_of_that_member(db: Database) -> None:
    ada, bob = await new_member(db, "ada"), await new_member(db, "bob")
    await _run(db, ada)
    latest = await _run(db, ada)
    await _run(db, ada, status="paused")
    await _run(db, bob)
    async with db.reading() as session:
        run = await runs.current_run(session, ada)
        paused = await runs.last_paused_run(session, ada)
        assert await runs.last_paused_run(session, bob) is None
    assert run is not None and run.id == latest
    assert paused is not None and paused.status == "paused"


async def test_save_answer_twice_keeps_one_answer_with_the_latest_value(db: Database) -> None:
    run_id = await _run(db, await new_member(db, "ada"))
    run = await load(db, FlowRun, run_id)
    async with db.transaction() as session:
        await runs.save_answer(session, run, "email", "old@example.org", NOW)
        await runs.save_answer(session, run, "email", "new@example.org", LATER)
    async with db.transaction() as session:
        await runs.save_answer(session, run, "email", "last@example.org", LATER)
        await runs.save_answer(session, run, "areas", ["docs", "code"], LATER)
    async with db.reading() as session:
        answers = await runs.answers_of(session, run_id)
    assert answers == {"email": "last@example.org", "areas": ["docs", "code"]}
    assert await count(db, Answer) == 2


async def test_erase_answers_deletes_only_that_runs_answers(db: Database) -> None:
    ada = await new_member(db, "ada")
    first, second = await _run(db, ada), await _run(db, ada)
    async with db.transaction() as session:
        for run_id in (first, second):
            run = await session.get(FlowRun, run_id)
            assert run is not None
            await runs.save_answer(session, run, "email", "a@example.org", NOW)
    async with db.transaction() as session:
        await runs.erase_answers(session, first)
    async with db.reading() as session:
        assert await runs.answers_of(session, first) == {}
        assert await runs.answers_of(session, second) == {"email": "a@example.org"}


async def test_end_runs_closes_only_that_members_open_runs(db: Database) -> None:
    ada, bob = await new_member(db, "ada"), await new_member(db, "bob")
    active, paused, done = (
        await _run(db, ada),
        await _run(db, ada, "paused"),
        await _run(db, ada, "completed"),
    )
    other = await _run(db, bob)
    async with db.transaction() as session:
        await runs.end_runs(session, ada, "cancelled", LATER)
    closed = [await load(db, FlowRun, i) for i in (active, paused)]
    assert [(r.status, r.finished_at, r.updated_at) for r in closed] == [
        ("cancelled", LATER, LATER)
    ] * 2
    assert (await load(db, FlowRun, done)).status == "completed"
    assert (await load(db, FlowRun, other)).status == "active"
