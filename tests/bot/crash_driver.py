"""Runs the real console bot in its own process for the kill -9 test, recording deliveries.

    python tests/bot/crash_driver.py DATABASE_URL RECORD_FILE USER START ANCHOR

Every delivered message's outbox id is appended (and fsynced) to RECORD_FILE right after the
console printed it, so the test can tell exactly what reached the member. START ANCHOR is
the test's clock (tests/clock.py): each restart of the bot goes on with the same time.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from adapters.console import ConsoleAdapter  # noqa: E402
from bot.messages import OutgoingMessage  # noqa: E402
from bot.runtime import Onramp  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from tests.clock import from_argv  # noqa: E402


class RecordingConsole(ConsoleAdapter):
    record: Path

    async def send(self, message: OutgoingMessage) -> str:
        delivery = await super().send(message)
        with self.record.open("a") as record:
            record.write(f"{message.outbox_id}\n")
            record.flush()
            os.fsync(record.fileno())
        return delivery


async def main(url: str, record: str, user: str, clock: Callable[[], datetime]) -> None:
    settings = load_settings(
        ROOT / "bot.toml",
        database={"url": url},
        content={"path": ROOT / "content"},
        console={"user": user},
    )
    console = RecordingConsole(settings)
    console.record = Path(record)
    app = await Onramp.create(settings, {"console": console}, clock=clock)
    await app.start()
    try:
        await app.run_until_closed()
    finally:
        await app.stop()


if __name__ == "__main__":
    url, record, user, start, anchor = sys.argv[1:6]
    asyncio.run(main(url, record, user, from_argv(start, anchor)))
