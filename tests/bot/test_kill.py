"""kill -9 a real bot process at random moments: no answer is lost, nothing is sent twice
except, at most, the one message in flight at the instant of each kill."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.clock import RunningClock

pytestmark = pytest.mark.processes  # timed real processes: one at a time (tests/conftest.py)

ROOT = Path(__file__).resolve().parents[2]
# The bot's clock in every (re)started process: one running clock from a fixed morning.
CLOCK = RunningClock()
ANSWERS = {
    "language": "2",
    "consent": "1",
    "timezone": "Lima",
    "interests": "1, 2",
    "announcements": "2",
    "experience": "2",
    "start_here": "5",
    "mentor": "1",
}
EXPECTED = {
    "language": "fr",
    "consent": "yes",
    "timezone": "America/Lima",
    "interests": '["code", "docs"]',
    "announcements": "no",
    "experience": "some",
    "start_here": "done",
    "mentor": "yes",
}


def _state(db: Path) -> tuple[str | None, str | None]:
    if not db.exists():
        return None, None
    connection = sqlite3.connect(db, timeout=30)
    try:
        row = connection.execute(
            "SELECT status, step_id FROM flow_run WHERE flow_id = 'onboarding' "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
    except sqlite3.OperationalError:  # not migrated yet
        return None, None
    finally:
        connection.close()
    return (row[0], row[1]) if row else (None, None)


def _delivered(record: Path) -> int:
    return len(record.read_text().split()) if record.exists() else 0


def _undelivered(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as connection:
        return int(
            connection.execute("SELECT count(*) FROM outbox WHERE status != 'sent'").fetchone()[0]
        )


def _start(db: Path, record: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "tests/bot/crash_driver.py"),
                f"sqlite+aiosqlite:///{db}",
                str(record),
                "kim",
                *CLOCK.argv(),
            ],
            stdin=subprocess.PIPE,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


def _wait_for(predicate: object, what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError(f"the bot did not get there in time: {what}")


def test_kill_9_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    db, record, log = tmp_path / "onramp.db", tmp_path / "delivered.txt", tmp_path / "out.txt"
    rng = random.Random(int(os.environ.get("ONRAMP_KILL_SEED", "7")))
    in_flight_at_kill: list[str] = []
    process = _start(db, record, log)
    try:
        kills = _converse(db, record, log, process, rng, in_flight_at_kill)
    finally:
        for leftover in _processes:
            if leftover.poll() is None:
                leftover.kill()
                leftover.wait()
            if leftover.stdin is not None:
                leftover.stdin.close()
    assert kills == 3

    with sqlite3.connect(db) as connection:
        answers = dict(connection.execute("SELECT step_id, value FROM answer").fetchall())
        rows = connection.execute("SELECT id, status FROM outbox").fetchall()
    assert {k: v.strip('"') for k, v in answers.items()} == EXPECTED
    assert all(status == "sent" for _, status in rows), rows
    delivered = Counter(record.read_text().split())
    assert set(delivered) == {str(row_id) for row_id, _ in rows}  # every message arrived
    twice = {row_id for row_id, n in delivered.items() if n > 1}
    assert twice <= set(in_flight_at_kill), (twice, in_flight_at_kill)


_processes: list[subprocess.Popen[bytes]] = []


def _converse(
    db: Path,
    record: Path,
    log: Path,
    process: subprocess.Popen[bytes],
    rng: random.Random,
    in_flight_at_kill: list[str],
) -> int:
    _processes.append(process)
    _wait_for(lambda: _state(db)[1] == "language", "first question")
    kills = writes = 0
    kill_after = set(rng.sample(range(len(ANSWERS)), 3))  # which answers are cut short
    while True:
        status, step = _state(db)
        if status == "completed":
            break
        assert process.stdin is not None and step is not None
        process.stdin.write(f"{ANSWERS[step]}\n".encode())
        process.stdin.flush()
        writes += 1
        if writes - 1 in kill_after:
            time.sleep(rng.uniform(0, 0.08))
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
            lines = record.read_text().split() if record.exists() else []
            in_flight_at_kill.append(lines[-1] if lines else "")
            process = _start(db, record, log)
            _processes.append(process)
            seen = len(lines)
            _wait_for(
                lambda seen=seen: (
                    _delivered(record) > seen
                    or (_state(db)[0] == "completed" and _undelivered(db) == 0)
                ),
                f"restart after kill {kills}",
            )
            continue
        _wait_for(lambda s=step: _state(db) != ("active", s), f"an answer to {step}")
    assert process.stdin is not None
    process.stdin.close()
    assert process.wait(timeout=30) == 0, log.read_text()
    return kills
