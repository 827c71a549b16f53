"""The tests' clocks. No test reads the wall clock: the hour decides quiet hours, "today" and
what is late, so a test on the real clock passes at 10:00 and fails at 02:00.

- `FakeClock` stands still until the test moves it (`advance`, or `now = …`).
- `RunningClock` is for tests that run in real time (adapters against the emulators, replicas
  in subprocesses whose leases must run out): it starts at the same fixed instant and runs
  with the machine's monotonic clock, which no time zone, hour or date changes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

# A Monday at 10:00 UTC: morning in Europe, outside the default quiet hours (21:00–08:00) of
# members in UTC and in Paris, and the time every test starts at.
START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
FIXED = "fixed"  # in `argv()`: a clock that stands still


class FakeClock:
    """A clock tests move by hand: timers fire when the test says time has passed."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def argv(self) -> list[str]:
        """How a subprocess is told this clock: `from_argv(*those two words)`."""
        return [self.now.isoformat(), FIXED]


class RunningClock:
    """Starts at `start` when the monotonic clock reads `anchor`, and runs from there. Two
    processes given the same `start` and `anchor` (`argv()`, `from_argv()`) read the same
    time, as replicas of one bot do."""

    def __init__(self, start: datetime = START, anchor: float | None = None) -> None:
        self.start = start
        self.anchor = time.monotonic() if anchor is None else anchor

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.anchor)

    @property
    def now(self) -> datetime:
        return self()

    @now.setter
    def now(self, value: datetime) -> None:
        self.start, self.anchor = value, time.monotonic()

    def advance(self, **delta: float) -> None:
        self.start += timedelta(**delta)

    def argv(self) -> list[str]:
        """How a subprocess is told this clock: `from_argv(*those two words)`."""
        return [self.start.isoformat(), repr(self.anchor)]


def from_argv(start: str, anchor: str) -> FakeClock | RunningClock:
    """The clock a parent process gave as `clock.argv()`."""
    if anchor == FIXED:
        return FakeClock(datetime.fromisoformat(start))
    return RunningClock(datetime.fromisoformat(start), float(anchor))
