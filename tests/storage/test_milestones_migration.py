"""Migration 0011 fills in the milestones of the members a database already has."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from storage.models import FlowMilestone, FlowRun, Kudos, Member, MemberActivity, MentorRequest
from storage.models import Mentorship as MentorshipRow
from tests.storage.rows import MEMBER_BEFORE_0013, from_revision, opened

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """A database nobody has migrated yet (not the shared one of tests/storage/conftest.py)."""
    return empty_database_url


def _at(days: int) -> datetime:
    return START + timedelta(days=days)


def _member(member_id: int) -> dict[str, Any]:
    return {
        "id": member_id,
        "display_name": f"m{member_id}",
        "roles": [],
        "profile": {},
        "opted_out": False,
        "created_at": START,
        "last_active_at": START,
    }


def _run(member_id: int, flow_id: str, status: str, finished: datetime | None) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "flow_id": flow_id,
        "state": {},
        "status": status,
        "started_at": START,
        "updated_at": finished or START,
        "finished_at": finished,
    }


def _kudos(giver: int, receiver: int, at: datetime, revoked: bool = False) -> dict[str, Any]:
    return {
        "giver_id": giver,
        "receiver_id": receiver,
        "category": "code",
        "reason": "thanks",
        "created_at": at,
        "revoked_at": _at(30) if revoked else None,
        "weight": 1.0,
        "shouted": False,
    }


async def test_the_migration_backfills_every_milestone(database_url: str) -> None:
    tables = {
        model: model.__table__  # type: ignore[attr-defined]
        for model in (FlowRun, MemberActivity, Kudos, MentorRequest, MentorshipRow)
    }
    async with from_revision(database_url, "0010") as connection:
        await connection.execute(MEMBER_BEFORE_0013.insert(), [_member(n) for n in (1, 2, 3)])
        await connection.execute(
            tables[FlowRun].insert(),
            [
                _run(1, "onboarding", "completed", _at(2)),
                _run(1, "onboarding", "completed", _at(0)),  # the first of two
                _run(2, "onboarding", "expired", _at(1)),  # not finished
                _run(2, "feedback", "completed", _at(1)),
            ],
        )
        days = [(1, 1), (1, 5), (1, 9), (1, 20), (2, 3), (2, 12)]  # (member, days after)
        await connection.execute(
            tables[MemberActivity].insert(),
            [
                {"member_id": m, "day": date(2026, 3, 2) + timedelta(days=n), "platform": "x"}
                for m, n in days
            ],
        )
        await connection.execute(
            tables[Kudos].insert(),
            [_kudos(2, 1, _at(4), revoked=True), _kudos(2, 1, _at(6)), _kudos(1, 2, _at(8))],
        )
        await connection.execute(
            tables[MentorRequest].insert(),
            [
                {
                    "member_id": 1,
                    "status": "matched",
                    "requested_at": _at(1),
                    "updated_at": _at(3),
                }
            ],
        )
        await connection.execute(
            tables[MentorshipRow].insert(),
            [
                {"newcomer_id": 1, "mentor_id": 3, "status": "active", "started_at": _at(5)},
                {"newcomer_id": 1, "mentor_id": 2, "status": "ended", "started_at": _at(3)},
            ],
        )

    async with opened(database_url) as db, db.reading() as session:
        members = {m.id: m for m in (await session.execute(select(Member))).scalars()}
        rows = (await session.execute(select(FlowMilestone))).scalars()
        flows = {(r.member_id, r.flow_id): (r.finished_at, r.retained_on) for r in rows}
    firsts = {
        n: (m.mentor_requested_at, m.first_matched_at, m.first_kudos_at) for n, m in members.items()
    }
    assert firsts == {
        1: (_at(1), _at(3), _at(6)),  # the revoked kudos is not the first
        2: (None, None, _at(8)),
        3: (None, None, None),
    }
    assert flows == {
        # Days 1 and 5 in week 0, day 9 in week 1: retained on day 9.
        (1, "onboarding"): (_at(0), date(2026, 3, 11)),
        # Finished feedback on day 1; days 3 (week 0) and 12 (week 1): retained on day 12.
        (2, "feedback"): (_at(1), date(2026, 3, 14)),
    }
