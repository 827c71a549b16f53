"""10,000 check-ins falling due at once: every one asked, none twice — in one process on
SQLite, and on PostgreSQL across three replicas, one of which is killed mid-burst."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.memory import MemoryAdapter
from bot.runtime import Onramp
from storage.migrate import upgrade
from storage.models import CheckIn, DueWork, Outbox
from storage.session import Database
from tests.bot.checkin_burst import seed
from tests.clock import RunningClock
from tests.conftest import POSTGRES_URL, SKIP_POSTGRES, FakeClock
from tests.postgres import create_postgres_database, drop_postgres_database
from tests.support.waiting import until

ROOT = Path(__file__).resolve().parents[2]
PAIRS = 5_000  # 10,000 people, each with a check-in due now
# Each burst takes about a minute of one core; beside the suite's other workers on two cores,
# up to twice that. The suite's 120 s limit is for tests that hang, not for these.
BURST_TIMEOUT = 300


async def _count(db: Database, statement: object) -> int:
    async with db.reading() as session:
        return int((await session.execute(statement)).scalar_one())


@pytest.mark.timeout(BURST_TIMEOUT)
async def test_a_burst_of_10000_check_ins_on_sqlite_is_delivered_once_each(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    await seed(onramp.db, pairs=PAIRS, later=1, now=clock.now, platform="memory")
    while await onramp.timers.tick():
        pass
    for _ in range(600):
        if len(memory.sent) >= 2 * PAIRS:
            break
        await onramp.sender.deliver(None)
        await asyncio.sleep(0.05)
    per_person = Counter(message.recipient for message in memory.sent)
    assert len(per_person) == 2 * PAIRS
    assert set(per_person.values()) == {1}
    assert all("How is your mentorship with Person" in m.text for m in memory.sent)
    db = onramp.db
    assert await _count(db, select(func.count()).select_from(CheckIn)) == 2 * PAIRS
    done = select(func.count()).where(DueWork.status == "done")
    assert await _count(db, done) == 2 * PAIRS
    later = select(func.count()).where(DueWork.status == "pending")
    assert await _count(db, later) == 2 * PAIRS  # the next round, two weeks on
    assert await _count(db, select(func.count()).where(Outbox.status != "sent")) == 0


def _replica(url: str, out: Path, clock: RunningClock) -> subprocess.Popen[bytes]:
    with out.open("wb") as stdout:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "tests/bot/checkin_burst.py"), url, *clock.argv()],
            stdout=stdout,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
            env={**os.environ, "ONRAMP_LOGGING__LEVEL": "ERROR"},
        )


def _delivered(out: Path) -> list[tuple[str, str]]:
    lines = out.read_text().splitlines() if out.exists() else []
    return [tuple(line.split(" ", 1)) for line in lines if line != "ready"]  # type: ignore[misc]


@pytest.mark.processes
@pytest.mark.timeout(BURST_TIMEOUT)
@pytest.mark.skipif(not POSTGRES_URL, reason=SKIP_POSTGRES)
async def test_a_burst_across_three_replicas_survives_one_killed_mid_burst(
    tmp_path: Path,
) -> None:
    assert POSTGRES_URL is not None
    url = await create_postgres_database(POSTGRES_URL)
    db = Database.from_url(url)
    replicas: list[subprocess.Popen[bytes]] = []
    try:
        await upgrade(db.engine)
        # One running clock for this test and its replicas (the killed one's leases run out
        # in real time), starting at the same morning whatever the hour the suite runs at.
        clock = RunningClock()
        await seed(db, pairs=PAIRS, later=1, now=clock.now, platform="memory")
        outputs = [tmp_path / f"replica{n}.out" for n in range(3)]
        replicas = [_replica(url, out, clock) for out in outputs]
        asked = select(func.count()).select_from(CheckIn)

        async def going() -> bool:
            return await _count(db, asked) >= 2_000

        await until(going, "the replicas to ask 2,000 check-ins", seconds=120)
        replicas[0].send_signal(signal.SIGKILL)
        replicas[0].wait()
        killed_printed = {outbox_id for outbox_id, _ in _delivered(outputs[0])}
        unsent = select(func.count()).where(Outbox.status != "sent")
        waiting = select(func.count()).where(DueWork.status.in_(("pending", "running")))

        async def finished() -> bool:
            return (
                await _count(db, asked) == 2 * PAIRS
                and await _count(db, unsent) == 0
                and await _count(db, waiting) == 2 * PAIRS  # only the next round's
            )

        await until(finished, "the two survivors to finish the burst", seconds=240)
        await asyncio.sleep(1)  # anything sent twice would be printed by now
        assert await _count(db, asked) == 2 * PAIRS  # every person asked, none twice
        assert await _count(db, select(func.count()).select_from(Outbox)) == 2 * PAIRS
        assert await _count(db, unsent) == 0
        assert await _count(db, select(func.count()).where(DueWork.status == "done")) == (2 * PAIRS)
        delivered = [pair for out in outputs for pair in _delivered(out)]
        by_message = Counter(outbox_id for outbox_id, _ in delivered)
        assert len(by_message) == 2 * PAIRS  # every message reached the adapter
        assert len({recipient for _, recipient in delivered}) == 2 * PAIRS
        # Twice only what the killed replica had handed to the platform before it could
        # record so: the messages in flight at the instant of the kill.
        twice = {outbox_id for outbox_id, n in by_message.items() if n > 1}
        assert twice <= killed_printed
        assert max(by_message.values()) <= 2
    finally:
        for replica in replicas:
            if replica.poll() is None:
                replica.terminate()
                replica.wait(10)
        await db.dispose()
        await drop_postgres_database(POSTGRES_URL, url)
