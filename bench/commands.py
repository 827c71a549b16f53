"""The commands members type often, each measured as `bench/kudos.py` measures a kudos, against
the cost of an onboarding step.

    python bench/commands.py [--members 100] [--each 500] [--kudos 1000]
        [--backend sqlite|postgresql|both] [--postgres-url URL]

`members` members join and go through the sample onboarding, one event at a time (measured:
the onboarding step, the yardstick); then `kudos` kudos are given among them (measured, as in
bench/kudos.py, so the boards and badges have something to show); then `each` of every
command below, from random members, one at a time: each committed, answered and its replies
delivered before the next is sent, through the memory adapter.

Prints JSON per backend: per command, events/s, p50 and p99 latency, CPU ms per event (the
whole process) and that CPU as a multiple of the onboarding step's (`vs_onboarding`; issue
19's target: at most 1.5). PostgreSQL runs when ONRAMP_TEST_POSTGRES_URL (or
--postgres-url) names a server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.memory import MemoryAdapter  # noqa: E402
from bench import backends  # noqa: E402
from bench.dispatch import ANSWERS as ONBOARDING  # noqa: E402  (the whole sample onboarding)
from bench.dispatch import deliver  # noqa: E402
from bench.kudos import CATEGORIES, REASONS, _from, running  # noqa: E402
from bot.events import CommandInvoked, Event, MemberJoined, MessageReceived  # noqa: E402

# name → (command, arguments): what a member types, as a platform hands it over.
COMMANDS = {
    "kudos_top": ("kudos", "top"),
    "kudos_top_all_time": ("kudos", "top all"),
    "own_kudos": ("kudos", ""),
    "badges": ("badges", ""),
    "help": ("help", ""),
}


async def _measured(memory: MemoryAdapter, events: list[Event]) -> tuple[float, float, list[float]]:
    """Deliver the events one at a time: wall seconds, CPU seconds, each one's latency."""
    latencies: list[float] = []
    started, cpu_started = time.perf_counter(), time.process_time()
    for event in events:
        sent = time.perf_counter()
        await deliver(memory, event)
        latencies.append(time.perf_counter() - sent)
    return time.perf_counter() - started, time.process_time() - cpu_started, latencies


def _figures(seconds: float, cpu: float, latencies: list[float]) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "events": len(ordered),
        "events_per_second": round(len(ordered) / seconds, 1),
        "latency_ms_p50": round(statistics.median(ordered) * 1000, 2),
        "latency_ms_p99": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 2),
        "cpu_ms_per_event": round(cpu / len(ordered) * 1000, 3),
    }


async def run(url: str, members: int, each: int, kudos: int) -> dict[str, Any]:
    rng = random.Random(23)
    names = [f"member{n:03d}" for n in range(members)]
    onboarding: list[Event] = []
    for member in names:
        onboarding.append(MemberJoined(**_from(member, "joined")))
        onboarding += [
            MessageReceived(**_from(member, str(n)), text=answer)
            for n, answer in enumerate(ONBOARDING)
        ]

    def typed(command: str, args: str, n: int) -> Callable[[str], CommandInvoked]:
        def event(member: str) -> CommandInvoked:
            return CommandInvoked(**_from(member, f"{command}:{args}:{n}"), name=command, args=args)

        return event

    given: list[Event] = []
    for n in range(kudos):
        giver, receiver = rng.sample(names, 2)
        args = (
            f"[{receiver.title()}](member:{receiver}) "
            f"{rng.choice(REASONS)} #{rng.choice(CATEGORIES)}"
        )
        given.append(typed("kudos", args, n)(giver))
    async with running(url) as (_, memory):
        results: dict[str, Any] = {
            "onboarding_step": _figures(*await _measured(memory, onboarding))
        }
        results["kudos"] = _figures(*await _measured(memory, given))
        for name, (command, args) in COMMANDS.items():
            events: list[Event] = [typed(command, args, n)(rng.choice(names)) for n in range(each)]
            results[name] = _figures(*await _measured(memory, events))
            # What the last one answered: the command did its work (a board, badges).
            results[name]["answer"] = memory.sent[-1].text[:70]
    yardstick = results["onboarding_step"]["cpu_ms_per_event"]
    for figures in results.values():
        figures["vs_onboarding"] = round(figures["cpu_ms_per_event"] / yardstick, 2)
    return {"members": members, "each": each, "kudos_given": kudos, "commands": results}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--each", type=int, default=500)
    parser.add_argument("--kudos", type=int, default=1000)
    backends.add_options(parser)
    args = parser.parse_args()
    print(
        json.dumps(
            await backends.on_each(args, lambda url: run(url, args.members, args.each, args.kudos)),
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
