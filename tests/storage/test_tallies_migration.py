"""Migrations 0015 and 0018 fill the kudos' running totals (ever, per day, and the week's and
the month's windows) from the kudos a database already has."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from storage.models import KudosWindow
from tests.storage.rows import from_revision, old_members, opened
from tests.storage.test_tallies import ago, assert_rebuild_agrees, rows, windows


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """A database nobody has migrated yet, for the migration's test (the others only read
    it through `db`, which migrates it)."""
    return empty_database_url


async def test_the_migration_fills_the_totals_from_the_kudos(database_url: str) -> None:
    async with from_revision(database_url, "0014") as connection:
        await old_members(connection, {1: "Ana", 2: "Bo"}, ago(50))
        for given, category, weight, revoked in (
            (ago(3), "code", 1.0, None),
            (ago(3) + timedelta(hours=1), "docs", 2.0, None),
            (ago(1), "code", 1.0, ago(0.5)),
        ):
            await connection.execute(
                text(
                    "INSERT INTO kudos (giver_id, receiver_id, category, reason, created_at,"
                    " weight, shouted, revoked_at) VALUES (1, 2, :category, 'x', :given,"
                    " :weight, :shouted, :revoked)"
                ),
                {
                    "category": category,
                    "given": given.replace(tzinfo=None),
                    "weight": weight,
                    "shouted": False,
                    "revoked": None if revoked is None else revoked.replace(tzinfo=None),
                },
            )
    async with opened(database_url) as db:
        ever, daily = await rows(db)
        day = ago(3).date()
        assert ever == [(2, "", 3.0, 2), (2, "code", 1.0, 1), (2, "docs", 2.0, 1)]
        assert daily == [(day, "", 2, 3.0, 2), (day, "code", 2, 1.0, 1), (day, "docs", 2, 2.0, 1)]
        # The windows, placed as on the last day with kudos, hold them all.
        async with db.reading() as session:
            first = dict(
                (await session.execute(select(KudosWindow.period, KudosWindow.first_day))).all()
            )
        assert first == {"week": day - timedelta(days=6), "month": day - timedelta(days=29)}
        assert await windows(db) == [
            (2, "", 3.0, 2, 3.0, 2),
            (2, "code", 1.0, 1, 1.0, 1),
            (2, "docs", 2.0, 1, 2.0, 1),
        ]
        await assert_rebuild_agrees(db)
