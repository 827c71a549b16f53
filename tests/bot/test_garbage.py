"""A turn leaves nothing for the garbage collector: every object it makes is freed as soon as
it is done with (by reference counting), none in reference cycles.

A bot process collects young objects only every 50,000 allocations (`tune_garbage_collector`),
so what a turn leaves in cycles piles up: statements built per call (an alias, an IN list),
pydantic reading a builtin default factory's text signature at every new row, each left a
few dozen objects an event, which made the dispatch benchmark's peak RSS 15 MB higher. Here
newcomers go through the whole sample onboarding and thank each other, with the collector
saving what it finds instead of freeing it (tests/bot/garbage_driver.py), in a process of its
own: in the test process, what another test left behind could become garbage meanwhile.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.support import migrated
from tests.support.launcher import run_module


def test_onboarding_and_kudos_leave_nothing_in_reference_cycles(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{migrated.copy_sqlite(tmp_path / 'onramp.db')}"
    done = run_module("tests.bot.garbage_driver", [url], timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["thanked"], "every kudos must have been thanked for: the run did its work"
    garbage = sum(found["garbage"].values())
    # A few at most; each source found before left dozens here (one per new member, run or
    # answer, or per statement built).
    assert garbage <= found["events"] // 4, f"{garbage} objects in cycles: {found['garbage']}"
