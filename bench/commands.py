"""The commands members type often, each measured as `bench/kudos.py` measures a kudos, against
the cost of an onboarding step.

    python bench/commands.py [--members 100] [--each 500] [--kudos 1000]
        [--backend sqlite|postgresql|both] [--postgres-url URL]

`members` members join and go through the sample onboarding, one event at a time (measured:
the onboarding step, the yardstick); then `kudos` kudos are given among them (measured, as in
bench/kudos.py, so the boards and badges have something to show); then `each` of every
command below, from random members, one at a time: each committed, answered and its replies
delivered before the next is sent, through the memory adapter. Last, `members` more members
go through the onboarding pressing its buttons instead of typing (the same answers, as a
choice event carries them: the question's step and the choices' ids): `button_press` is
those presses only, the time-zone answer they still type left out. Then `members` / 2
mentorships are stored with both people's check-in due now (tests/bot/checkin_burst.py),
asked (not measured), and each person answers by pressing a rating: `checkin_answer`. The
content's quiet hours are lifted for the run (it runs on the wall clock).

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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.memory import MemoryAdapter  # noqa: E402
from bench import backends  # noqa: E402
from bench.dispatch import ANSWERS as ONBOARDING  # noqa: E402  (the whole sample onboarding)
from bench.dispatch import deliver  # noqa: E402
from bench.kudos import CATEGORIES, REASONS, _from, running  # noqa: E402
from bot.events import (  # noqa: E402
    ChoiceMade,
    CommandInvoked,
    Event,
    MemberJoined,
    MessageReceived,
)
from bot.messages import OutgoingMessage  # noqa: E402
from bot.runtime import Onramp  # noqa: E402
from tests.bot.checkin_burst import seed  # noqa: E402

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


def pressed(question: OutgoingMessage, typed: str) -> tuple[str, ...] | None:
    """The buttons a member presses for what they would have typed (a choice's label, or its
    numbers), or None when the question has none that fit (a time zone is typed)."""
    by_label = {choice.label.casefold(): choice.id for choice in question.choices}
    if typed.casefold() in by_label:
        return (by_label[typed.casefold()],)
    numbers = [int(part) for part in typed.replace(",", " ").split() if part.isdigit()]
    if numbers and all(1 <= n <= len(question.choices) for n in numbers):
        return tuple(question.choices[n - 1].id for n in numbers)
    return None


class Timed:
    """Events delivered one at a time among others that are not measured: their wall and
    CPU seconds, and each one's latency."""

    def __init__(self, memory: MemoryAdapter) -> None:
        self.memory = memory
        self.seconds = self.cpu = 0.0
        self.latencies: list[float] = []

    async def deliver(self, event: Event) -> None:
        started, cpu_started = time.perf_counter(), time.process_time()
        await deliver(self.memory, event)
        self.latencies.append(time.perf_counter() - started)
        self.seconds += self.latencies[-1]
        self.cpu += time.process_time() - cpu_started

    def figures(self) -> tuple[float, float, list[float]]:
        return self.seconds, self.cpu, self.latencies


async def _pressing(memory: MemoryAdapter, names: list[str]) -> tuple[float, float, list[float]]:
    """Each member joins, then answers the onboarding with buttons where it asks with them;
    only the presses are measured."""
    timed = Timed(memory)
    for member in names:
        await deliver(memory, MemberJoined(**_from(member, "joined")))
        for n, answer in enumerate(ONBOARDING):
            question = next(m for m in reversed(memory.sent) if m.recipient == member)
            chosen = pressed(question, answer) if question.choices else None
            if chosen is None:
                await deliver(memory, MessageReceived(**_from(member, str(n)), text=answer))
                continue
            assert question.step_id is not None
            event = ChoiceMade(**_from(member, str(n)), step_id=question.step_id, choice_ids=chosen)
            await timed.deliver(event)
    return timed.figures()


async def _checkins(
    app: Onramp, memory: MemoryAdapter, pairs: int
) -> tuple[float, float, list[float]]:
    """`pairs` mentorships with both people's check-in due now: asked, then each person
    presses "4" (the common answer: no alert to the managers). Only the presses are timed."""
    await seed(app.db, pairs=pairs, later=0, now=datetime.now(UTC), platform="memory")
    while await app.timers.tick():
        pass

    def seeded(recipient: str) -> bool:  # the seed's people: "p" and their member id
        return recipient[:1] == "p" and recipient[1:].isdigit()

    asked: dict[str, OutgoingMessage] = {}
    for _ in range(6_000):  # the sender delivers in tasks of its own: at most a minute
        asked = {m.recipient: m for m in memory.sent if seeded(m.recipient) and m.choices}
        if len(asked) >= 2 * pairs:
            break
        await asyncio.sleep(0.01)
    if len(asked) < 2 * pairs:
        raise SystemExit(f"{len(asked)} of {2 * pairs} check-ins were asked")
    timed = Timed(memory)
    for person, question in sorted(asked.items()):
        chosen = pressed(question, "4")
        assert chosen is not None and question.step_id is not None
        event = ChoiceMade(**_from(person, "checkin"), step_id=question.step_id, choice_ids=chosen)
        await timed.deliver(event)
    return timed.figures()


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
    async with running(url, never_quiet=True) as (app, memory):
        results: dict[str, Any] = {
            "onboarding_step": _figures(*await _measured(memory, onboarding))
        }
        results["kudos"] = _figures(*await _measured(memory, given))
        for name, (command, args) in COMMANDS.items():
            events: list[Event] = [typed(command, args, n)(rng.choice(names)) for n in range(each)]
            results[name] = _figures(*await _measured(memory, events))
            # What the last one answered: the command did its work (a board, badges).
            results[name]["answer"] = memory.sent[-1].text[:70]
        pressers = [f"presser{n:03d}" for n in range(members)]
        results["button_press"] = _figures(*await _pressing(memory, pressers))
        results["button_press"]["answer"] = memory.sent[-1].text[:70]
        results["checkin_answer"] = _figures(*await _checkins(app, memory, max(1, members // 2)))
        results["checkin_answer"]["answer"] = memory.sent[-1].text[:70]
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
