"""No test reads the wall clock: the hour decides quiet hours, deadlines and what is late, so
a test on the real clock passes at 10:00 and fails at 02:00 (issue 15). Tests take their time
from tests/clock.py; the platform emulators (tests/fakes/) stamp what a platform would stamp,
and a line that truly needs the real time says why in a `# wall clock:` comment."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.runtime import Onramp
from bot.settings import Settings
from flows.content import load_tree_or_raise
from storage.session import Database
from tests.clock import START, FakeClock, RunningClock, from_argv
from tests.conftest import CONTENT, ROOT
from tests.features import ACTIONS

TESTS = ROOT / "tests"
READS = re.compile(
    r"\b(datetime\.(now|today|utcnow)\(|date\.today\(|time\.time\(|utcnow\(\)|"
    r"time\.(localtime|gmtime)\(|datetime\.fromtimestamp\()"
)
# Emulators play the platforms, which have clocks of their own; this file names the reads.
EXEMPT = (TESTS / "fakes", TESTS / "clock.py", Path(__file__))


def wall_clock_reads(path: Path) -> list[str]:
    return [
        f"{path.relative_to(path.parents[1])}:{number}: {line.strip()}"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if READS.search(line) and "# wall clock:" not in line
    ]


def test_no_test_reads_the_wall_clock() -> None:
    found = [
        read
        for path in sorted(TESTS.rglob("*.py"))
        if not any(path == exempt or exempt in path.parents for exempt in EXEMPT)
        for read in wall_clock_reads(path)
    ]
    assert found == [], "take the time from tests/clock.py (the `clock` fixture):\n" + "\n".join(
        found
    )


def test_the_scan_sees_each_way_of_reading_it(tmp_path: Path) -> None:
    sample = tmp_path / "tests" / "test_sample.py"
    sample.parent.mkdir()
    sample.write_text(
        "a = datetime.now(UTC)\nb = time.time()\nc = date.today()\nd = utcnow()\n"
        "e = clock.now\nf = time.monotonic()\ng = time.time()  # wall clock: Slack's window\n",
        encoding="utf-8",
    )
    assert wall_clock_reads(sample) == [
        "tests/test_sample.py:1: a = datetime.now(UTC)",
        "tests/test_sample.py:2: b = time.time()",
        "tests/test_sample.py:3: c = date.today()",
        "tests/test_sample.py:4: d = utcnow()",
    ]


def _wall_clock() -> datetime:
    return datetime.now(UTC)  # wall clock: what the guard must refuse


async def test_the_runtime_on_the_wall_clock_is_refused_in_tests(settings: Settings) -> None:
    """tests/conftest.py refuses it, so no test starts the bot on the real time by default."""
    db = Database.from_url(settings.database.url)
    content = load_tree_or_raise(CONTENT, actions=ACTIONS)
    try:
        for clock in ({}, {"clock": _wall_clock}):
            with pytest.raises(AssertionError, match="the runtime on the wall clock"):
                Onramp(settings, content, db, {}, **clock)  # type: ignore[arg-type]
    finally:
        await db.dispose()


def test_a_clock_told_to_a_subprocess_reads_the_same_time() -> None:
    fixed = FakeClock()
    fixed.advance(hours=13)  # 23:00, in everyone's quiet hours
    assert from_argv(*fixed.argv()).now == fixed.now == START + timedelta(hours=13)
    running = RunningClock()
    copy = from_argv(*running.argv())
    assert isinstance(copy, RunningClock)
    assert abs(copy() - running()) < timedelta(milliseconds=50)
    assert START <= running() < START + timedelta(minutes=5)  # the test's morning, running
    running.now = START + timedelta(days=1)
    assert START + timedelta(days=1) <= running() < START + timedelta(days=1, minutes=5)
