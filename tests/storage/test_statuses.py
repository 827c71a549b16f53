"""Named statuses: the columns still hold the plain strings the migrations have always stored.

A status is written from its `StrEnum` member and read back as that member, but the database
sees only the string (no native enum type, no member names), so rows written before the names
existed, and SQL written by hand, read the same.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import StatementError
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from storage.models import DueWork, FlowRun, MentorRequest, Outbox
from storage.session import Database
from storage.statuses import DueStatus, OutboxStatus, RequestStatus, RunStatus
from storage.types import StatusColumn
from tests.storage.rows import NOW, add, message, new_member

# Every status column, and the strings the code wrote into it before the names existed.
SHIPPED = {
    ("flow_run", "status"): {"active", "paused", "completed", "cancelled", "expired"},
    ("outbox", "status"): {"pending", "sending", "sent", "failed", "cancelled"},
    ("outbox", "delivery_status"): {"sent", "failed", "delivered", "read"},
    ("due_work", "status"): {"pending", "running", "done", "skipped", "failed", "cancelled"},
    ("mentor_offer", "status"): {"offered", "accepted", "declined", "expired", "withdrawn"},
    ("mentorship", "status"): {"active", "ended"},
    ("mentor_request", "status"): {"waiting", "offered", "matched", "cancelled"},
    ("campaign", "state"): {
        "draft",
        "awaiting_approval",
        "planning",
        "scheduled",
        "sending",
        "done",
        "cancelled",
    },
    ("campaign_recipient", "status"): {
        "planned",
        "queued",
        "sent",
        "delivered",
        "read",
        "failed",
        "cancelled",
        "expired",
        "excluded",
    },
    ("failed_event", "status"): {"failed", "retried"},
}


def _status_columns() -> dict[tuple[str, str], Any]:
    return {
        (table.name, column.name): column.type
        for table in SQLModel.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, StatusColumn)
    }


def test_every_status_column_is_named_with_the_strings_it_always_held() -> None:
    columns = _status_columns()
    assert set(columns) == set(SHIPPED)
    for where, column_type in columns.items():
        enum: type[StrEnum] = column_type.enum
        assert {member.value for member in enum} == SHIPPED[where], where
        assert all(len(member.value) <= column_type.length for member in enum), where
        # sqlmodel's VARCHAR, of the length the migrations gave it
        assert isinstance(column_type.impl, AutoString)
        assert column_type.impl.length == column_type.length


def test_no_other_column_is_a_free_status_string() -> None:
    named = set(_status_columns())
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if column.name in ("status", "state", "delivery_status"):
                assert (table.name, column.name) in named or column.name == "state", column
    # flow_run.state is the run's JSON document, not a status.
    assert not isinstance(FlowRun.__table__.c.state.type, StatusColumn)  # type: ignore[attr-defined]


async def test_a_status_is_stored_as_its_string_and_read_back_as_its_member(db: Database) -> None:
    member_id = await new_member(db, "ada")
    run_id, outbox_id, work_id, request_id = await add(
        db,
        FlowRun(member_id=member_id, flow_id="welcome", status=RunStatus.PAUSED),
        message("k1", status=OutboxStatus.SENDING),
        DueWork(key="w1", kind="nudge", due_at=NOW + timedelta(hours=1)),
        MentorRequest(member_id=member_id),
    )
    async with db.reading() as session:
        raw = (
            await session.execute(
                text(
                    "SELECT (SELECT status FROM flow_run), (SELECT status FROM outbox),"
                    " (SELECT status FROM due_work), (SELECT status FROM mentor_request)"
                )
            )
        ).one()
        assert tuple(raw) == ("paused", "sending", "pending", "waiting")
        assert all(type(value) is str for value in raw)  # the driver's own strings
        run = await session.get(FlowRun, run_id)
        work = await session.get(DueWork, work_id)
        request = await session.get(MentorRequest, request_id)
        sent = await session.get(Outbox, outbox_id)
    assert run is not None and run.status is RunStatus.PAUSED
    assert work is not None and work.status is DueStatus.PENDING
    assert request is not None and request.status is RequestStatus.WAITING
    assert sent is not None and sent.status is OutboxStatus.SENDING and sent.status == "sending"
    assert sent.delivery_status is None


async def test_a_string_written_by_hand_reads_as_its_member(db: Database) -> None:
    member_id = await new_member(db, "ada")
    (run_id,) = await add(db, FlowRun(member_id=member_id, flow_id="welcome"))
    async with db.transaction() as session:
        await session.execute(text("UPDATE flow_run SET status = 'completed'"))
    async with db.reading() as session:
        found = (await session.execute(select(FlowRun.status))).scalar_one()
        completed = await session.execute(
            select(FlowRun.id).where(FlowRun.status == "completed")  # a plain string compares
        )
        assert completed.scalar_one() == run_id
    assert found is RunStatus.COMPLETED


async def test_a_string_no_status_has_never_reaches_a_row(db: Database) -> None:
    member_id = await new_member(db, "ada")
    await add(db, FlowRun(member_id=member_id, flow_id="welcome"))
    with pytest.raises(StatementError):
        async with db.transaction() as session:
            await session.execute(update(FlowRun).values(status="finished"))
    async with db.reading() as session:
        assert (await session.execute(text("SELECT status FROM flow_run"))).scalar_one() == "active"
