"""The time-zone index (flows/timezones.py, kept in a file by flows/timezone_index.py): how
long its one build takes, what opening it adds to a process's memory, and how long a lookup
takes.

    python bench/timezones.py [--repeat 200]

`build_seconds`: the child process that builds the file (into a temporary folder, so it is
always built), wall time; `build_child_cpu_seconds` its CPU time. `open_ms`: opening the
file, as every process after the first does. `rss_added_mb`: this process's resident memory
after opening it and answering every lookup, less before (the index built as a dict used to
add about 110 MB). For comparison, `dict_rss_added_mb` is what the dict built in memory adds,
measured last, in this same process. Lookups are timed each answer `repeat` times, in ms.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flows import timezone_index  # noqa: E402
from flows.timezone_sources import build  # noqa: E402
from flows.timezones import lookup  # noqa: E402

ANSWERS = [
    "Mumbai", "New Delhi", "India", "IST", "Beijing", "UTC+5:30", "Lisboa", "Genève",
    "Paris, France", "Paris, Texas", "PST", "القاهرة", "GMT-3", "São Paulo", "CST", "Brazil",
    "UTC+3", "Nairobii", "Bogot", "not a place at all",
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    repeat = parser.parse_args().repeat
    year = time.gmtime().tm_year  # the rules the bot's index holds: this year's
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "index.sqlite"
        child_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter()
        timezone_index._build(path, year)
        wall = time.perf_counter() - wall
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        child = (after.ru_utime + after.ru_stime) - (child_cpu.ru_utime + child_cpu.ru_stime)
        size = path.stat().st_size
        os.environ["ONRAMP_CACHE_DIR"] = folder  # flows.timezones opens it from there
        (Path(folder) / "timezones").mkdir(mode=0o700)
        path.rename(Path(folder) / "timezones" / timezone_index.file_name(year))
        before = _rss_mb()
        opened = time.perf_counter()
        lookup("Mumbai", "en")
        opened = time.perf_counter() - opened
        lookups = {}
        for answer in ANSWERS:
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                lookup(answer, "en")
                times.append((time.perf_counter() - start) * 1000)
            lookups[answer] = round(statistics.median(times), 4)
        added = _rss_mb() - before
    before = _rss_mb()
    kept = build(year)
    dict_added = _rss_mb() - before
    del kept
    print(
        json.dumps(
            {
                "build_seconds": round(wall, 3),
                "build_child_cpu_seconds": round(child, 3),
                "file_mb": round(size / 1e6, 1),
                "open_ms": round(opened * 1000, 1),
                "rss_added_mb": round(added, 1),
                "dict_rss_added_mb": round(dict_added, 1),
                "lookup_ms_median": lookups,
                "lookup_ms_max_of_medians": max(lookups.values()),
            },
            ensure_ascii=False,
            indent=2,
        )
    )


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return kb / 1024


if __name__ == "__main__":
    main()
