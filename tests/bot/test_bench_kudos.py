"""bench/kudos.py on a tiny community, in its own process: members onboard, every kudos is
accepted under the loosened rules, and it prints the JSON its README section describes (with
`--driver-time`, SQLite's own share of the CPU, a part of the whole). No
timing is asserted (tests never do): only that the run did the work it claims to measure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_kudos_bench_gives_every_kudos_and_reports_it() -> None:
    command = [sys.executable, str(ROOT / "bench" / "kudos.py")]
    command += [
        "--members",
        "6",
        "--kudos",
        "40",
        "--warmup",
        "5",
        "--backend",
        "sqlite",
        "--driver-time",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    sqlite = json.loads(done.stdout)["sqlite"]
    assert (sqlite["members"], sqlite["kudos"], sqlite["warmup"]) == (6, 40, 5)
    assert sqlite["kudos_stored"] == 45 and sqlite["every_kudos_accepted"] is True
    assert sqlite["rules"] == {"daily_per_giver": 1000, "weekly_per_pair": 1000}
    assert sqlite["events_per_second"] > 0 and sqlite["cpu_ms_per_event"] > 0
    assert 0 < sqlite["latency_ms_p50"] <= sqlite["latency_ms_p99"]
    assert sqlite["peak_rss_mb"] > 0
    # SQLite's own work: some statements and a commit per kudos, and a part of the whole CPU
    assert sqlite["driver_calls_per_event"] >= 4
    assert 0 < sqlite["driver_commit_cpu_ms_per_event"] <= sqlite["driver_cpu_ms_per_event"]
    assert sqlite["driver_cpu_ms_per_event"] < sqlite["cpu_ms_per_event"]
