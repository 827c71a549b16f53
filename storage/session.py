"""Transactions, the same API on SQLite and PostgreSQL.

PostgreSQL is reached through asyncpg: every statement is network I/O, so the event loop serves
other members while it waits. SQLite is a library call of a few microseconds; going through
aiosqlite's thread costs about half a millisecond of hand-offs per statement, a hundred times
the work itself. So on SQLite a turn's statements run directly on the loop's thread with the
standard library driver, one writer at a time (SQLite's own rule), queued on an asyncio lock.
The async engine (aiosqlite) stays for migrations and anything outside a turn.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol, TypeVar

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, Result, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session as SyncSession
from sqlalchemy.orm import sessionmaker

from storage import prepared
from storage.database import configure_sqlite, create_engine, translate_connect_errors
from storage.prepared import Plan

T = TypeVar("T")
log = logging.getLogger("onramp.storage")


def dialect_insert(dialect: str) -> Any:
    """The INSERT construct with ON CONFLICT support for this dialect."""
    return sqlite.insert if dialect == "sqlite" else postgresql.insert


class Session(Protocol):
    """What storage and the core use of a session, whichever database is underneath."""

    async def execute(self, statement: Any, params: Any = None) -> Any: ...
    async def core(self, statement: Any, params: Any = None) -> Any:
        """Run a Core statement on the transaction's connection: no ORM bookkeeping, no
        autoflush. The hot path's fixed statements go this way."""
        ...

    async def get(self, entity: type[T], ident: Any) -> T | None: ...
    def nested(self) -> AbstractAsyncContextManager[None]:
        """A savepoint: what runs inside is rolled back alone if it raises."""
        ...

    async def flush(self) -> None: ...
    async def delete(self, instance: object) -> None: ...
    def scrub_after_commit(self) -> None:
        """Once this transaction commits, leave no copy of what it deleted or overwrote in
        the database's files (SQLite: empty its log of recent pages; an erasure asks)."""
        ...

    def add(self, instance: object) -> None: ...
    def add_all(self, instances: Sequence[object]) -> None: ...
    def get_bind(self) -> Any: ...
    @property
    def orm(self) -> SyncSession:
        """The synchronous ORM session underneath (its identity map, new and dirty objects)."""
        ...


class _Additions:
    """What both implementations do the same way: adding objects and naming the bind."""

    _session: SyncSession | AsyncSession
    scrub = False  # asked by scrub_after_commit

    def scrub_after_commit(self) -> None:
        self.scrub = True

    def add(self, instance: object) -> None:
        self._session.add(instance)

    def add_all(self, instances: Sequence[object]) -> None:
        self._session.add_all(instances)

    def get_bind(self) -> Any:
        return self._session.get_bind()


class LoopSession(_Additions):
    """A synchronous SQLAlchemy session behind the async `Session` API, for SQLite.

    `core` runs prepared statements straight on the driver (`storage/prepared.py`) when it is
    given a plan cache; without one (with `echo` on, so every statement is logged) SQLAlchemy
    runs them. Given a `connection` instead of an ORM session, it makes its ORM session only
    when something asks for one: a transaction of Core statements alone (the sender's record
    of what it delivered) never pays for the session's setup and teardown.
    """

    def __init__(
        self,
        session: SyncSession | None,
        plans: dict[Any, Plan | None] | None = None,
        connection: Connection | None = None,
    ) -> None:
        assert session is not None or connection is not None
        self._orm_session = session
        self._connection = connection
        self._plans = plans
        self._cursor: Any = None

    @property
    def _session(self) -> SyncSession:  # type: ignore[override]  # made on first use
        if self._orm_session is None:
            # No autoflush: a turn flushes its ORM changes once, where it needs them.
            self._orm_session = SyncSession(
                bind=self._connection,
                expire_on_commit=False,
                autoflush=False,
                join_transaction_mode="rollback_only",
            )
        return self._orm_session

    def _bound(self) -> Connection:
        if self._connection is None:
            self._connection = self._session.connection()
        return self._connection

    def get_bind(self) -> Any:
        if self._orm_session is None and self._connection is not None:
            return self._connection
        return self._session.get_bind()

    def finish(self) -> None:
        """Flush the ORM session's changes, if it was ever made (at the transaction's end)."""
        if self._orm_session is not None:
            self._orm_session.flush()

    def close(self) -> None:
        if self._orm_session is not None:
            self._orm_session.close()

    async def execute(self, statement: Any, params: Any = None) -> Result[Any]:
        return self._session.execute(statement, params)

    async def core(self, statement: Any, params: Any = None) -> Any:
        plans = self._plans
        if plans is None or params is None:
            return self._bound().execute(statement, params)
        one = params if isinstance(params, Mapping) else (params[0] if params else None)
        if one is None:
            return self._bound().execute(statement, params)
        # An INSERT or UPDATE sets the columns it is given: its SQL depends on their names.
        key = (statement, frozenset(one))
        try:
            plan = plans[key]
        except KeyError:
            if len(plans) >= _MAX_PLANS:  # statements built per call do not pile up
                plans.clear()
            plan = plans[key] = prepared.plan_for(statement, self.get_bind().dialect, one)
        if plan is None:
            return self._bound().execute(statement, params)
        if self._cursor is None:
            driver = self._bound().connection.driver_connection
            assert driver is not None
            self._cursor = driver.cursor()
        return prepared.execute(self._cursor, plan, params)

    async def get(self, entity: type[T], ident: Any) -> T | None:
        return self._session.get(entity, ident)

    @asynccontextmanager
    async def nested(self) -> AsyncIterator[None]:
        with self._session.begin_nested():
            yield

    async def flush(self) -> None:
        self.finish()

    async def delete(self, instance: object) -> None:
        self._session.delete(instance)

    @property
    def orm(self) -> SyncSession:
        return self._session


_MAX_PLANS = 256


class AsyncSessionAdapter(_Additions):
    """An AsyncSession (PostgreSQL) behind the same `Session` API."""

    def __init__(self, session: AsyncSession) -> None:
        self._session: AsyncSession = session

    async def execute(self, statement: Any, params: Any = None) -> Result[Any]:
        result: Result[Any] = await self._session.execute(statement, params)
        return result

    async def core(self, statement: Any, params: Any = None) -> Any:
        connection = await self._session.connection()
        return await connection.execute(statement, params)

    async def get(self, entity: type[T], ident: Any) -> T | None:
        return await self._session.get(entity, ident)

    @asynccontextmanager
    async def nested(self) -> AsyncIterator[None]:
        async with self._session.begin_nested():
            yield

    async def flush(self) -> None:
        await self._session.flush()

    async def delete(self, instance: object) -> None:
        await self._session.delete(instance)

    @property
    def orm(self) -> SyncSession:
        return self._session.sync_session


class Database:
    def __init__(self, engine: AsyncEngine, *, sqlite_synchronous: str = "NORMAL") -> None:
        self.engine = engine
        # Prepared statements, unless every statement is to be logged by SQLAlchemy.
        self._plans: dict[Any, Plan | None] | None = None if engine.echo else {}
        self.sqlite = engine.dialect.name == "sqlite"
        self._gate = asyncio.Lock()
        self._async_sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self._sync_engine: Engine | None = None
        # SQLite: one connection for every write transaction, kept open: taking one from the
        # pool and handing it back (with its reset) cost as much as a turn's statements.
        self._writer: Connection | None = None
        if self.sqlite:
            url = make_url(engine.url).set(drivername="sqlite+pysqlite")
            self._sync_engine = create_sync_engine(url, connect_args={"timeout": 30})
            translate_connect_errors(self._sync_engine, url)
            configure_sqlite(self._sync_engine, sqlite_synchronous)
            # Reads on connections of their own, which begin without taking the write lock: a
            # long read (a dashboard page, `onramp report` beside a running bot) neither waits
            # for a transaction in progress nor holds up the next one.
            self._read_engine = create_sync_engine(url, connect_args={"timeout": 30})
            translate_connect_errors(self._read_engine, url)
            configure_sqlite(self._read_engine, sqlite_synchronous, writing=False)
            self._read_sessions = sessionmaker(
                self._read_engine, expire_on_commit=False, autoflush=False
            )

    @classmethod
    def from_url(
        cls, url: str, *, sqlite_synchronous: str = "NORMAL", echo: bool = False
    ) -> Database:
        engine = create_engine(url, sqlite_synchronous=sqlite_synchronous, echo=echo)
        return cls(engine, sqlite_synchronous=sqlite_synchronous)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        """One unit of work: committed on success, rolled back on any exception."""
        if self.sqlite:
            # A SQLite transaction holds the event loop from its first statement to its commit
            # (a group commit of 64 turns: a quarter of a second), and the next one could start
            # straight after it: let whatever is waiting run first (a health probe, a webhook
            # to acknowledge), so a burst of work never starves the rest.
            await asyncio.sleep(0)
            async with self._gate:
                connection = self._writing_connection()
                with connection.begin():  # committed on success, else rolled back
                    session = LoopSession(None, self._plans, connection)
                    try:
                        yield session
                        session.finish()
                    finally:
                        session.close()
                if session.scrub:
                    _empty_the_log(connection)
            return
        async with self._async_sessions() as async_session, async_session.begin():
            yield AsyncSessionAdapter(async_session)

    def _writing_connection(self) -> Connection:
        """The connection write transactions run on (SQLite's one writer); a new one if it
        was closed or invalidated (a disconnect)."""
        writer = self._writer
        if writer is None or writer.closed or writer.invalidated:
            assert self._sync_engine is not None
            writer = self._writer = self._sync_engine.connect()
        return writer

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Session]:
        if self.sqlite:
            with self._read_sessions() as session:
                yield LoopSession(session, self._plans)
            return
        async with self._async_sessions() as async_session:
            yield AsyncSessionAdapter(async_session)

    async def dispose(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._sync_engine is not None:
            self._sync_engine.dispose()
            self._read_engine.dispose()
        await self.engine.dispose()


def _empty_the_log(connection: Connection) -> None:
    """Copy SQLite's log of recent pages (the WAL, which still holds the pages as they were
    before) into the database and truncate it. With `secure_delete` on the writer, the pages
    copied in hold no trace of what was deleted. A reader in the middle of a long read keeps
    its pages: then it is said, and the next checkpoint overwrites them."""
    driver = connection.connection.driver_connection  # outside any transaction
    assert driver is not None
    busy, _, _ = driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        log.warning("the database's log could not be emptied after an erasure: a read was open")


__all__ = ["AsyncSessionAdapter", "Database", "LoopSession", "Session"]
