"""bench/metrics.py on a tiny community, in its own process: it seeds, renders every page and
the report for both periods, and prints the JSON document its README section describes. No
timing is asserted (tests never do): only that every figure is there and no page broke."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = {"overview", "onboarding", "mentorship", "recognition", "retention", "campaigns"}
PAGES |= {"at_risk", "report_json", "report_table"}


def test_the_metrics_bench_seeds_and_times_every_page() -> None:
    command = [sys.executable, str(ROOT / "bench" / "metrics.py")]
    command += ["--members", "300", "--kudos", "3000", "--platforms", "2"]
    command += ["--repeat", "1", "--backend", "sqlite"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    sqlite = result["sqlite"]
    assert (sqlite["database"], sqlite["members"], sqlite["kudos"]) == ("sqlite", 300, 3000)
    assert sqlite["activity_rows"] > 300  # every member's first day, and more
    assert sqlite["rows"]["mentorship"] > 0 and sqlite["rows"]["campaign"] == 4
    assert set(sqlite["pages"]) == {"90d", "365d"}
    for period, figures in sqlite["pages"].items():
        assert set(figures) == PAGES, period
        for name, figure in figures.items():
            assert set(figure) == {"median_ms", "max_ms", "runs"}, (period, name, figure)
            assert 0 < figure["median_ms"] <= figure["max_ms"]
