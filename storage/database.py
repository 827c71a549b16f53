"""Engine creation: one place that knows how SQLite and PostgreSQL differ."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def ensure_sqlite_directory(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def create_engine(
    url: str, *, sqlite_synchronous: str = "NORMAL", echo: bool = False
) -> AsyncEngine:
    """An async engine; on SQLite with WAL, foreign keys on and a busy timeout."""
    options: dict[str, Any] = {"echo": echo}
    if is_sqlite(url):
        ensure_sqlite_directory(url)
        # One writer at a time is SQLite's rule; the dispatcher serialises writes itself.
        options["connect_args"] = {"timeout": 30}
        if make_url(url).database in (None, "", ":memory:"):
            options["poolclass"] = NullPool
    else:
        options.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
    engine = create_async_engine(url, **options)
    if is_sqlite(url):
        configure_sqlite(engine.sync_engine, sqlite_synchronous)
    return engine


def configure_sqlite(engine: Engine, synchronous: str) -> None:
    """WAL, the chosen durability, foreign keys, a busy timeout, and BEGIN IMMEDIATE."""
    if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ValueError(
            f"sqlite synchronous must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}"
        )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling is replaced by explicit BEGIN (see below), so that
        # a transaction takes the write lock at once instead of failing to upgrade it later.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Checkpoint every ~40 MB of WAL instead of every 4 MB: a turn rewrites the same few
        # pages, which a checkpoint then copies (and syncs) once instead of ten times.
        cursor.execute("PRAGMA wal_autocheckpoint=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        driver = connection.connection.driver_connection
        if isinstance(driver, sqlite3.Connection):
            # Straight to the driver: this runs for every turn's transaction, and SQLAlchemy's
            # statement machinery would double its cost.
            driver.execute("BEGIN IMMEDIATE")
        else:  # aiosqlite (migrations): its own way
            connection.exec_driver_sql("BEGIN IMMEDIATE")
