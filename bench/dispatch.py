"""Newcomers going through the sample onboarding concurrently, through the memory adapter.

    python bench/dispatch.py [--members 1000] [--mode closed|open|both]
        [--concurrency 16] [--rate 1000] [--postgres-rate 150] [--backend sqlite|postgresql|both]
        [--driver-time]

`members` newcomers go through the whole flow (a join and seven answers each), in two modes:
- closed loop: `concurrency` newcomers mid-conversation at any moment, each answering as soon
  as the bot's replies arrive: the most events/s the bot can do;
- open loop: many newcomers at once, each thinking a second on average before answering,
  together sending `rate` events per second: the latency at that load.
Prints JSON per backend and mode: events/s, messages/s, p50/p99 latency per event (from
hand-over to the bot until its replies were delivered; every event is committed before its
replies go out), CPU per event and the process's peak RSS. PostgreSQL runs when
ONRAMP_TEST_POSTGRES_URL (or --postgres-url) names a server. With `--driver-time`, SQLite's runs
also report the CPU SQLite itself spent per event (bench/driver_time.py).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from adapters.memory import MemoryAdapter  # noqa: E402
from bench import driver_time  # noqa: E402
from bot.events import Event, MemberJoined, MessageReceived  # noqa: E402
from bot.runtime import Onramp, tune_garbage_collector  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from tests.postgres import create_postgres_database, drop_postgres_database  # noqa: E402

# One newcomer's whole onboarding: the join, then an answer to every question.
ANSWERS = ["Français", "1", "Nairobi", "1, 4", "1", "2", "5", "Oui, volontiers"]


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


async def deliver(memory: MemoryAdapter, event: Event) -> None:
    assert memory.inbox is not None
    receipt = await memory.inbox(event)
    if receipt.settled is not None:
        await receipt.settled


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def measure(self) -> Measuring:
        return Measuring(self)


class Measuring:
    """Times the measured part of a run, wall clock and CPU."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def __enter__(self) -> None:
        self.started, self.cpu_started = time.perf_counter(), time.process_time()
        driver_time.DRIVER.reset()

    def __exit__(self, *exc: object) -> None:
        self.run.seconds = time.perf_counter() - self.started
        self.run.cpu_seconds = time.process_time() - self.cpu_started


async def closed_loop(memory: MemoryAdapter, members: int, concurrency: int) -> Run:
    """`concurrency` newcomers at a time, each answering the moment the bot has replied: the
    most the bot can do. By Little's law the mean latency is then concurrency / throughput."""
    run = Run()
    queue = iter(range(members))

    async def worker() -> None:
        for n in queue:
            for event in _events(f"newcomer-{n}"):
                started = time.perf_counter()
                await deliver(memory, event)
                run.latencies.append(time.perf_counter() - started)

    with run.measure():
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return run


async def open_loop(memory: MemoryAdapter, members: int, rate: float) -> Run:
    """Many newcomers at once, each reading the bot's reply and thinking a while (random, one
    second on average) before answering, so that together they send `rate` events a second
    whatever the bot's pace, as members of a busy community do; a new newcomer arrives as one
    finishes. Before the measured part, each of them is brought, unmeasured, to a random point
    of their conversation, as in a steady state (not everybody joining in the first second).
    The measured part lasts as long as `members` newcomers' events take at that rate. Latency
    counts from the moment the newcomer sends; the think time is not part of it."""
    loop = asyncio.get_running_loop()
    run = Run()
    mean_think = 1.0
    per_newcomer = len(ANSWERS) + 1
    population = max(1, round(rate * mean_think))  # newcomers mid-conversation at any moment
    names = (f"newcomer-{n}" for n in itertools.count())
    random.seed(1)
    started: list[list[Event]] = []
    for _ in range(population):
        events = _events(next(names))
        for event in events[: random.randrange(per_newcomer)]:
            await deliver(memory, event)  # warm-up, unmeasured
            events = events[1:]
        started.append(events)
    deadline = loop.time() + members * per_newcomer / rate

    async def newcomer(events: list[Event]) -> None:
        while True:
            for event in events:
                think = random.expovariate(1 / mean_think)
                if loop.time() + think >= deadline:
                    return
                await asyncio.sleep(think)
                sent = time.perf_counter()
                await deliver(memory, event)
                run.latencies.append(time.perf_counter() - sent)
            events = _events(next(names))

    with run.measure():
        await asyncio.gather(*(newcomer(events) for events in started))
    return run


async def bench(
    backend: str,
    url: str,
    members: int,
    concurrency: int,
    rate: float | None,
    driver: bool = False,
) -> dict[str, Any]:
    settings = load_settings(
        ROOT / "bot.toml", database={"url": url}, content={"path": ROOT / "content"}
    )
    memory = MemoryAdapter()
    app = await Onramp.create(settings, {"memory": memory})
    await app.start()
    tune_garbage_collector()  # as `onramp run` does
    try:
        if rate is None:
            run = await closed_loop(memory, members, concurrency)
        else:
            run = await open_loop(memory, members, rate)
    finally:
        await app.stop()
    events = len(run.latencies)
    assert len(memory.sent) >= events, "every event must have been answered"
    ordered = sorted(run.latencies)
    load = {"concurrency": concurrency} if rate is None else {"offered_events_per_second": rate}
    return {
        "backend": backend,
        "mode": "closed" if rate is None else "open",
        **load,
        "members": members,
        "events": events,
        "seconds": round(run.seconds, 3),
        "events_per_second": round(events / run.seconds, 1),
        "latency_ms_p50": round(statistics.median(ordered) * 1000, 2),
        "latency_ms_p99": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
        # CPU time of the whole process (bot and load generator) per event: unlike events/s,
        # barely moved by other work on the machine.
        "cpu_ms_per_event": round(run.cpu_seconds / events * 1000, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        **(driver_time.DRIVER.per_event(events) if driver and backend == "sqlite" else {}),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--mode", choices=["closed", "open", "both"], default="both")
    parser.add_argument("--concurrency", type=int, default=16, help="closed loop")
    parser.add_argument("--rate", type=float, default=1000, help="open loop, events/s, SQLite")
    parser.add_argument(
        "--postgres-rate", type=float, default=150, help="open loop, events/s, PostgreSQL"
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgres-url", default=os.environ.get("ONRAMP_TEST_POSTGRES_URL"))
    parser.add_argument(
        "--driver-time",
        action="store_true",
        help="also report the CPU SQLite itself spends per event (bench/driver_time.py)",
    )
    args = parser.parse_args()
    if args.driver_time:
        driver_time.install()
    modes = {"closed": ["closed"], "open": ["open"], "both": ["closed", "open"]}[args.mode]
    results = []
    if args.backend in ("sqlite", "both"):
        for mode in modes:
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
                rate = args.rate if mode == "open" else None
                results.append(
                    await bench(
                        "sqlite", url, args.members, args.concurrency, rate, args.driver_time
                    )
                )
    if args.backend in ("postgresql", "both"):
        if not args.postgres_url:
            results.append({"backend": "postgresql", "skipped": "set ONRAMP_TEST_POSTGRES_URL"})
        for mode in modes if args.postgres_url else []:
            url = await create_postgres_database(args.postgres_url)
            rate = args.postgres_rate if mode == "open" else None
            try:
                results.append(await bench("postgresql", url, args.members, args.concurrency, rate))
            finally:
                await drop_postgres_database(args.postgres_url, url)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
