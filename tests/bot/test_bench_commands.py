"""bench/commands.py on a tiny community, in its own process: each command is answered as a
member would see it, and measured against the onboarding step. No timing is asserted (tests
never do): only that every command did its work and every figure is there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_commands_bench_answers_each_command_and_reports_it() -> None:
    command = [sys.executable, str(ROOT / "bench" / "commands.py")]
    command += ["--members", "4", "--each", "6", "--kudos", "12", "--backend", "sqlite"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    sqlite = json.loads(done.stdout)["sqlite"]
    commands = sqlite["commands"]
    assert set(commands) == {
        "onboarding_step",
        "kudos",
        "kudos_top",
        "kudos_top_all_time",
        "own_kudos",
        "badges",
        "help",
        "button_press",
        "checkin_answer",
    }
    assert commands["kudos"]["events"] == 12 and commands["badges"]["events"] == 6
    assert commands["onboarding_step"]["vs_onboarding"] == 1.0
    # In the language the members chose while onboarding (French in the bench's answers).
    assert commands["kudos_top"]["answer"].startswith("🏆")
    assert commands["badges"]["answer"].startswith("Vos badges")
    # Four more members onboarded with buttons: seven presses each (the time zone is typed),
    # every one taken, since the last reply is the badge for finishing.
    assert commands["button_press"]["events"] == 4 * 7
    assert commands["button_press"]["answer"].startswith("🏅")
    # Two mentorships' four people each answered their check-in's rating; the flow goes on
    # to its next question (what they would like to add).
    assert commands["checkin_answer"]["events"] == 4
    assert commands["checkin_answer"]["answer"].startswith("Thank you!")
    for name, figures in commands.items():
        assert figures["cpu_ms_per_event"] > 0 and figures["vs_onboarding"] > 0, name
        assert 0 < figures["latency_ms_p50"] <= figures["latency_ms_p99"], name
