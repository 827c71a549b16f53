"""Migration 0016 gives the mentor requests a database already has the moment they were
matched: the first offer the newcomer accepted at or after the request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from storage.models import MentorRequest
from tests.storage.rows import from_revision, old_members, opened

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """A database nobody has migrated yet (not the shared one of tests/storage/conftest.py)."""
    return empty_database_url


async def test_the_migration_finds_when_each_request_was_matched(database_url: str) -> None:
    hour = timedelta(hours=1)
    async with from_revision(database_url, "0015") as connection:
        people = dict(enumerate(("Ana", "Bo", "Mo", "Mia", "Max"), start=1))
        await old_members(connection, people, START)
        # Ana: declined, then accepted 3 hours after asking. Bo: only an offer, open.
        # An offer Ana accepted before her request (an earlier one) does not count.
        for member, status in ((1, "matched"), (2, "offered")):
            await connection.execute(
                text(
                    "INSERT INTO mentor_request (member_id, status, requested_at, updated_at)"
                    " VALUES (:member, :status, :at, :at)"
                ),
                {"member": member, "status": status, "at": START.replace(tzinfo=None)},
            )
        for newcomer, mentor, status, answered in (
            (1, 3, "accepted", START - 24 * hour),
            (1, 4, "declined", START + hour),
            (1, 5, "accepted", START + 3 * hour),
            (2, 3, "offered", None),
        ):
            await connection.execute(
                text(
                    "INSERT INTO mentor_offer (newcomer_id, mentor_id, status, offered_at,"
                    " expires_at, answered_at, score, reasons)"
                    " VALUES (:newcomer, :mentor, :status, :at, :at, :answered, 1.0, '[]')"
                ),
                {
                    "newcomer": newcomer,
                    "mentor": mentor,
                    "status": status,
                    "at": START.replace(tzinfo=None),
                    "answered": None if answered is None else answered.replace(tzinfo=None),
                },
            )
    async with opened(database_url) as db, db.reading() as session:
        rows = await session.execute(select(MentorRequest.member_id, MentorRequest.matched_at))
        found = {member_id: matched for member_id, matched in rows}
    assert found == {1: START + 3 * hour, 2: None}
