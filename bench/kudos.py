"""Kudos, one at a time, as members type them: the workload errbot and opsdroid were measured on.

    python bench/kudos.py [--members 100] [--kudos 5000] [--warmup 500]
        [--backend sqlite|postgresql|both] [--postgres-url URL] [--driver-time]

The database is migrated first by `onramp db upgrade` in a process of its own, as a deployment
does. `members` members join and finish the sample onboarding (unmeasured). Then `warmup`
kudos (unmeasured) and `kudos` measured ones are typed one after another, each
`/kudos [Name](member:id) for … #category` from a random member to another, through the
memory adapter: each is committed, answered, and its replies delivered before the next is
sent. The anti-abuse rules run on every kudos, but their limits are raised far enough that
every kudos is accepted (the JSON says which limits were used, and counts the kudos stored),
so each measured event does the whole work of a kudos: rules, store, badges, thanks to both.

Prints JSON per backend: events/s, p50 and p99 latency (hand-over to replies delivered), CPU
ms per event (the whole process: bot and load, which moves far less with the machine's load
than events/s) and the process's peak RSS. PostgreSQL runs when ONRAMP_TEST_POSTGRES_URL (or
--postgres-url) names a server. With `--driver-time`, the SQLite run also reports the CPU that
SQLite itself spent per kudos, and how much of it in COMMIT (bench/driver_time.py): the part
of the cost that no change to the bot's Python removes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ruamel.yaml import YAML  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from adapters.memory import MemoryAdapter  # noqa: E402
from bench import backends, driver_time  # noqa: E402
from bench.dispatch import ANSWERS as ONBOARDING  # noqa: E402  (the whole sample onboarding)
from bench.dispatch import deliver  # noqa: E402
from bot.events import CommandInvoked, MemberJoined, MessageReceived  # noqa: E402
from bot.runtime import Onramp, tune_garbage_collector  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from storage.models import Kudos  # noqa: E402

CATEGORIES = ["code", "docs", "design", "translation", "data", "testing", "outreach", "helping"]
REASONS = [
    "for translating the install guide",
    "for reviewing my first pull request so kindly",
    "for the clear notes from the community call",
    "for fixing the flaky sync test",
    "for designing the new onboarding poster",
]
# Loose enough that no kudos of the run is refused: 5,500 among 100 members, about 55 given
# by each and fewer than 5 to any one person; the reciprocity rule only weighs, never refuses.
RULES = {"daily_per_giver": 1000, "weekly_per_pair": 1000}  # the most the schema allows


def _content(folder: Path, never_quiet: bool = False) -> Path:
    """The sample content with the kudos limits raised to RULES (nothing else changed), and
    with `never_quiet`, check-ins asked at any hour (the benchmark runs on the wall clock)."""
    tree = folder / "content"
    shutil.copytree(ROOT / "content", tree)
    yaml = YAML()
    changes: list[tuple[str, Callable[[Any], None]]] = [
        ("recognition.yaml", lambda data: data["rules"].update(RULES))
    ]
    if never_quiet:  # [start, end) of the same hour: no quiet hour at all
        changes.append(("checkins.yaml", lambda data: data.update(quiet_hours=[0, 0])))
    for name, change in changes:
        path = tree / name
        data = yaml.load(path.read_text(encoding="utf-8"))
        change(data)
        with path.open("w", encoding="utf-8") as file:
            yaml.dump(data, file)
    return tree


def _from(member: str, key: str) -> dict[str, Any]:
    """What every event of `member` carries; `key` makes its dedupe key."""
    return {
        "platform": "memory",
        "actor": member,
        "conversation": member,
        "display_name": member.title(),
        "dedupe_key": f"{member}:{key}",
    }


def _kudos(member: str, args: str, n: int) -> CommandInvoked:
    """`/kudos …` as a platform hands a slash command over (Slack's, Telegram's)."""
    return CommandInvoked(**_from(member, f"kudos:{n}"), name="kudos", args=args)


async def _onboard(memory: MemoryAdapter, members: list[str]) -> None:
    for member in members:
        await deliver(memory, MemberJoined(**_from(member, "joined")))
        for n, answer in enumerate(ONBOARDING):
            await deliver(memory, MessageReceived(**_from(member, str(n)), text=answer))


@asynccontextmanager
async def running(
    url: str, never_quiet: bool = False
) -> AsyncIterator[tuple[Onramp, MemoryAdapter]]:
    """The bot on the sample content with the loosened rules, on a memory adapter, started
    as `onramp run` starts it, on a database migrated beforehand by `onramp db upgrade` in a
    process of its own (as a deployment does: the bot's process then never imports Alembic);
    stopped after."""
    migrated = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot.cli", "db", "upgrade"],
        cwd=ROOT,
        env={**os.environ, "ONRAMP_DATABASE__URL": url},
        capture_output=True,
        text=True,
        check=False,
    )
    if migrated.returncode != 0:
        raise SystemExit(f"onramp db upgrade failed:\n{migrated.stderr[-2000:]}")
    with tempfile.TemporaryDirectory() as folder:
        content = _content(Path(folder), never_quiet)
        settings = load_settings(
            ROOT / "bot.toml", database={"url": url}, content={"path": content}
        )
        memory = MemoryAdapter()
        app = await Onramp.create(settings, {"memory": memory})
        await app.start()
        tune_garbage_collector()  # as `onramp run` does
        try:
            yield app, memory
        finally:
            await app.stop()


async def run(
    url: str, members: int, kudos: int, warmup: int, driver: bool = False
) -> dict[str, Any]:
    async with running(url) as (app, memory):
        names = [f"member{n:03d}" for n in range(members)]
        await _onboard(memory, names)
        rng = random.Random(19)
        latencies: list[float] = []
        cpu_started = started = 0.0
        for n in range(warmup + kudos):
            if n == warmup:
                started, cpu_started = time.perf_counter(), time.process_time()
                driver_time.DRIVER.reset()
            giver, receiver = rng.sample(names, 2)
            args = (
                f"[{receiver.title()}](member:{receiver}) "
                f"{rng.choice(REASONS)} #{rng.choice(CATEGORIES)}"
            )
            sent = time.perf_counter()
            await deliver(memory, _kudos(giver, args, n))
            memory.sent.clear()  # the platform's side: not the bot's memory
            if n >= warmup:
                latencies.append(time.perf_counter() - sent)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        async with app.db.reading() as session:
            stored = (await session.execute(select(func.count()).select_from(Kudos))).scalar()
    ordered = sorted(latencies)
    # (SQLite only: on PostgreSQL the database's work is another process's CPU)
    timed = driver and url.startswith("sqlite")
    return {
        "members": members,
        "kudos": kudos,
        "warmup": warmup,
        "rules": RULES,
        "kudos_stored": stored,
        "every_kudos_accepted": stored == warmup + kudos,
        "seconds": round(seconds, 3),
        "events_per_second": round(kudos / seconds, 1),
        "latency_ms_p50": round(statistics.median(ordered) * 1000, 2),
        "latency_ms_p99": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
        "cpu_ms_per_event": round(cpu_seconds / kudos * 1000, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        **(driver_time.DRIVER.per_event(kudos) if timed else {}),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--kudos", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument(
        "--driver-time",
        action="store_true",
        help="also report the CPU SQLite itself spends per kudos (bench/driver_time.py)",
    )
    backends.add_options(parser)
    args = parser.parse_args()
    if args.driver_time:
        driver_time.install()
    results = await backends.on_each(
        args, lambda url: run(url, args.members, args.kudos, args.warmup, args.driver_time)
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
