"""Every dashboard page and `onramp report` at 100,000 members.

    python bench/metrics.py [--members 100000] [--kudos 1000000] [--platforms 4]
        [--repeat 5] [--backend sqlite|postgresql|both] [--postgres URL]
        [--sqlite-file PATH] [--postgres-database NAME] [--reuse]

Seeds a year of a community (bench/metrics_seed.py: members on `platforms` platforms in the
six shipped languages, onboarding runs and answers, a year of daily activity, 1,000 mentors
with requests, offers, mentorships and check-ins, `kudos` kudos, badges, four campaigns and a
survey) into a new SQLite file, and into a new PostgreSQL database when `--postgres` (default:
ONRAMP_TEST_POSTGRES_URL) names a server. With "now" fixed at the end of that year, it
stores the closed days' sets of members as the running bot's hourly job does (timed, and
reported as `day_sets`; storage/health/daysets.py), then times each dashboard page as a
signed-in manager asks for it (the real routes, templates and queries, driven over ASGI by
httpx), and `onramp report` built in-process and written as JSON
and as the terminal tables, for the default 90-day period and for 365 days: one unmeasured
request first, then `repeat` measured ones; median and slowest in milliseconds.

With `--reuse`, a database kept by an earlier run (`--sqlite-file`, `--postgres-database`)
is measured again without seeding it anew (about 4 minutes each), after creating any index
storage/models.py names and it lacks.

SQLite is left as a deployment has it, never ANALYZEd (Onramp does not run it); PostgreSQL is
VACUUMed and ANALYZEd after the load, as its autovacuum does after so many inserts (the vacuum
marks the pages all-visible, which lets PostgreSQL answer from an index alone; without it, on
a freshly loaded table, every index read also visits the table). `--sqlite-analyze` ANALYZEs
SQLite too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from rich.console import Console  # noqa: E402
from sqlalchemy import event, text  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402

from bench.metrics_seed import NOW, PLATFORMS, seed_community  # noqa: E402
from bot.features import build_registry  # noqa: E402
from bot.health import day_sets  # noqa: E402
from bot.health.dashboard import routes  # noqa: E402
from bot.health.filters import parse_filters  # noqa: E402
from bot.health.report import Threshold, build, json_text, questions  # noqa: E402
from bot.health.report_tables import render  # noqa: E402
from bot.health.viewer import Viewer  # noqa: E402
from flows.content import ContentTree, load_tree_or_raise  # noqa: E402
from storage.health.types import Filters  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.session import Database  # noqa: E402
from tests.postgres import create_postgres_database, drop_postgres_database  # noqa: E402

PAGES = {
    "overview": "",
    "onboarding": "/onboarding",
    "mentorship": "/mentorship",
    "recognition": "/recognition",
    "retention": "/retention",
    "campaigns": "/campaigns",
    "at_risk": "/at-risk",
}
PERIODS = ("90d", "365d")
TARGET_MS = {"sqlite": 300, "postgresql": 500}  # issue 18: each page and the report
MANAGER = Viewer(1, "Member 1", "en", "UTC")


async def seed(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """The community in a fresh database; its row counts and how long it took. With `--reuse`
    and a database seeded before, only its counts (and any index storage/models.py gained)."""
    if args.reuse and await _seeded(url):
        # Brought to the head revision first: a migration since the seeding (0011's
        # milestones) fills in what it adds from the rows, as on an operator's database.
        db = Database.from_url(url)
        started = time.perf_counter()
        await upgrade(db.engine)
        migrated = time.perf_counter() - started
        await db.dispose()  # _rows settles PostgreSQL after the migration's rewrites
        return {
            "seed_seconds": 0.0,
            "upgrade_seconds": round(migrated, 1),
            "rows": await _rows(url),
            "reused": True,
        }
    # Loaded without waiting for the disk: a crash mid-seed only loses the benchmark.
    db = Database.from_url(url, sqlite_synchronous="OFF")
    started = time.perf_counter()
    counts = await seed_community(db, args.members, args.kudos, args.platforms)
    if not db.sqlite:
        await settle(db)
    elif args.sqlite_analyze:
        async with db.transaction() as session:
            await session.execute(text("ANALYZE"))
    seconds = time.perf_counter() - started
    await db.dispose()
    return {"seed_seconds": round(seconds, 1), "rows": dict(sorted(counts.items()))}


SEEDED_TABLES = ("member", "kudos", "member_activity")


async def settle(db: Database) -> None:
    """PostgreSQL after a load, as its autovacuum leaves it: VACUUM (pages marked all-visible,
    for index-only reads) and ANALYZE (the planner's statistics). Outside a transaction, which
    VACUUM refuses."""
    async with db.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE"))


async def _seeded(url: str) -> bool:
    db = Database.from_url(url)
    try:
        async with db.reading() as session:
            found = await session.execute(text("SELECT count(*) FROM member"))
            return bool(found.scalar_one())
    except Exception:  # no such table: an empty database
        return False
    finally:
        await db.dispose()


async def _rows(url: str) -> dict[str, int]:
    """The kept database's row counts, after creating the indexes storage/models.py names and
    the database lacks (so an index added since the seeding is measured without reseeding)."""
    from sqlmodel import SQLModel

    db = Database.from_url(url)
    async with db.engine.begin() as connection:
        for kept in SQLModel.metadata.sorted_tables:
            for index in kept.indexes:
                await connection.run_sync(index.create, checkfirst=True)
    if not db.sqlite:
        await settle(db)
    counts = {}
    async with db.reading() as session:
        for table in SEEDED_TABLES:
            found = await session.execute(text(f"SELECT count(*) FROM {table}"))
            counts[table] = int(found.scalar_one())
    await db.dispose()
    return counts


async def timed(call: Callable[[], Awaitable[None]], args: argparse.Namespace) -> dict[str, Any]:
    """One unmeasured call (it warms what a running server has warm: templates, compiled
    SQL, the database's pages), then `repeat` measured ones; a single one when a call takes
    over 10 s. A call still running after `timeout` is stopped and reported as such."""
    try:
        started = time.perf_counter()
        await within(call, args.timeout)
        runs = args.repeat if time.perf_counter() - started < 10 else 1
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            await within(call, args.timeout)
            times.append((time.perf_counter() - started) * 1000)
    except Exception as exc:  # a broken or endless page is a figure too: say which and why
        if time.perf_counter() - started >= args.timeout:
            return {"error": f"stopped after {args.timeout:g} s"}
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}
    return {
        "median_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
        "runs": runs,
    }


_SQLITE_CONNECTIONS: list[sqlite3.Connection] = []


@event.listens_for(Engine, "connect")
def _remember(connection: Any, _record: Any) -> None:
    if isinstance(connection, sqlite3.Connection):
        _SQLITE_CONNECTIONS.append(connection)


async def within(call: Callable[[], Awaitable[None]], seconds: float) -> None:
    """`call()`, stopped after `seconds`: SQLite runs on this thread, so a timer on another
    interrupts its statements; PostgreSQL's are cancelled with their task."""

    def interrupt() -> None:
        for connection in _SQLITE_CONNECTIONS:
            with contextlib.suppress(sqlite3.ProgrammingError):  # closed since
                connection.interrupt()

    timer = threading.Timer(seconds, interrupt)
    timer.start()
    try:
        await asyncio.wait_for(call(), seconds)
    finally:
        timer.cancel()


async def measure(url: str, content: ContentTree, args: argparse.Namespace) -> dict[str, Any]:
    db = Database.from_url(url)
    platforms = list(PLATFORMS[: args.platforms])
    onramp: Any = SimpleNamespace(
        content=content, clock=lambda: NOW, adapters=dict.fromkeys(platforms), db=db
    )

    async def signed_in(request: Request, _: Any) -> Viewer:
        return MANAGER

    app = Starlette(routes=routes(onramp, signed_in=signed_in))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
    asks = questions(content)
    results: dict[str, Any] = {}
    for period in PERIODS:
        filters = parse_filters(
            since=period, now=NOW, platforms=platforms, locales=content.community.locales
        )

        def page(path: str, period: str = period) -> Callable[[], Awaitable[None]]:
            async def get() -> None:
                response = await client.get(f"/dashboard{path}", params={"since": period})
                if response.status_code != 200 or "</html>" not in response.text:
                    raise RuntimeError(f"HTTP {response.status_code} for {path or '/'}")

            return get

        def report(form: str, filters: Filters = filters) -> Callable[[], Awaitable[None]]:
            async def make() -> None:
                async with db.reading() as session:
                    built = await build(session, filters, content.community.onboarding_flow, asks)
                if form == "json":
                    json_text(built, Threshold())
                else:
                    render(built, Threshold(), Console(file=io.StringIO(), width=120))

            return make

        figures = {name: await timed(page(path), args) for name, path in PAGES.items()}
        for form in ("json", "table"):
            figures[f"report_{form}"] = await timed(report(form), args)
        results[period] = figures
    await client.aclose()
    await db.dispose()
    return results


async def store_day_sets(url: str, onboarding_flow: str) -> dict[str, Any]:
    """What the running bot's hourly job does (bot/health/day_sets.py): the closed days' sets
    of members stored. The first time over a seeded year, then once more (nothing to do, as
    on every hour after the first)."""
    db = Database.from_url(url)
    try:
        started = time.perf_counter()
        days = await day_sets.fill(db, NOW, onboarding_flow)
        first = time.perf_counter() - started
        started = time.perf_counter()
        await day_sets.fill(db, NOW, onboarding_flow)
        again = time.perf_counter() - started
    finally:
        await db.dispose()
    return {"days_stored": days, "first_seconds": round(first, 2), "again_ms": round(again * 1000)}


async def run(database: str, url: str, content: ContentTree, args: argparse.Namespace) -> Any:
    seeded = await seed(url, args)
    stored = await store_day_sets(url, content.community.onboarding_flow)
    pages = await measure(url, content, args)
    over = sorted(
        f"{period}/{name}"
        for period, figures in pages.items()
        for name, figure in figures.items()
        if figure.get("max_ms", 0) > TARGET_MS[database] or "error" in figure
    )
    rows = seeded["rows"]
    return {
        "database": database,
        "members": rows.get("member", 0),
        "kudos": rows.get("kudos", 0),
        "activity_rows": rows.get("member_activity", 0),
        "seed_seconds": seeded["seed_seconds"],
        "reused": seeded.get("reused", False),
        "upgrade_seconds": seeded.get("upgrade_seconds", 0.0),
        "day_sets": stored,
        "rows": rows,
        "analyzed": database == "postgresql" or args.sqlite_analyze,
        "repeat": args.repeat,
        "target_ms": TARGET_MS[database],
        "pages": pages,
        "over_target": over,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--kudos", type=int, default=1_000_000)
    parser.add_argument("--platforms", type=int, choices=[2, 3, 4], default=4)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgres", default=os.environ.get("ONRAMP_TEST_POSTGRES_URL"))
    parser.add_argument("--sqlite-analyze", action="store_true")
    parser.add_argument("--timeout", type=float, default=60, help="seconds, per call")
    parser.add_argument("--sqlite-file", type=Path, help="keep the SQLite database there")
    parser.add_argument("--postgres-database", help="keep the PostgreSQL database under this name")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the kept database (--sqlite-file, --postgres-database) if it was seeded",
    )
    args = parser.parse_args()
    content = load_tree_or_raise(ROOT / "content", actions=build_registry().actions)
    results: dict[str, Any] = {
        "now": NOW.isoformat(),
        "measured": "each page over ASGI as a signed-in manager, and onramp report in-process, "
        "with since=90d and since=365d: one warm-up, then --repeat runs; milliseconds",
    }
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            file = args.sqlite_file or Path(folder) / "metrics.db"
            if args.sqlite_file and not args.reuse:
                file.unlink(missing_ok=True)
            results["sqlite"] = await run("sqlite", f"sqlite+aiosqlite:///{file}", content, args)
    if args.backend in ("postgresql", "both"):
        if not args.postgres:
            results["postgresql"] = "skipped: set ONRAMP_TEST_POSTGRES_URL or --postgres"
        else:
            if args.postgres_database:  # kept, and with --reuse seeded once
                named = make_url(args.postgres).set(database=args.postgres_database)
                kept = named.render_as_string(hide_password=False)
                if not args.reuse or not await _seeded(kept):
                    await drop_postgres_database(args.postgres, kept)
                    await create_postgres_database(args.postgres, args.postgres_database)
                results["postgresql"] = await run("postgresql", kept, content, args)
            else:
                url = await create_postgres_database(args.postgres)
                try:
                    results["postgresql"] = await run("postgresql", url, content, args)
                finally:
                    await drop_postgres_database(args.postgres, url)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
