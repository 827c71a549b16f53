"""Newcomers going through the sample onboarding concurrently, through the memory adapter.

    python bench/dispatch.py [--members 1000] [--concurrency 16] [--backend sqlite|postgresql|both]

`concurrency` newcomers are mid-conversation at any moment; each answers as soon as the bot's
replies arrive, and a new newcomer joins when one finishes, until `members` have been through
the whole flow (a join and seven answers each). Prints JSON per backend: events/s, messages/s,
p50/p99 latency per event (from hand-over to the bot until its replies were delivered; every
event is committed before its replies go out) and the process's peak RSS.
PostgreSQL runs when ONRAMP_TEST_POSTGRES_URL (or --postgres-url) names a server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from adapters.memory import MemoryAdapter  # noqa: E402
from bot.events import Event, MemberJoined, MessageReceived  # noqa: E402
from bot.runtime import Onramp, tune_garbage_collector  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from tests.postgres import create_postgres_database, drop_postgres_database  # noqa: E402

# One newcomer's whole onboarding: the join, then an answer to every question.
ANSWERS = ["1", "Français", "Nairobi", "1, 4", "2", "5", "Oui"]


def _events(member: str) -> list[Event]:
    common: dict[str, Any] = {
        "platform": "memory",
        "actor": member,
        "conversation": member,
        "display_name": member,
    }
    events: list[Event] = [MemberJoined(dedupe_key=f"{member}:0", **common)]
    events += [
        MessageReceived(dedupe_key=f"{member}:{n}", text=answer, **common)
        for n, answer in enumerate(ANSWERS, start=1)
    ]
    return events


async def _newcomer(memory: MemoryAdapter, member: str, latencies: list[float]) -> None:
    assert memory.inbox is not None
    for event in _events(member):
        started = time.perf_counter()
        receipt = await memory.inbox(event)
        if receipt.settled is not None:
            await receipt.settled
        latencies.append(time.perf_counter() - started)


async def bench(backend: str, url: str, members: int, concurrency: int) -> dict[str, Any]:
    settings = load_settings(
        ROOT / "bot.toml", database={"url": url}, content={"path": ROOT / "content"}
    )
    memory = MemoryAdapter()
    app = await Onramp.create(settings, {"memory": memory})
    await app.start()
    tune_garbage_collector()  # as `onramp run` does
    latencies: list[float] = []
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        queue = iter(range(members))

        async def worker() -> None:
            for n in queue:
                await _newcomer(memory, f"newcomer-{n}", latencies)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        await app.stop()
    assert len(memory.sent) >= members * len(ANSWERS), "every newcomer must have been answered"
    ordered = sorted(latencies)
    return {
        "backend": backend,
        "members": members,
        "concurrency": concurrency,
        "events": len(latencies),
        "messages_sent": len(memory.sent),
        "seconds": round(elapsed, 3),
        "events_per_second": round(len(latencies) / elapsed, 1),
        "messages_per_second": round(len(memory.sent) / elapsed, 1),
        "latency_ms_p50": round(statistics.median(ordered) * 1000, 2),
        "latency_ms_p99": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
        # CPU time of the whole process (bot and load generator) per event: unlike events/s,
        # barely moved by other work on the machine.
        "cpu_ms_per_event": round(cpu / len(latencies) * 1000, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgres-url", default=os.environ.get("ONRAMP_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    results = []
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
            results.append(await bench("sqlite", url, args.members, args.concurrency))
    if args.backend in ("postgresql", "both"):
        if not args.postgres_url:
            results.append({"backend": "postgresql", "skipped": "set ONRAMP_TEST_POSTGRES_URL"})
        else:
            url = await create_postgres_database(args.postgres_url)
            try:
                results.append(await bench("postgresql", url, args.members, args.concurrency))
            finally:
                await drop_postgres_database(args.postgres_url, url)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
