"""A replica for test_leadership: leads `name` on the database at `url` and, while it leads,
appends its pid to `record` every few milliseconds. Killed by the test."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.leadership import Leadership
from storage.session import Database


async def main(url: str, name: str, record: Path) -> None:
    db = Database.from_url(url)

    async def work() -> None:
        while True:
            with record.open("a") as out:
                out.write(f"{os.getpid()}\n")
            await asyncio.sleep(0.02)

    await Leadership(db, name, retry_seconds=0.2).run(work)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
