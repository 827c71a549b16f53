"""Runs the real console bot in its own process for the kill -9 test, recording deliveries.

    python tests/bot/crash_driver.py DATABASE_URL RECORD_FILE USER

Every delivered message's outbox id is appended (and fsynced) to RECORD_FILE right after the
console printed it, so the test can tell exactly what reached the member.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from adapters.console import ConsoleAdapter
from bot.messages import OutgoingMessage
from bot.runtime import Onramp
from bot.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


class RecordingConsole(ConsoleAdapter):
    record: Path

    async def send(self, message: OutgoingMessage) -> str:
        delivery = await super().send(message)
        with self.record.open("a") as record:
            record.write(f"{message.outbox_id}\n")
            record.flush()
            os.fsync(record.fileno())
        return delivery


async def main(url: str, record: str, user: str) -> None:
    settings = load_settings(
        ROOT / "bot.toml",
        database={"url": url},
        content={"path": ROOT / "content"},
        console={"user": user},
    )
    console = RecordingConsole(settings)
    console.record = Path(record)
    app = await Onramp.create(settings, {"console": console})
    await app.start()
    try:
        await app.run_until_closed()
    finally:
        await app.stop()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
