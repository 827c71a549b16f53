"""Work only one replica may do: Telegram long polling, a Zulip event queue.

With several `onramp run` processes on one PostgreSQL database, such work runs on the replica
holding a session-level advisory lock named after it. The lock lives on one dedicated
connection: if the replica dies, or its connection does, PostgreSQL releases the lock and
another replica, which keeps trying every `retry_seconds`, takes the work over. The holder
checks its connection every `retry_seconds` as well and stops the work at once if it is lost,
so two replicas never do it at the same time for longer than that.

SQLite is one process: the work simply runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import database
from storage.session import Database

log = logging.getLogger("onramp.leadership")
# Advisory locks of two int4 keys live apart from the one-key locks the outbox takes per
# recipient; the first key says "Onramp" ("ONRP").
LOCK_CLASS = 0x4F4E5250

Work = Callable[[], Awaitable[None]]


class Leadership:
    def __init__(self, db: Database, name: str, *, retry_seconds: float = 5.0) -> None:
        self.db = db
        self.name = name
        self.retry_seconds = retry_seconds
        self.leading = asyncio.Event()  # set while this replica holds the lock
        self.tried = asyncio.Event()  # set once it has tried to take the lock the first time

    async def run(self, work: Work) -> None:
        """Run `work` whenever this replica leads, until cancelled. `work` is cancelled when
        leadership is lost; if it returns or fails, it is started again while leading."""
        if self.db.sqlite:
            while True:
                self.leading.set()
                self.tried.set()
                await self._guarded(work)
                await asyncio.sleep(self.retry_seconds)
        while True:
            try:
                async with self.db.engine.connect() as connection:
                    if await self._acquire(connection):
                        await self._lead(connection, work)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is unreachable: try again later
                log.warning("leadership %s: %s", self.name, exc)
            finally:
                self.leading.clear()
                self.tried.set()
            await asyncio.sleep(self.retry_seconds)

    async def _acquire(self, connection: AsyncConnection) -> bool:
        statement = select(func.pg_try_advisory_lock(LOCK_CLASS, func.hashtext(self.name)))
        acquired = bool((await connection.execute(statement)).scalar())
        await connection.commit()  # the lock is the session's; no transaction stays open
        return acquired

    async def _lead(self, connection: AsyncConnection, work: Work) -> None:
        log.info("this replica now leads %s", self.name)
        self.leading.set()
        self.tried.set()  # (after `leading`: who waits for it sees this replica lead)
        task = asyncio.create_task(self._guarded_forever(work), name=f"lead:{self.name}")
        try:
            await database.watch(connection, self.retry_seconds, until=task.done)
        finally:
            log.info("this replica no longer leads %s", self.name)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            with contextlib.suppress(Exception):
                unlock = select(func.pg_advisory_unlock(LOCK_CLASS, func.hashtext(self.name)))
                await connection.execute(unlock)
                await connection.commit()

    async def _guarded_forever(self, work: Work) -> None:
        while True:
            await self._guarded(work)
            await asyncio.sleep(self.retry_seconds)

    async def _guarded(self, work: Work) -> None:
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed; starting it again", self.name)
