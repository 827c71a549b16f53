"""Transactions. SQLite allows one writer: writes queue on an asyncio lock instead of failing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql.dml import Insert

from storage.database import create_engine, is_sqlite


class Database:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._gate: asyncio.Lock | None = asyncio.Lock() if self.sqlite else None
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(
        cls, url: str, *, sqlite_synchronous: str = "NORMAL", echo: bool = False
    ) -> Database:
        return cls(create_engine(url, sqlite_synchronous=sqlite_synchronous, echo=echo))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: committed on success, rolled back on any exception."""
        async with self._gate or nullcontext(), self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    def insert_ignoring_conflicts(self, table: Table | Any, **values: Any) -> Insert:
        """INSERT … ON CONFLICT DO NOTHING in this database's dialect."""
        dialect = sqlite if self.sqlite else postgresql
        return dialect.insert(table).values(**values).on_conflict_do_nothing()

    async def dispose(self) -> None:
        await self.engine.dispose()


__all__ = ["Database", "is_sqlite"]
