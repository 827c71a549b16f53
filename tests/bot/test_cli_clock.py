"""The command line takes "now" from its clock (`bot.cli.state.state.clock`), as the runtime
does, so a test can run it at the time the test says: tests/bot/onramp_at.py."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.clock import FakeClock, RunningClock
from tests.conftest import ROOT
from tests.support.launcher import run_module


def onramp_at(
    clock: FakeClock | RunningClock, *args: str, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    return run_module(
        "tests.bot.onramp_at",
        [*clock.argv(), *args],
        cwd=ROOT,
        env={
            **os.environ,
            "ONRAMP_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'onramp.db'}",
            "ONRAMP_LOGGING__FILE": str(tmp_path / "onramp.log"),
            "COLUMNS": "200",
        },
    )


def test_a_command_judges_the_past_by_the_clock_it_is_given(tmp_path: Path) -> None:
    at_nine = ("campaign", "send", "community_call", "--at", "2026-03-02T09:00:00Z")
    clock = FakeClock()  # 2 March 2026, 10:00 UTC
    late = onramp_at(clock, *at_nine, tmp_path=tmp_path)
    assert late.returncode == 1, late.stderr
    assert "is in the past (it is 2026-03-02 10:00 UTC)" in late.stderr

    clock.advance(hours=-2)
    early = onramp_at(clock, *at_nine, "--dry-run", tmp_path=tmp_path)
    assert early.returncode == 0, early.stderr
    assert "not before 2026-03-02 09:00" in early.stdout
    assert "Dry run: nothing was planned." in early.stdout


def test_a_running_clock_starts_at_the_test_s_morning_whatever_the_hour(
    tmp_path: Path,
) -> None:
    clock = RunningClock()  # 2 March 2026, 10:00 UTC, and running
    before = ("campaign", "send", "community_call", "--at", "2026-03-02T09:59:00Z")
    late = onramp_at(clock, *before, tmp_path=tmp_path)
    assert late.returncode == 1, late.stderr
    assert "is in the past (it is 2026-03-02 10:0" in late.stderr
    later = ("campaign", "send", "community_call", "--at", "2026-03-02T10:30:00Z", "--dry-run")
    assert onramp_at(clock, *later, tmp_path=tmp_path).returncode == 0
