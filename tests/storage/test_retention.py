"""Retention per kind of data (storage/retention.py, bot/retention.py): each kind goes at its
limit and not a moment before, in batches; what is still in use never goes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot import retention
from bot.settings import RetentionSettings
from storage.models import (
    Answer,
    AuditLog,
    DaySummary,
    FailedEvent,
    FlowRun,
    KudosTotal,
    MemberActivity,
    Outbox,
    ProcessedEvent,
)
from storage.session import Database
from storage.statuses import OutboxStatus, RunStatus
from tests.storage.rows import NOW, add, count, message, new_member, thank

DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
SETTINGS = RetentionSettings()  # the defaults


def _cut(days: int | None) -> datetime:
    assert days is not None
    return NOW - timedelta(days=days)


async def _keys(db: Database, column: Any) -> list[Any]:
    async with db.reading() as session:
        return sorted((await session.execute(select(column))).scalars())


async def _run(db: Database, limit: int = 1000, **settings: Any) -> dict[str, int]:
    pruned = await retention.run(
        db, RetentionSettings(**settings) if settings else SETTINGS, NOW, limit=limit
    )
    assert pruned is not None
    return pruned


async def test_processed_and_failed_events_go_at_their_limits(db: Database) -> None:
    events, failed = _cut(SETTINGS.processed_events_days), _cut(SETTINGS.failed_events_days)
    await add(
        db,
        ProcessedEvent(dedupe_key="old", platform="console", received_at=events - SECOND),
        ProcessedEvent(dedupe_key="at-limit", platform="console", received_at=events),
        FailedEvent(dedupe_key="f-old", platform="console", event_type="E", error="E",
                    failed_at=failed - SECOND),
        FailedEvent(dedupe_key="f-at-limit", platform="console", event_type="E", error="E",
                    failed_at=failed),
    )  # fmt: skip
    pruned = await _run(db)
    assert (pruned["processed_events"], pruned["failed_events"]) == (1, 1)
    assert await _keys(db, ProcessedEvent.dedupe_key) == ["at-limit"]
    assert await _keys(db, FailedEvent.dedupe_key) == ["f-at-limit"]


async def test_messages_of_every_finished_status_go_and_open_ones_never(db: Database) -> None:
    rows = []
    for status, days in (
        (OutboxStatus.SENT, SETTINGS.sent_messages_days),
        (OutboxStatus.CANCELLED, SETTINGS.cancelled_messages_days),
        (OutboxStatus.FAILED, SETTINGS.failed_messages_days),
    ):
        cut = _cut(days)
        rows += [
            message(f"{status}-old", status=status, created_at=cut - SECOND),
            message(f"{status}-at-limit", status=status, created_at=cut),
        ]
    ancient = NOW - timedelta(days=3650)
    rows += [
        message("pending-ancient", "b", status="pending", created_at=ancient),
        message("sending-ancient", "c", status="sending", created_at=ancient, lease_until=NOW),
    ]
    sent_late = message("sent-late", status="sent", created_at=ancient)
    sent_late.sent_at = _cut(SETTINGS.sent_messages_days)  # counted from when it was sent
    await add(db, *rows, sent_late)
    pruned = await _run(db)
    assert (pruned["sent_messages"], pruned["cancelled_messages"], pruned["failed_messages"]) == (
        1,
        1,
        1,
    )
    assert await _keys(db, Outbox.dedupe_key) == [
        "cancelled-at-limit",
        "failed-at-limit",
        "pending-ancient",
        "sending-ancient",
        "sent-at-limit",
        "sent-late",
    ]


def _run_row(member: int, status: RunStatus, finished: datetime | None, flow: str = "f") -> FlowRun:
    started = (finished or NOW) - DAY
    return FlowRun(
        member_id=member,
        flow_id=flow,
        status=status,
        started_at=started,
        updated_at=finished or started,
        finished_at=finished,
        state={"pending": "what they typed"},
    )


async def _with_answer(db: Database, run: FlowRun) -> int:
    [run_id] = await add(db, run)
    answered = run.finished_at or NOW
    await add(
        db,
        Answer(run_id=run_id, member_id=run.member_id, flow_id=run.flow_id, step_id="name",
               value="Ada", answered_at=answered),
    )  # fmt: skip
    return run_id


async def test_answers_of_finished_runs_go_at_their_limit_and_open_runs_keep_theirs(
    db: Database,
) -> None:
    ada = await new_member(db, "ada")
    cut = _cut(SETTINGS.answers_days)
    old = await _with_answer(db, _run_row(ada, RunStatus.EXPIRED, cut - SECOND))
    at_limit = await _with_answer(db, _run_row(ada, RunStatus.CANCELLED, cut))
    active = await _with_answer(db, _run_row(ada, RunStatus.ACTIVE, None))
    paused = await _with_answer(db, _run_row(ada, RunStatus.PAUSED, None))
    async with db.transaction() as session:  # open for years, then (it is still open)
        for run_id in (active, paused):
            run = await session.get(FlowRun, run_id)
            assert run is not None
            run.started_at = run.updated_at = NOW - timedelta(days=3650)
    pruned = await _run(db)
    assert pruned["answers"] == 1
    assert await _keys(db, Answer.run_id) == sorted([at_limit, active, paused])
    async with db.reading() as session:
        emptied = await session.get(FlowRun, old)
        assert emptied is not None and emptied.state == {}  # the run stays, without its words


async def test_finished_runs_go_at_their_limit_but_the_last_completed_of_each_flow(
    db: Database,
) -> None:
    ada, bea = await new_member(db, "ada"), await new_member(db, "bea")
    cut = _cut(SETTINGS.finished_runs_days)
    before = cut - SECOND
    await _with_answer(db, _run_row(ada, RunStatus.COMPLETED, before - DAY))
    last_done = await _with_answer(db, _run_row(ada, RunStatus.COMPLETED, before))
    other_flow = await _with_answer(db, _run_row(ada, RunStatus.COMPLETED, before, flow="g"))
    await _with_answer(db, _run_row(ada, RunStatus.EXPIRED, before))
    await _with_answer(db, _run_row(bea, RunStatus.CANCELLED, before))
    at_limit = await _with_answer(db, _run_row(bea, RunStatus.EXPIRED, cut))
    active = await _with_answer(db, _run_row(bea, RunStatus.ACTIVE, None))
    pruned = await _run(db, answers_days="keep")
    assert pruned["finished_runs"] == 3
    assert await _keys(db, FlowRun.id) == sorted([last_done, other_flow, at_limit, active])
    assert await _keys(db, Answer.run_id) == sorted([last_done, other_flow, at_limit, active])


async def test_activity_and_its_day_summaries_go_at_their_limit(db: Database) -> None:
    ada = await new_member(db, "ada")
    first_kept = (NOW - timedelta(days=SETTINGS.activity_days or 0)).date()
    days = [first_kept - timedelta(days=2), first_kept - DAY, first_kept, NOW.date()]
    async with db.transaction() as session:
        session.add_all(
            [
                *(MemberActivity(member_id=ada, day=day, platform="console") for day in days),
                *(DaySummary(kind="active", day=day, summary=b"") for day in days[:3]),
                DaySummary(kind="joined", day=days[0], summary=b""),  # not activity: stays
            ]
        )
    pruned = await _run(db)
    assert (pruned["activity"], pruned["active_day_summaries"]) == (2, 2)
    assert await _keys(db, MemberActivity.day) == days[2:]
    async with db.reading() as session:
        left = (await session.execute(select(DaySummary.kind, DaySummary.day))).all()
    assert sorted((kind, day) for kind, day in left) == [
        ("active", first_kept),
        ("joined", days[0]),
    ]


async def test_audit_rows_go_at_their_limit(db: Database) -> None:
    cut = _cut(SETTINGS.audit_log_days)
    await add(
        db,
        AuditLog(at=cut - SECOND, actor="cli", action="old"),
        AuditLog(at=cut, actor="cli", action="at-limit"),
    )
    assert (await _run(db))["audit_log"] == 1
    assert await _keys(db, AuditLog.action) == ["at-limit"]


async def test_keep_prunes_nothing_of_that_kind(db: Database) -> None:
    await add(
        db,
        AuditLog(at=NOW - timedelta(days=9000), actor="cli", action="ancient"),
        message("failed-ancient", status="failed", created_at=NOW - timedelta(days=9000)),
    )
    pruned = await _run(db, audit_log_days="keep", failed_messages_days="keep")
    assert "audit_log" not in pruned and "failed_messages" not in pruned
    assert await count(db, AuditLog) == 1 and await count(db, Outbox) == 1


async def test_big_tables_go_in_bounded_batches(db: Database) -> None:
    old = NOW - timedelta(days=400)
    await add(
        db,
        *(ProcessedEvent(dedupe_key=f"e{n}", platform="console", received_at=old)
          for n in range(25)),
    )  # fmt: skip
    assert (await _run(db, limit=10))["processed_events"] == 25
    assert await count(db, ProcessedEvent) == 0


async def test_kudos_and_their_totals_are_never_pruned(db: Database) -> None:
    ada, bea = await new_member(db, "ada"), await new_member(db, "bea")
    async with db.transaction() as session:
        await thank(session, ada, bea, NOW - timedelta(days=3650))
    async with db.reading() as session:
        before = (await session.execute(select(KudosTotal.points))).scalars().all()
    await _run(db)
    async with db.reading() as session:
        assert (await session.execute(select(KudosTotal.points))).scalars().all() == before
    assert before


async def test_a_replica_that_does_not_lead_prunes_nothing(db: Database) -> None:
    await add(db, ProcessedEvent(dedupe_key="old", platform="console", received_at=date_ago()))
    assert await retention.run(db, SETTINGS, NOW, leading=False) is None
    assert await count(db, ProcessedEvent) == 1


def date_ago() -> datetime:
    return NOW - timedelta(days=3650)


async def test_two_replicas_never_prune_at_once(db: Database) -> None:
    """PostgreSQL: while one holds the housekeeping lock, another skips its round."""
    if db.sqlite:
        return
    await add(db, ProcessedEvent(dedupe_key="old", platform="console", received_at=date_ago()))
    async with retention._alone(db) as first:
        assert first
        assert await retention.run(db, SETTINGS, NOW) is None
    assert (await _run(db))["processed_events"] == 1
