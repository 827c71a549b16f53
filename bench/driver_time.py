"""How much of a benchmark's CPU SQLite itself spends: the floor no Python change lowers.

`install()` (before the bot opens its database) makes every sqlite3 connection of the process
one whose calls into the driver — each statement, each fetch, each commit — add the CPU time
of the calling thread to `DRIVER`. A benchmark resets it where its measured part starts and
reports it per event beside its whole CPU: what is left is the bot's own Python (and the load's).

Opt-in (`--driver-time`): the timing wraps every driver call in a Python method, which costs a
few microseconds an event that an ordinary run should not pay.
"""

from __future__ import annotations

import sqlite3
import sqlite3.dbapi2
import time
from dataclasses import dataclass
from typing import Any

_cpu = time.thread_time  # the calling thread's CPU: readers run on threads of their own


@dataclass
class DriverCpu:
    seconds: float = 0.0  # in statements, fetches and commits
    commit_seconds: float = 0.0  # of which in COMMIT (SQLite writing the pages to its log)
    calls: int = 0  # statements and commits (fetches not counted)

    def reset(self) -> None:
        self.seconds = self.commit_seconds = 0.0
        self.calls = 0

    def per_event(self, events: int) -> dict[str, float]:
        return {
            "driver_cpu_ms_per_event": round(self.seconds / events * 1000, 3),
            "driver_commit_cpu_ms_per_event": round(self.commit_seconds / events * 1000, 3),
            "driver_calls_per_event": round(self.calls / events, 1),
        }


DRIVER = DriverCpu()


def _timed(method: Any, *, commit: bool = False, fetch: bool = False) -> Any:
    def call(self: Any, *args: Any) -> Any:
        started = _cpu()
        try:
            return method(self, *args)
        finally:
            spent = _cpu() - started
            DRIVER.seconds += spent
            DRIVER.calls += not fetch
            if commit:
                DRIVER.commit_seconds += spent

    return call


class _Cursor(sqlite3.Cursor):
    execute = _timed(sqlite3.Cursor.execute)
    executemany = _timed(sqlite3.Cursor.executemany)
    fetchone = _timed(sqlite3.Cursor.fetchone, fetch=True)
    fetchmany = _timed(sqlite3.Cursor.fetchmany, fetch=True)
    fetchall = _timed(sqlite3.Cursor.fetchall, fetch=True)


class _Connection(sqlite3.Connection):
    execute = _timed(sqlite3.Connection.execute)
    commit = _timed(sqlite3.Connection.commit, commit=True)

    def cursor(self, factory: Any = _Cursor) -> Any:  # type: ignore[override]
        return super().cursor(factory)


def install() -> None:
    """Every sqlite3 connection opened from now on is timed (SQLAlchemy's driver module and
    aiosqlite's both call `connect` at connection time)."""
    plain = sqlite3.dbapi2.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        kwargs.setdefault("factory", _Connection)
        return plain(*args, **kwargs)

    sqlite3.dbapi2.connect = sqlite3.connect = connect  # type: ignore[assignment]
