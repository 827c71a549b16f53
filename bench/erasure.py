"""An erasure in a large community: how long the one transaction of `onramp forget` (and of
/privacy erase) holds the database, which on SQLite is every other turn's wait.

    python bench/erasure.py [--members 100000] [--kudos 1000000] [--erase 5]
        [--backend sqlite|postgresql|both] [--postgres-url URL] [--sqlite-file PATH]

Seeds the year of a large community that `bench/metrics.py` measures (`bench/metrics_seed.py`:
members, runs and answers, mentorships, check-ins, kudos, campaigns), then erases `--erase`
members one after another, each in its own transaction as the CLI does: the member with the
most kudos received, one who mentored, and recent newcomers. Prints JSON: for each erasure its
wall and CPU seconds, and the rows the redaction rewrote in others' tables; the median and the
longest. The erasure reads every column that can hold a copy (storage/redaction.py), so its
cost grows with the tables, not with the member.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bench import backends  # noqa: E402
from bench.metrics_seed import seed_community  # noqa: E402
from storage import redaction  # noqa: E402
from storage.models import Kudos, Member, Mentorship  # noqa: E402
from storage.privacy import forget_member  # noqa: E402
from storage.session import Database  # noqa: E402


async def _chosen(db: Database, erase: int) -> list[int]:
    """The member thanked most, a mentor, then the newest members."""
    async with db.reading() as session:
        thanked = (
            await session.execute(
                select(Kudos.receiver_id)
                .where(Kudos.receiver_id.is_not(None))  # (None: a former member, erased)
                .group_by(Kudos.receiver_id)
                .order_by(func.count().desc())
                .limit(1)
            )
        ).scalar_one()
        mentor = (await session.execute(select(Mentorship.mentor_id).limit(1))).scalar_one()
        newest = (
            await session.execute(select(Member.id).order_by(Member.id.desc()).limit(erase))
        ).scalars()
    chosen = [thanked, mentor, *[m for m in newest if m not in (thanked, mentor)]]
    return chosen[:erase]


async def run(
    url: str, members: int, kudos: int, erase: int, reuse: bool = False
) -> dict[str, Any]:
    started = time.perf_counter()
    if reuse:  # a file seeded by an earlier run (--sqlite-file): its erasures go on from there
        rows: dict[str, int] = {}
    else:
        seeding = Database.from_url(url, sqlite_synchronous="OFF")  # a crash loses the bench
        rows = dict(await seed_community(seeding, members, kudos, 4))
        await seeding.dispose()
    seeded = time.perf_counter() - started
    db = Database.from_url(url)
    erasures = []
    redact = redaction.redact
    rewritten: list[int] = []

    async def counted(*args: Any, **kwargs: Any) -> int:
        changed = await redact(*args, **kwargs)
        rewritten.append(changed)
        return changed

    redaction.redact = counted  # type: ignore[assignment]
    try:
        for member_id in await _chosen(db, erase):
            wall, cpu = time.perf_counter(), time.process_time()
            async with db.transaction() as session:
                member = await session.get(Member, member_id)
                assert member is not None
                await forget_member(session, member, actor="bench")
            erasures.append(
                {
                    "member": member_id,
                    "seconds": round(time.perf_counter() - wall, 3),
                    "cpu_seconds": round(time.process_time() - cpu, 3),
                    "rows_rewritten": rewritten[-1],
                }
            )
    finally:
        redaction.redact = redact  # type: ignore[assignment]
        await db.dispose()
    seconds = [e["seconds"] for e in erasures]
    return {
        "members": members,
        "kudos": kudos,
        "seed_seconds": round(seeded, 1),
        "rows": {table: n for table, n in rows.items() if n},
        "erasures": erasures,
        "seconds_median": round(statistics.median(seconds), 3),
        "seconds_max": max(seconds),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--kudos", type=int, default=1_000_000)
    parser.add_argument("--erase", type=int, default=5)
    parser.add_argument(
        "--sqlite-file",
        type=Path,
        help="seed SQLite there and keep it; a later run with the same file reuses it",
    )
    backends.add_options(parser)
    args = parser.parse_args()
    if args.sqlite_file is not None and args.backend == "sqlite":
        reuse = args.sqlite_file.exists()
        url = f"sqlite+aiosqlite:///{args.sqlite_file}"
        result = await run(url, args.members, args.kudos, args.erase, reuse)
        print(json.dumps({"sqlite": result}, indent=2))
        return
    results = await backends.on_each(
        args, lambda url: run(url, args.members, args.kudos, args.erase)
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
