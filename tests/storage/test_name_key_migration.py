"""Migration 0013 gives the members a database already has their name key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from storage.models import Member
from tests.storage.rows import from_revision, old_members, opened

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
NAMES = {1: "Élodie  Dupont", 2: "", 3: "ΣΟΦΊΑ", 4: "ﬁona"}  # ﬁ: one ligature character


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """A database nobody has migrated yet (not the shared one of tests/storage/conftest.py)."""
    return empty_database_url


async def test_the_migration_works_out_every_member_s_name_key(database_url: str) -> None:
    async with from_revision(database_url, "0012") as connection:
        await old_members(connection, NAMES, START)
    async with opened(database_url) as db, db.reading() as session:
        keys = dict((await session.execute(select(Member.id, Member.name_key))).all())
    assert keys == {1: "élodie dupont", 2: "", 3: "σοφία", 4: "fiona"}
