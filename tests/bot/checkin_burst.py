"""A community with many mentorships and their check-ins, written straight into the tables:
shared by the burst tests (tests/bot/test_checkin_burst.py) and bench/checkins.py.

    python tests/bot/checkin_burst.py DATABASE_URL [START ANCHOR]
        # serve due work until killed (a replica), on a test clock (tests/clock.py) if given
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from storage.models import DueWork, Identity, Member, Mentorship, utcnow  # noqa: E402
from storage.session import Database  # noqa: E402
from tests.clock import from_argv  # noqa: E402

CHUNK = 2_000


async def seed(db: Database, *, pairs: int, later: int, now: datetime, platform: str) -> None:
    """`pairs` mentorships (2 × pairs members), each person's first check-in due at `now`
    (the burst: 2 × pairs check-ins), and `later` more each, due in the weeks after."""
    async with db.transaction() as session:
        members = await session.execute(
            insert(Member.__table__).returning(Member.__table__.c.id),  # type: ignore[attr-defined]
            [
                {"display_name": f"Person {n}", "locale": "en", "roles": [], "profile": {}}
                for n in range(2 * pairs)
            ],
        )
        ids = sorted(members.scalars())
        for start in range(0, len(ids), CHUNK):
            await session.execute(
                insert(Identity.__table__),  # type: ignore[attr-defined]
                [
                    {"member_id": i, "platform": platform, "external_id": f"p{i}"}
                    for i in ids[start : start + CHUNK]
                ],
            )
        created = await session.execute(
            insert(Mentorship.__table__).returning(Mentorship.__table__.c.id),  # type: ignore[attr-defined]
            [
                {"newcomer_id": ids[2 * n], "mentor_id": ids[2 * n + 1], "started_at": now}
                for n in range(pairs)
            ],
        )
        mentorships = sorted(created.scalars())
        rows = []
        for n, mentorship in enumerate(mentorships):
            for member in (ids[2 * n], ids[2 * n + 1]):
                for number in range(later + 1):
                    rows.append(
                        {
                            "key": f"mentor.checkin:{mentorship}:{member}:{number}",
                            "kind": "mentor.checkin",
                            "member_id": member,
                            "due_at": now + timedelta(days=14 * number),
                            "payload": {
                                "mentorship": mentorship,
                                "number": number,
                                "day": 14 * number,
                                "last": False,
                            },
                            "status": "pending",
                            "attempts": 0,
                            "created_at": now,
                        }
                    )
                if len(rows) >= CHUNK:
                    await session.execute(insert(DueWork.__table__), rows)  # type: ignore[attr-defined]
                    rows = []
        if rows:
            await session.execute(insert(DueWork.__table__), rows)  # type: ignore[attr-defined]


async def serve(url: str, clock: Callable[[], datetime] = utcnow) -> None:
    """A replica: the runtime on the memory adapter, ticking due work as fast as it can; each
    message is written to stdout as `outbox-id recipient` the moment it is handed over."""
    from adapters.memory import MemoryAdapter
    from bot.messages import OutgoingMessage
    from bot.runtime import Onramp
    from bot.settings import load_settings

    settings = load_settings(
        ROOT / "bot.toml",
        database={"url": url, "migrate_on_start": False},
        content={"path": ROOT / "content"},
        clock={"tick_seconds": 3600, "lease_seconds": 15, "batch_size": 50},
        sender={"lease_seconds": 15, "sweep_seconds": 2},
        adapters={"enabled": ["memory"]},
    )

    class Printing(MemoryAdapter):
        """The platform: a message is out once its line is written."""

        async def send(self, message: OutgoingMessage) -> str:
            delivery = await super().send(message)
            print(f"{message.outbox_id} {message.recipient}", flush=True)
            return delivery

    onramp = await Onramp.create(settings, {"memory": Printing()}, clock=clock)
    await onramp.start()
    print("ready", flush=True)
    try:
        while True:
            if not await onramp.timers.tick():
                await asyncio.sleep(0.05)
    finally:
        await onramp.stop()


if __name__ == "__main__":
    url, *clock = sys.argv[1:]
    asyncio.run(serve(url, from_argv(*clock) if clock else utcnow))
