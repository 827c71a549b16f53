"""Two `onramp run` replicas on one PostgreSQL database, polling one Telegram bot: only the
replica holding the advisory lock polls, and when it is killed the other takes over, with no
update handled twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from storage.session import Database
from tests.fakes.telegram import TelegramEmulator
from tests.support.waiting import until

ROOT = Path(__file__).resolve().parents[2]


def _leads(log: Path) -> bool:
    return log.exists() and "now leads telegram:lead" in log.read_text()


async def test_polling_runs_on_one_replica_and_moves_when_it_dies(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL database; SQLite is one process")
    with TelegramEmulator(chat_limit=None, group_limit=None, overall_limit=None) as telegram:
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
                "telegram",
                cwd=ROOT,
                env={
                    **os.environ,
                    "TELEGRAM_BOT_TOKEN": telegram.token,
                    "ONRAMP_TELEGRAM__API_URL": telegram.base_url,
                    "ONRAMP_TELEGRAM__MODE": "polling",
                    "ONRAMP_TELEGRAM__POLL_TIMEOUT_SECONDS": "1",
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
            ada, bea = telegram.user(101, "Ada"), telegram.user(102, "Bea")
            telegram.queue_update(telegram.start_message(ada))
            await until(lambda: len(telegram.messages_to(101)) >= 2, "Ada's welcome", seconds=30)

            replicas[leader].send_signal(signal.SIGKILL)
            await replicas[leader].wait()
            telegram.queue_update(telegram.start_message(bea))
            await until(lambda: len(telegram.messages_to(102)) >= 2, "Bea's welcome", seconds=30)
            assert _leads(logs[1 - leader])  # the survivor took over the polling

            await asyncio.sleep(1.5)  # a poll or two more: nothing is handled again
            for chat in (101, 102):
                texts = [m["text"] for m in telegram.messages_to(chat)]
                assert texts[0].startswith("👋 Hello"), texts
                assert len(texts) == len(set(texts)) == 2  # a welcome and the first question
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
