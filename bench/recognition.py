"""Leaderboards and the kudos rules' counts at 1,000,000 kudos.

    python bench/recognition.py [--kudos 1000000] [--members 5000]
        [--backend sqlite|postgresql|both]

Stores `kudos` kudos among `members` members over the last year (a few receive most, as in
real communities; 2% revoked), then times each query the bot runs: the leaderboards for a
week, a month and all time (and a month in one category), a member's own summary, and the
counts checked before every new kudos (given today, to this person this week, both ways in
the reciprocal window). On PostgreSQL the tables are VACUUMed and ANALYZEd after the load,
as its autovacuum would (pages marked all-visible, for index-only reads).

The week's and the month's are read as `/kudos top` reads them, from their windows' running
totals in a transaction that may move them on; `*_adding_days` times the way a read-only
transaction on a new day reads them (adding the day totals up), and `moving_on_a_day` the
month's window moved on by one day (the first `/kudos top` of a day; rolled back after each
run). Prints JSON per backend: seconds to store, and each query's median and worst over 20
runs, in milliseconds. PostgreSQL runs when ONRAMP_TEST_POSTGRES_URL (or --postgres-url)
names a server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from bench import backends  # noqa: E402
from bench.metrics import settle  # noqa: E402
from storage import recognition as store  # noqa: E402
from storage import tallies  # noqa: E402
from storage.health import daysets  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Kudos, Member  # noqa: E402
from storage.session import Database  # noqa: E402

CATEGORIES = ["code", "docs", "design", "translation", "data", "testing", "outreach", "helping"]
CHUNK = 20_000
RUNS = 20


async def seed(db: Database, kudos: int, members: int, now: datetime) -> None:
    rng = random.Random(7)
    async with db.transaction() as session:
        created = await session.execute(
            insert(Member.__table__).returning(Member.__table__.c.id),  # type: ignore[attr-defined]
            [{"display_name": f"Member {n}", "roles": [], "profile": {}} for n in range(members)],
        )
        ids = sorted(created.scalars())
    weights = [1 / (rank + 1) ** 0.8 for rank in range(members)]  # a long tail
    for start in range(0, kudos, CHUNK):
        size = min(CHUNK, kudos - start)
        receivers = rng.choices(ids, weights=weights, k=size)
        rows = []
        for receiver in receivers:
            giver = rng.choice(ids)
            created_at = now - timedelta(seconds=rng.randrange(365 * 86400))
            rows.append(
                {
                    "giver_id": giver,
                    "receiver_id": receiver,
                    "category": rng.choice(CATEGORIES),
                    "reason": "for a very helpful contribution",
                    "created_at": created_at,
                    "weight": 1.0 if rng.random() > 0.05 else 0.5,
                    "shouted": False,
                    "revoked_at": now if rng.random() < 0.02 else None,
                }
            )
        async with db.transaction() as session:
            await session.execute(insert(Kudos.__table__), rows)  # type: ignore[attr-defined]
    async with db.engine.begin() as connection:  # loaded in bulk: their running totals
        await connection.run_sync(tallies.rebuild)
    async with db.transaction() as session:  # the windows placed on today (a first roll)
        for period, days in tallies.WINDOWS.items():
            since = now - timedelta(days=days)
            await store.leaderboard(session, since, None, window=period, roll=True)
    if db.sqlite:
        async with db.transaction() as session:
            await session.execute(text("ANALYZE"))
    else:  # as its autovacuum leaves it after a load
        await settle(db)


class _Undone(Exception):
    """Raised to roll a timed transaction back."""


async def timed(
    db: Database, query: Callable[[Any], Awaitable[object]], *, writing: bool = False
) -> dict[str, float]:
    """`query`'s median and worst time over RUNS runs: in a read-only transaction, or in a
    writing one (as a turn's), rolled back after each run (nothing it wrote stays)."""
    times = []
    for _ in range(RUNS):
        if not writing:
            async with db.reading() as session:
                started = time.perf_counter()
                await query(session)
                times.append((time.perf_counter() - started) * 1000)
            continue
        try:
            async with db.transaction() as session:
                started = time.perf_counter()
                await query(session)
                times.append((time.perf_counter() - started) * 1000)
                raise _Undone
        except _Undone:
            pass
    return {"median_ms": round(statistics.median(times), 2), "max_ms": round(max(times), 2)}


def top(since: datetime, period: str, category: str | None = None) -> Any:
    """The leaderboard of `period` as `/kudos top` reads it."""
    return lambda s: store.leaderboard(s, since, category, window=period, roll=True)


async def run(url: str, kudos: int, members: int) -> dict[str, Any]:
    db = Database.from_url(url)
    await upgrade(db.engine)
    now = datetime.now(UTC)
    started = time.perf_counter()
    await seed(db, kudos, members, now)
    stored = time.perf_counter() - started
    top_member, giver = 1, 2
    week, month = now - timedelta(days=7), now - timedelta(days=30)
    queries: dict[str, Callable[[Any], Awaitable[object]]] = {
        "top_week": top(week, "week"),
        "top_month": top(month, "month"),
        "top_all": lambda s: store.leaderboard(s, None, None),
        "top_month_in_a_category": top(month, "month", "translation"),
        "top_week_adding_days": lambda s: store.leaderboard(s, week, None),
        "top_month_adding_days": lambda s: store.leaderboard(s, month, None),
        "moving_on_a_day": lambda s: tallies.window_from(
            s, "month", daysets.first_whole_day(month) + timedelta(days=1), roll=True
        ),
        "own_summary": lambda s: store.received_by_category(s, top_member),
        "rules": lambda s: store.rule_counts(s, giver, top_member, now, timedelta(days=30)),
    }
    results: dict[str, Any] = {
        "kudos": kudos,
        "members": members,
        "store_seconds": round(stored, 1),
    }
    writing = {"top_week", "top_month", "top_month_in_a_category", "moving_on_a_day"}
    for name, query in queries.items():
        results[name] = await timed(db, query, writing=name in writing)
    await db.dispose()
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kudos", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=5_000)
    backends.add_options(parser)
    args = parser.parse_args()
    print(
        json.dumps(
            await backends.on_each(args, lambda url: run(url, args.kudos, args.members)), indent=2
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
