"""bench/erasure.py on a small seeded community, in its own process: it erases the members it
says it does and prints the JSON its README section describes. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_erasure_bench_erases_the_members_it_names() -> None:
    command = [sys.executable, str(ROOT / "bench" / "erasure.py"), "--members", "300"]
    command += ["--kudos", "2000", "--erase", "3", "--backend", "sqlite"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    sqlite = json.loads(done.stdout)["sqlite"]
    assert (sqlite["members"], sqlite["kudos"]) == (300, 2000)
    assert sqlite["rows"]["member"] == 300 and sqlite["rows"]["kudos"] == 2000
    erased = [e["member"] for e in sqlite["erasures"]]
    assert len(erased) == len(set(erased)) == 3
    assert all(e["seconds"] > 0 and e["rows_rewritten"] >= 0 for e in sqlite["erasures"])
    assert sqlite["seconds_max"] >= sqlite["seconds_median"] > 0
