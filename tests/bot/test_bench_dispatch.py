"""bench/dispatch.py on a few newcomers, in its own process, closed loop on SQLite: every
event of their onboarding is answered and it prints the JSON its README section describes,
with `--driver-time` SQLite's own share of the CPU. No timing is asserted (tests never do)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_dispatch_bench_onboards_everyone_and_reports_the_driver_share() -> None:
    command = [sys.executable, str(ROOT / "bench" / "dispatch.py"), "--members", "5"]
    command += ["--mode", "closed", "--concurrency", "2", "--backend", "sqlite", "--driver-time"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    [run] = json.loads(done.stdout)
    assert (run["backend"], run["mode"], run["concurrency"]) == ("sqlite", "closed", 2)
    assert run["events"] == 5 * 9  # a join and eight answers each
    assert 0 < run["latency_ms_p50"] <= run["latency_ms_p99"]
    assert run["driver_calls_per_event"] >= 4
    assert 0 < run["driver_commit_cpu_ms_per_event"] <= run["driver_cpu_ms_per_event"]
    assert run["driver_cpu_ms_per_event"] < run["cpu_ms_per_event"]
