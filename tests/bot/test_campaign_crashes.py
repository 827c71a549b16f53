"""A campaign survives SIGKILL. Killed while planning, or halfway through sending, then
started again: every recipient gets the message once, nobody else gets it — on SQLite (the
one process killed and restarted) and on PostgreSQL (two replicas; one is killed, the other
and the restarted one finish).

The one honest exception is the at-least-once instant: a message the killed replica had
handed to a platform but not yet recorded when it died is sent again. Such a second copy is
counted only if it is exactly that: the same outbox row, printed by the killed replica, and
not recorded as sent right after the kill. Any other second copy fails the test.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.settings import SenderSettings
from storage.migrate import upgrade
from storage.models import Campaign, CampaignRecipient, Outbox
from storage.session import Database
from tests.bot import campaign_driver as driver
from tests.clock import RunningClock
from tests.conftest import CONTENT, POSTGRES_URL, SKIP_POSTGRES
from tests.postgres import create_postgres_database, drop_postgres_database
from tests.support.waiting import until

pytestmark = pytest.mark.processes  # timed real processes: one at a time (tests/conftest.py)

MEMBERS = 4_000  # about 2,300 recipients across the four platforms
KEY = "community_call_crash"
CONCURRENCY = SenderSettings().concurrency


@pytest.fixture
def content(tmp_path: Path) -> Path:
    tree = tmp_path / "content"
    shutil.copytree(CONTENT, tree)
    (tree / "campaigns" / f"{KEY}.yaml").write_text(driver.campaign_file(KEY), encoding="utf-8")
    return tree


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'onramp.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    created = await create_postgres_database(POSTGRES_URL)
    try:
        yield created
    finally:
        await drop_postgres_database(POSTGRES_URL, created)


async def _state(db: Database) -> str | None:
    async with db.reading() as session:
        return (await session.execute(select(Campaign.state).where(Campaign.key == KEY))).scalar()


async def _statuses(db: Database) -> Counter[str]:
    async with db.reading() as session:
        rows = await session.execute(
            select(CampaignRecipient.status, func.count()).group_by(CampaignRecipient.status)
        )
        return Counter(dict(rows.all()))  # type: ignore[arg-type]


async def _outbox(db: Database) -> Counter[str]:
    async with db.reading() as session:
        rows = await session.execute(select(Outbox.status, func.count()).group_by(Outbox.status))
        return Counter(dict(rows.all()))  # type: ignore[arg-type]


def _kill(replica: subprocess.Popen[bytes]) -> None:
    replica.send_signal(signal.SIGKILL)
    replica.wait()


@pytest.mark.parametrize("moment", ["planning", "sending"])
async def test_a_campaign_killed_mid_way_reaches_everyone_once(
    url: str, content: Path, tmp_path: Path, moment: str
) -> None:
    db = Database.from_url(url)
    replicas: list[subprocess.Popen[bytes]] = []
    try:
        await upgrade(db.engine)
        # The replicas and this test share one running clock (leases run out in real time)
        # that starts at the same morning whatever the hour the suite runs at.
        clock = RunningClock()
        community = await driver.seed(db, members=MEMBERS, now=clock.now)
        expected = community.recipients()
        segment = sum(1 for member in community.members if member.in_segment)
        killed, second, restarted = (tmp_path / f"{name}.out" for name in ("a", "b", "a2"))
        outputs = [killed, restarted]
        # a manager's send
        replicas.append(driver.start(url, content, killed, plan=KEY, clock=clock.argv()))

        def start_second_replica() -> None:
            if url.startswith("postgresql"):
                replicas.append(driver.start(url, content, second, clock=clock.argv()))
                outputs.append(second)

        if moment == "planning":
            start_second_replica()

            async def planning_under_way() -> bool:
                return driver.planned_batches(killed) >= 3

            await until(planning_under_way, "the plan's first batches", seconds=20)
            _kill(replicas[0])
            assert await _state(db) == "planning"
            assert 0 < sum((await _statuses(db)).values()) < segment
        else:
            follower = driver.Follower(killed)

            async def first_replica_sending() -> bool:
                return follower.read() > 0

            # The replica to kill is sending before the second starts: on a loaded machine a
            # second replica started at once could carry the campaign alone while the first
            # is still planning, and the kill would then interrupt no send.
            await until(first_replica_sending, "the first replica's first sends", seconds=20)
            start_second_replica()

            async def sending_under_way() -> bool:
                out = follower.read() + sum(len(driver.printed(o)) for o in outputs[2:])
                return out >= len(expected) // 3

            await until(sending_under_way, "a third of the messages", seconds=20)
            _kill(replicas[0])
            assert 0 < len(driver.printed(killed)) < len(expected)
        in_flight = await driver.unrecorded(db, (m[1] for m in driver.printed(killed)))
        # Handed over and unrecorded: a send holds one of the sender's slots until its
        # outcome is recorded, so at most `[sender] concurrency` (32) at any instant.
        assert len(in_flight) <= CONCURRENCY
        replicas.append(driver.start(url, content, restarted, clock=clock.argv()))

        async def finished() -> bool:
            waiting = await _outbox(db)
            return await _state(db) == "done" and not waiting["pending"] + waiting["sending"]

        await until(finished, "the campaign to be done", seconds=25)
        counted = driver.tally(expected, outputs, {killed: in_flight})
        print(counted)  # shown when the test fails
        assert counted.lost == 0
        assert counted.unexpected == 0
        assert counted.duplicated == 0  # a second copy only of what was in flight at the kill
        assert counted.in_flight_at_kill <= len(in_flight)
        if moment == "planning":
            assert counted.in_flight_at_kill == 0  # nothing had been sent
        statuses = await _statuses(db)
        assert statuses["sent"] == len(expected)
        assert statuses["excluded"] == sum(community.excluded().values())
        assert await _outbox(db) == Counter({"sent": len(expected)})  # one row each
    finally:
        for replica in replicas:
            if replica.poll() is None:
                replica.terminate()
                replica.wait(10)
        await db.dispose()
