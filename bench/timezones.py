"""The time-zone index (flows/timezones.py): how long its one build takes, what it keeps in
memory, and how long a lookup takes after it.

    python bench/timezones.py [--repeat 200]

The build runs twice in a fresh process: once as is, timed (`build_seconds` is wall time,
`build_cpu_seconds` the process's CPU time, steadier on a busy machine), then under tracemalloc,
which slows it: `kept_mb` is what the index holds afterwards and `peak_mb` the most held at
once while building (geonames' JSON, parsed whole).
Lookups are timed without tracemalloc, each answer `repeat` times, and reported in ms.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flows.timezone_sources import build  # noqa: E402
from flows.timezones import _index, lookup  # noqa: E402

ANSWERS = [
    "Mumbai", "New Delhi", "India", "IST", "Beijing", "UTC+5:30", "Lisboa", "Genève",
    "Paris, France", "Paris, Texas", "PST", "القاهرة", "GMT-3", "São Paulo", "CST", "Brazil",
    "UTC+3", "Nairobii", "Bogot", "not a place at all",
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    repeat = parser.parse_args().repeat
    wall, cpu = time.perf_counter(), time.process_time()
    build()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    tracemalloc.start()
    _index()
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    lookups = {}
    for answer in ANSWERS:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            lookup(answer, "en")
            times.append((time.perf_counter() - start) * 1000)
        lookups[answer] = round(statistics.median(times), 4)
    print(
        json.dumps(
            {
                "build_seconds": round(wall, 3),
                "build_cpu_seconds": round(cpu, 3),
                "kept_mb": round(kept / 1e6, 1),
                "peak_mb": round(peak / 1e6, 1),
                "lookup_ms_median": lookups,
                "lookup_ms_max_of_medians": max(lookups.values()),
            },
            ensure_ascii=False,
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
