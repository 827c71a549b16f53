"""Two `onramp run` replicas on one PostgreSQL database, serving one Zulip bot from its event
queue: only the replica holding the advisory lock reads a queue, and when it is killed the
other takes over with a queue of its own, catches up on what happened in between, and handles
nothing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import col

from storage.models import Outbox
from storage.session import Database
from tests.fakes.zulip import ZulipEmulator
from tests.support.waiting import until

ROOT = Path(__file__).resolve().parents[2]


async def _recorded(db: Database) -> None:
    """Every message in the outbox is recorded as sent."""
    statement = select(col(Outbox.status))

    async def all_sent() -> bool:
        async with db.reading() as session:
            statuses = (await session.execute(statement)).scalars().all()
        return bool(statuses) and set(statuses) == {"sent"}

    await until(all_sent, "every message recorded as sent", seconds=30)


def _leads(log: Path) -> bool:
    return log.exists() and "now leads zulip:lead" in log.read_text()


async def test_the_event_queue_is_read_by_one_replica_and_moves_when_it_dies(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL database; SQLite is one process")
    with ZulipEmulator(rate_limit=None, heartbeat_seconds=1.0) as zulip:
        logs = [tmp_path / f"replica-{n}.log" for n in range(2)]
        # `onramp run` itself, on the real clock (a process has no test clock): all it is asked
        # here is a welcome and replies to what members write, which quiet hours never hold,
        # so the hour the suite runs at changes nothing.
        replicas = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "run",
                "--adapter",
                "zulip",
                cwd=ROOT,
                env={
                    **os.environ,
                    "ZULIP_EMAIL": zulip.email,
                    "ZULIP_API_KEY": zulip.api_key,
                    "ZULIP_SITE": zulip.url,
                    "ONRAMP_ZULIP__MODE": "events",
                    "ONRAMP_DATABASE__URL": database_url,
                    "ONRAMP_WEB__ENABLED": "never",
                    "ONRAMP_LOGGING__FILE": str(log),
                },
            )
            for log in logs
        ]
        try:
            await until(lambda: any(_leads(log) for log in logs), "a leader", seconds=30)
            [leader] = [n for n, log in enumerate(logs) if _leads(log)]
            await until(lambda: zulip.long_polls == 1, "the first long poll", seconds=30)
            assert len(zulip.queue_ids) == 1  # the other replica registered none
            ada = zulip.user_joins("Ada")  # Zulip gives no language: it is asked first
            await until(lambda: len(zulip.messages_to(ada)) == 1, "Ada's welcome", seconds=30)
            # Killed between a send and its record, a replica's message would go again when
            # its lease runs out (tests/bot/test_kill.py): that is not what this test is about.
            await _recorded(db)

            replicas[leader].send_signal(signal.SIGKILL)
            await replicas[leader].wait()
            # While nobody reads a queue: Ada answers, Bea joins.
            zulip.dm_from(ada, "1")
            bea = zulip.user_joins("Bea")
            await until(lambda: len(zulip.messages_to(bea)) == 1, "Bea's welcome", seconds=30)
            await until(lambda: len(zulip.messages_to(ada)) == 3, "welcome, consent", seconds=30)
            assert _leads(logs[1 - leader])  # the survivor took over the queue
            assert len(zulip.calls("register")) == 2

            await asyncio.sleep(1.5)  # a poll or two more: nothing is handled again
            ada_texts = [m["content"] for m in zulip.messages_to(ada)]
            bea_texts = [m["content"] for m in zulip.messages_to(bea)]
            assert "Which language" in ada_texts[0] and ada_texts[1].startswith("👋 Hello Ada")
            assert "a quick question about your data" in ada_texts[2]
            assert "Which language" in bea_texts[0]
            assert len(ada_texts) == len(set(ada_texts)) == 3
            assert len(bea_texts) == len(set(bea_texts)) == 1
        finally:
            for process in replicas:
                if process.returncode is None:
                    process.send_signal(signal.SIGINT)
            for process in replicas:
                try:
                    async with asyncio.timeout(10):
                        await process.wait()
                except TimeoutError:
                    process.kill()
                    await process.wait()
