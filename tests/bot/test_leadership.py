"""Singleton work (Telegram polling, a Zulip event queue) runs on one replica at a time, and
moves to another when that one dies."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path

import pytest

from bot.leadership import Leadership
from storage.session import Database
from tests.support.waiting import until

DRIVER = Path(__file__).with_name("leader_driver.py")


def _postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL database; one SQLite process always leads")


async def _counting(counter: list[int]) -> None:
    while True:
        counter.append(1)
        await asyncio.sleep(0.01)


async def test_on_sqlite_the_one_process_leads(db: Database) -> None:
    if not db.sqlite:
        pytest.skip("SQLite only")
    ran: list[int] = []
    leader = Leadership(db, "telegram:polling", retry_seconds=0.05)
    task = asyncio.create_task(leader.run(lambda: _counting(ran)))
    await asyncio.wait_for(leader.leading.wait(), 5)
    await asyncio.sleep(0.05)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert ran


async def test_one_of_two_replicas_leads_and_the_other_takes_over(
    db: Database, database_url: str
) -> None:
    _postgres_only(database_url)
    other_db = Database.from_url(database_url)  # a second replica: its own engine and pool
    first_ran: list[int] = []
    second_ran: list[int] = []
    first = Leadership(db, "telegram:polling", retry_seconds=0.05)
    second = Leadership(other_db, "telegram:polling", retry_seconds=0.05)
    first_task = asyncio.create_task(first.run(lambda: _counting(first_ran)))
    await asyncio.wait_for(first.leading.wait(), 5)
    second_task = asyncio.create_task(second.run(lambda: _counting(second_ran)))
    try:
        await asyncio.sleep(0.3)  # several of the second's attempts
        assert first_ran and not second_ran and not second.leading.is_set()
        # Another name is another lock: the second replica may lead that one meanwhile.
        third = Leadership(other_db, "zulip:events", retry_seconds=0.05)
        third_task = asyncio.create_task(third.run(lambda: asyncio.sleep(3600)))
        await asyncio.wait_for(third.leading.wait(), 5)
        third_task.cancel()
        first_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first_task
        await asyncio.wait_for(second.leading.wait(), 5)
        seen = len(second_ran)
        await asyncio.sleep(0.05)
        assert len(second_ran) > seen
    finally:
        for task in (first_task, second_task):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await other_db.dispose()


def _pids(record: Path) -> list[int]:
    return [int(line) for line in record.read_text().split()] if record.exists() else []


async def test_killing_the_leading_process_moves_the_work_to_the_other(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    _postgres_only(database_url)
    record = tmp_path / "leaders"
    replicas = [
        await asyncio.create_subprocess_exec(
            sys.executable, str(DRIVER), database_url, "telegram:polling", str(record)
        )
        for _ in range(2)
    ]
    try:
        await until(lambda: len(_pids(record)) >= 10, "ten turns of leading", seconds=15)
        leaders = set(_pids(record))
        assert len(leaders) == 1, f"two replicas led at once: {leaders}"
        [leader] = leaders
        dead = next(p for p in replicas if p.pid == leader)
        dead.send_signal(signal.SIGKILL)
        await dead.wait()
        survivor = next(p for p in replicas if p.pid != leader)
        await until(lambda: survivor.pid in _pids(record), "the survivor leading", seconds=15)
        after = _pids(record)
        takeover = after.index(survivor.pid)
        assert set(after[:takeover]) == {leader} and set(after[takeover:]) == {survivor.pid}
    finally:
        for process in replicas:
            if process.returncode is None:
                process.kill()
                await process.wait()
