"""Migration 0013 gives the members a database already has their name key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from storage.database import create_engine
from storage.migrate import upgrade
from storage.models import Member
from storage.session import Database
from tests.storage.rows import old_members

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
NAMES = {1: "Élodie  Dupont", 2: "", 3: "ΣΟΦΊΑ", 4: "ﬁona"}  # ﬁ: one ligature character


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """A database nobody has migrated yet (not the shared one of tests/storage/conftest.py)."""
    return empty_database_url


async def test_the_migration_works_out_every_member_s_name_key(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine, "0012")
        async with engine.begin() as connection:
            await old_members(connection, NAMES, START)
        await upgrade(engine)
    finally:
        await engine.dispose()
    db = Database.from_url(database_url)
    try:
        async with db.reading() as session:
            keys = dict((await session.execute(select(Member.id, Member.name_key))).all())
    finally:
        await db.dispose()
    assert keys == {1: "élodie dupont", 2: "", 3: "σοφία", 4: "fiona"}
