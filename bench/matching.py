"""The batch mentor matcher on a synthetic community, against an exact solve.

    python bench/matching.py [--newcomers 10000] [--mentors 1000] [--declined 20000] [--seed 7]
        [--no-exact]

A seeded community: newcomers and mentors speak one to three of twelve languages (English
most, then French, Spanish, Portuguese…), live in twenty real time zones, each have interests
or topics among twelve contribution kinds (code, documentation, translation, design, data,
outreach…), an experience level, and mentors a weekly window of a few hours and a capacity of
1 to 5 (some already partly used, some paused). Some pairs were declined before.

`bot.mentorship.matching.optimize` runs first, timed and measured alone (peak RSS of this
process after it, imports included). Then the exact solve: the same min-cost flow over every
allowed pair, not only the candidates. Prints one JSON object: time, memory, total score of
both, the gap, hard-constraint violations (checked pair by pair with
`bot.mentorship.matching.excluded`, and capacity per mentor), how many were matched, and the
worst-off and 10th-percentile pair scores.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from bot.mentorship.matching import Mentor, Pair, Person, Rules, excluded, optimize

LANGUAGES = ["en", "fr", "es", "pt", "sw", "ar", "hi", "bn", "id", "am", "ha", "ne"]
LANGUAGE_WEIGHTS = [30, 14, 12, 9, 6, 6, 5, 4, 4, 3, 4, 3]
TOPICS = [
    "code", "documentation", "translation", "design", "data", "testing",
    "outreach", "fundraising", "organizing", "mentoring", "security", "devops",
]  # fmt: skip
ZONES = [
    "America/Los_Angeles", "America/Mexico_City", "America/Lima", "America/New_York",
    "America/Sao_Paulo", "Europe/London", "Europe/Paris", "Africa/Dakar", "Africa/Lagos",
    "Africa/Nairobi", "Africa/Addis_Ababa", "Europe/Istanbul", "Asia/Dubai", "Asia/Karachi",
    "Asia/Kolkata", "Asia/Kathmandu", "Asia/Dhaka", "Asia/Jakarta", "Asia/Manila",
    "Australia/Sydney",
]  # fmt: skip
WHEN = datetime(2026, 12, 1, 12, tzinfo=UTC)


def community(
    newcomers: int, mentors: int, declined: int, seed: int
) -> tuple[list[Person], list[Mentor], set[tuple[int, int]]]:
    rng = random.Random(seed)

    def languages(most: int) -> frozenset[str]:
        count = rng.randint(1, most)
        return frozenset(rng.choices(LANGUAGES, LANGUAGE_WEIGHTS, k=count))

    def topics(most: int) -> frozenset[str]:
        return frozenset(rng.sample(TOPICS, rng.randint(1, most)))

    people = [
        Person(
            id=i,
            languages=languages(2),
            topics=topics(3),
            timezone=rng.choice(ZONES),
            hours=None if rng.random() < 0.5 else (start := rng.randint(6, 20), start + 3),
            experience=rng.choice([0, 0, 1, 1, 2]),
        )
        for i in range(newcomers)
    ]
    guides = []
    for j in range(mentors):
        capacity = rng.randint(1, 5)
        start = rng.randint(0, 23)
        guides.append(
            Mentor(
                id=newcomers + j,
                languages=languages(3),
                topics=topics(5),
                timezone=rng.choice(ZONES),
                hours=(start, (start + rng.randint(2, 6)) % 24),
                experience=rng.choice([1, 2, 2]),
                capacity=capacity,
                load=rng.randint(0, capacity - 1),
                paused=rng.random() < 0.05,
            )
        )
    refused = {
        (rng.randrange(newcomers), newcomers + rng.randrange(mentors)) for _ in range(declined)
    }
    return people, guides, refused


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def violations(
    pairs: list[Pair], people: list[Person], guides: list[Mentor], rules: Rules, refused: Any
) -> int:
    by_id = {p.id: p for p in people}
    mentor_by_id = {m.id: m for m in guides}
    wrong = sum(
        1
        for pair in pairs
        if excluded(by_id[pair.newcomer], mentor_by_id[pair.mentor], rules, refused, WHEN)
    )
    load = Counter(pair.mentor for pair in pairs)
    wrong += sum(1 for mentor, n in load.items() if n > mentor_by_id[mentor].room)
    wrong += len(pairs) - len({pair.newcomer for pair in pairs})  # a newcomer twice
    return wrong


def summary(pairs: list[Pair]) -> dict[str, Any]:
    scores = sorted(pair.score for pair in pairs)
    return {
        "matched": len(pairs),
        "total_score": round(sum(scores), 3),
        "worst_pair_score": scores[0] if scores else None,
        "p10_pair_score": scores[len(scores) // 10] if scores else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--newcomers", type=int, default=10_000)
    parser.add_argument("--mentors", type=int, default=1_000)
    parser.add_argument("--declined", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-exact", action="store_true", help="skip the exact solve")
    args = parser.parse_args()
    rules = Rules()
    people, guides, refused = community(args.newcomers, args.mentors, args.declined, args.seed)
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    pairs = optimize(people, guides, rules, refused, WHEN)
    seconds = time.perf_counter() - started
    result: dict[str, Any] = {
        "newcomers": args.newcomers,
        "mentors": args.mentors,
        "mentor_places": sum(m.room for m in guides),
        "declined_pairs": len(refused),
        "optimizer_seconds": round(seconds, 3),
        "peak_rss_mb_before": round(rss_before, 1),
        "peak_rss_mb_after_optimizer": round(peak_rss_mb(), 1),
        "optimizer": summary(pairs),
        "hard_constraint_violations": violations(pairs, people, guides, rules, refused),
    }
    if not args.no_exact:
        started = time.perf_counter()
        exact = optimize(people, guides, rules, refused, WHEN, exhaustive=True)
        result["exact_seconds"] = round(time.perf_counter() - started, 3)
        result["exact"] = summary(exact)
        result["gap"] = round(
            result["exact"]["total_score"] - result["optimizer"]["total_score"], 3
        )
        result["exact_hard_constraint_violations"] = violations(
            exact, people, guides, rules, refused
        )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
