"""The kudos' running totals (storage/tallies.py) and the leaderboards that read them: kept by
every kudos given and revoked and by a member forgotten, the same as the kudos themselves
(worked out by hand below, and by `rebuild`), for all time and for periods whose start cuts
a day. (Migration 0015 fills them from the kudos a database has: test_tallies_migration.py.)"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from storage import recognition, tallies
from storage.health.daysets import first_whole_day
from storage.models import KudosDayTotal, KudosTotal, KudosWindow, Member
from storage.privacy import forget_member
from storage.session import Database
from tests.storage.rows import add, thank

NOW = datetime(2026, 3, 20, 15, 0, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


async def people(db: Database, *names: str) -> list[int]:
    return await add(db, *(Member(display_name=name) for name in names))


async def give(
    db: Database, giver: int, receiver: int, when: datetime, category: str, weight: float = 1.0
) -> int:
    async with db.transaction() as session:
        return await thank(session, giver, receiver, when, category, weight)


async def board(
    db: Database, since: datetime | None, category: str | None = None
) -> list[tuple[str, float, int]]:
    async with db.reading() as session:
        found = await recognition.leaderboard(session, since, category, limit=10)
    return [(row.name, row.points, row.kudos) for row in found]


async def rows(db: Database) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    async with db.reading() as session:
        ever = (
            await session.execute(
                select(
                    KudosTotal.member_id, KudosTotal.category, KudosTotal.points, KudosTotal.kudos
                )
                .where(KudosTotal.kudos != 0)
                .order_by(KudosTotal.member_id, KudosTotal.category)
            )
        ).all()
        daily = (
            await session.execute(
                select(
                    KudosDayTotal.day,
                    KudosDayTotal.category,
                    KudosDayTotal.member_id,
                    KudosDayTotal.points,
                    KudosDayTotal.kudos,
                )
                .where(KudosDayTotal.kudos != 0)
                .order_by(KudosDayTotal.day, KudosDayTotal.category, KudosDayTotal.member_id)
            )
        ).all()
    return [tuple(row) for row in ever], [tuple(row) for row in daily]


async def windows(db: Database) -> list[tuple[object, ...]]:
    """Each member's and category's week and month totals that are not 0."""
    async with db.reading() as session:
        found = await session.execute(
            select(
                KudosTotal.member_id,
                KudosTotal.category,
                KudosTotal.week_points,
                KudosTotal.week_kudos,
                KudosTotal.month_points,
                KudosTotal.month_kudos,
            )
            .where((KudosTotal.week_kudos != 0) | (KudosTotal.month_kudos != 0))
            .order_by(KudosTotal.member_id, KudosTotal.category)
        )
    return [tuple(row) for row in found]


async def assert_rebuild_agrees(db: Database) -> None:
    kept = await rows(db), await windows(db)
    async with db.engine.begin() as connection:
        await connection.run_sync(tallies.rebuild)
    assert (await rows(db), await windows(db)) == kept


async def community(db: Database) -> dict[str, int]:
    """Ana gives to everyone; Bo and Cy give back. By hand, the live kudos (weight):
    - Bo: code 40 days ago (1), docs 10 days ago (2), code 2 days and 20 hours ago (1),
      design 3 hours ago (1), and one revoked below (docs, 1 day ago);
    - Cy: code 8 days ago (1), code 6 days and 22 hours ago (1.5), docs 1 hour ago (1);
    - Ana: code from Bo 31 days ago (1), code from Cy 29 days ago (1)."""
    ana, bo, cy = await people(db, "Ana", "Bo", "Cy")
    await give(db, ana, bo, ago(40), "code")
    await give(db, ana, bo, ago(10), "docs", 2.0)
    await give(db, ana, bo, ago(2) - timedelta(hours=20), "code")
    await give(db, ana, bo, ago(0.125), "design")
    revoked = await give(db, ana, bo, ago(1), "docs")
    await give(db, ana, cy, ago(8), "code")
    await give(db, ana, cy, ago(7) + timedelta(hours=2), "code", 1.5)
    await give(db, ana, cy, ago(1 / 24), "docs")
    await give(db, bo, ana, ago(31), "code")
    await give(db, cy, ana, ago(29), "code")
    async with db.transaction() as session:
        assert await recognition.revoke(session, revoked, by=ana, now=NOW)
    return {"ana": ana, "bo": bo, "cy": cy}


async def test_all_time_and_each_category(db: Database) -> None:
    await community(db)
    assert await board(db, None) == [("Bo", 5.0, 4), ("Cy", 3.5, 3), ("Ana", 2.0, 2)]
    assert await board(db, None, "code") == [("Cy", 2.5, 2), ("Ana", 2.0, 2), ("Bo", 2.0, 2)]
    assert await board(db, None, "docs") == [("Bo", 2.0, 1), ("Cy", 1.0, 1)]
    assert await board(db, None, "testing") == []
    await assert_rebuild_agrees(db)


@pytest.mark.parametrize(
    ("days", "category", "expected"),
    [
        # The week starts 7 days ago at 15:00: Cy's 1.5 (6 days 22 hours ago, at 17:00 on the
        # day the week starts) counts; his kudos of 8 days ago does not.
        (7, None, [("Cy", 2.5, 2), ("Bo", 2.0, 2)]),
        (7, "code", [("Cy", 1.5, 1), ("Bo", 1.0, 1)]),
        # The month (30 days): Cy's gift to Ana 29 days ago counts, Bo's of 31 days ago not.
        (30, None, [("Bo", 4.0, 3), ("Cy", 3.5, 3), ("Ana", 1.0, 1)]),
        (30, "docs", [("Bo", 2.0, 1), ("Cy", 1.0, 1)]),
        # From 3 hours ago (within today): Bo's design and Cy's docs.
        (0.125, None, [("Bo", 1.0, 1), ("Cy", 1.0, 1)]),
    ],
)
async def test_a_period_counts_the_part_of_its_first_day_by_the_instant(
    db: Database, days: float, category: str | None, expected: list[tuple[str, float, int]]
) -> None:
    await community(db)
    assert await board(db, ago(days), category) == expected


async def test_forgetting_a_member_keeps_the_kudos_they_gave_in_the_others_totals(
    db: Database,
) -> None:
    ids = await community(db)
    async with db.transaction() as session:
        member = await session.get(Member, ids["bo"])
        assert member is not None
        await forget_member(session, member, actor="cli")
    # Bo is off the boards; the kudos he gave Ana (31 days ago) still count for her.
    assert await board(db, None) == [("Cy", 3.5, 3), ("Ana", 2.0, 2)]
    assert await board(db, ago(30)) == [("Cy", 3.5, 3), ("Ana", 1.0, 1)]
    ever, daily = await rows(db)
    assert all(row[0] != ids["bo"] for row in ever)
    assert all(row[2] != ids["bo"] for row in daily)
    await assert_rebuild_agrees(db)


async def ranked(
    db: Database, now: datetime, period: str, category: str | None, *, window: bool
) -> list[tuple[str, float, int]]:
    """The first 3 places of `period` (and ties) at `now`: read from the window's totals (in a
    transaction that may move it on) or, without `window`, by adding up day totals."""
    since = now - timedelta(days=tallies.WINDOWS[period])
    async with db.transaction() as session:
        found = await recognition.leaderboard(
            session, since, category, limit=3, window=period if window else None, roll=window
        )
        if window:  # it was read from the window, moved on to the period's first whole day
            first = (
                await session.execute(
                    select(KudosWindow.first_day).where(KudosWindow.period == period)
                )
            ).scalar()
            assert first == first_whole_day(since)
    return [(row.name, row.points, row.kudos) for row in found]


async def assert_windows_rank_as_the_days(db: Database, now: datetime) -> None:
    for period in tallies.WINDOWS:
        for category in (None, "code", "docs"):
            expected = await ranked(db, now, period, category, window=False)
            assert await ranked(db, now, period, category, window=True) == expected, (
                now,
                period,
                category,
            )


async def test_the_week_and_the_month_read_from_their_windows_rank_as_the_day_totals(
    db: Database,
) -> None:
    """Kudos over 45 days, then 12 steps of 19 hours, each giving and revoking some (of days
    inside and outside the windows), and one member forgotten: at each step both windows,
    moved on by the leaderboard, rank as the day totals do (ties at the last place included:
    the weights make many)."""
    rng = random.Random(18)
    ids = await people(db, "Ana", "Bo", "Cy", "Di", "Ed", "Fay", "Gus")
    given: list[int] = []

    async def some(count: int, now: datetime, back: float) -> None:
        async with db.transaction() as session:
            for _ in range(count):
                giver, receiver = rng.sample(ids, 2)
                when = now - timedelta(hours=rng.uniform(0, back * 24))
                category = rng.choice(["code", "docs", "design"])
                weight = rng.choice([1.0, 1.0, 0.5, 1.5])
                given.append(await thank(session, giver, receiver, when, category, weight))

    await some(250, NOW, 45)
    now = NOW
    for step in range(12):
        now += timedelta(hours=19)
        await some(6, now, 1)
        async with db.transaction() as session:
            for kudos_id in rng.sample(given, 3):  # some already revoked: nothing happens
                await recognition.revoke(session, kudos_id, by=ids[0], now=now)
        if step == 6:
            async with db.transaction() as session:
                member = await session.get(Member, ids[3])
                assert member is not None
                await forget_member(session, member, actor="cli")
            ids.remove(ids[3])
        await assert_windows_rank_as_the_days(db, now)
    await assert_rebuild_agrees(db)


async def test_a_window_ahead_of_the_clock_is_worked_out_anew(db: Database) -> None:
    """A clock set back (or another replica's, a moment behind at midnight) asks for a window
    that starts before the one kept: it is worked out again from the day totals."""
    await community(db)
    await assert_windows_rank_as_the_days(db, NOW + timedelta(days=6))
    await assert_windows_rank_as_the_days(db, NOW)


async def test_a_read_only_transaction_on_a_new_day_adds_the_days_up(db: Database) -> None:
    """Reading cannot move a window on: on a day after the window's, it adds the day totals
    up instead, and ranks the same."""
    await community(db)
    await assert_windows_rank_as_the_days(db, NOW)
    later = NOW + timedelta(days=2)
    since = later - timedelta(days=7)
    async with db.reading() as session:
        assert not await tallies.window_from(session, "week", first_whole_day(since), roll=False)
        found = await recognition.leaderboard(session, since, None, window="week", roll=False)
    assert [(row.name, row.points, row.kudos) for row in found] == await ranked(
        db, later, "week", None, window=False
    )
