"""A burst of check-ins falling due at once, among many stored, through the memory adapter.

    python bench/checkins.py [--pairs 5000] [--later 9] [--backend sqlite|postgresql|both]

Stores `pairs` mentorships and, for each of their 2 × pairs people, one check-in due now and
`later` more due in the weeks after (defaults: 10,000 due now among 100,000 pending). Then
the runtime (due-work claimer, check-in flow, outbox, sender) delivers the burst through the
memory adapter. Prints JSON per backend: seconds to store, seconds to deliver the burst,
check-ins per second, peak RSS, and the checks: every person asked exactly once, nothing
else sent, the later check-ins still pending. PostgreSQL runs when ONRAMP_TEST_POSTGRES_URL
(or --postgres-url) names a server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from adapters.memory import MemoryAdapter  # noqa: E402
from bench import backends  # noqa: E402
from bot.runtime import Onramp, tune_garbage_collector  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import CheckIn, DueWork  # noqa: E402
from storage.session import Database  # noqa: E402
from tests.bot.checkin_burst import seed  # noqa: E402


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(url: str, pairs: int, later: int) -> dict[str, object]:
    db = Database.from_url(url)
    await upgrade(db.engine)
    now = datetime.now(UTC)
    started = time.perf_counter()
    await seed(db, pairs=pairs, later=later, now=now, platform="memory")
    stored = time.perf_counter() - started
    async with db.reading() as session:
        pending = (
            await session.execute(select(func.count()).where(DueWork.status == "pending"))
        ).scalar_one()
    await db.dispose()

    settings = load_settings(
        ROOT / "bot.toml",
        database={"url": url},
        content={"path": ROOT / "content"},
        clock={"tick_seconds": 3600},
    )
    memory = MemoryAdapter()
    onramp = await Onramp.create(settings, {"memory": memory})
    await onramp.start()
    tune_garbage_collector()
    burst = 2 * pairs
    started, cpu_started = time.perf_counter(), time.process_time()
    while await onramp.timers.tick():
        pass
    ticked, ticked_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    for _ in range(60_000):  # the sender delivers in tasks of its own; at most 10 minutes
        if len(memory.sent) >= burst:
            break
        await asyncio.sleep(0.01)
    delivered, delivered_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    await asyncio.sleep(0.5)  # anything extra would show now
    async with onramp.db.reading() as session:
        asked = (await session.execute(select(func.count()).select_from(CheckIn))).scalar_one()
        still = (
            await session.execute(select(func.count()).where(DueWork.status == "pending"))
        ).scalar_one()
    await onramp.stop()
    per_person = Counter(m.recipient for m in memory.sent)
    return {
        "pending_stored": pending,
        "burst": burst,
        "store_seconds": round(stored, 2),
        "deliver_seconds": round(delivered, 2),
        "due_work_seconds": round(ticked, 2),  # claimed, run and committed (queued to send)
        # CPU per check-in moves far less with the machine's load than seconds do
        "due_work_cpu_ms_per_checkin": round(ticked_cpu * 1000 / burst, 3),
        "cpu_ms_per_checkin": round(delivered_cpu * 1000 / burst, 3),
        "checkins_per_second": round(burst / delivered, 1),
        "delivered": len(memory.sent),
        "everyone_once": len(per_person) == burst and set(per_person.values()) == {1},
        "checkins_recorded": asked,
        "later_still_pending": still,
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument("--later", type=int, default=9)
    backends.add_options(parser)
    args = parser.parse_args()
    print(
        json.dumps(
            await backends.on_each(args, lambda url: run(url, args.pairs, args.later)), indent=2
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
