"""Engine creation: one place that knows how SQLite and PostgreSQL differ.

It is also where a database URL is read and where connecting fails, so both are said here in
an operator's words: `postgres://…` (what hosting providers hand out) means asyncpg, and a
refused connection is `cannot connect to the database at db:5432 (connection refused)`, not
a traceback.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

# The drivers Onramp runs on, by what a URL may say before "://".
_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}
_EXAMPLES = "postgresql://USER:PASSWORD@HOST:5432/NAME or sqlite:///data/onramp.db"


class DatabaseUrlError(ValueError):
    """A [database] url Onramp cannot use."""


class DatabaseUnavailable(Exception):
    """The database could not be reached or opened; the message is one line for operators."""


def async_url(url: str) -> str:
    """The URL for Onramp's async drivers: `postgres://` and `postgresql://` become
    `postgresql+asyncpg://`, `sqlite://` becomes `sqlite+aiosqlite://`; the rest of the URL,
    query string included, is kept as written (libpq's `sslmode` becomes asyncpg's `ssl`)."""
    found = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", url.strip())
    if found is None:
        raise DatabaseUrlError(f"{_redacted(url)!r} is not a database URL such as {_EXAMPLES}")
    scheme = found.group(1).lower()
    driver = _DRIVERS.get(scheme)
    if driver is None:
        raise DatabaseUrlError(f"unsupported database {scheme!r}; use {_EXAMPLES}")
    rest = url.strip()[found.end() :]
    if driver == "postgresql+asyncpg":
        rest = re.sub(r"([?&])sslmode=", r"\1ssl=", rest)
    converted = f"{driver}://{rest}"
    try:
        make_url(converted)
    except ArgumentError as exc:
        raise DatabaseUrlError(f"{_redacted(url)!r} is not a database URL: {exc}") from exc
    return converted


def _redacted(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def location(url: str | URL) -> str:
    """Where a database is, without its password: HOST:PORT, or a SQLite file's path."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}"


def unavailable(url: str | URL, error: BaseException) -> DatabaseUnavailable:
    """The one line an operator reads when connecting to or opening the database failed."""
    verb = "open" if make_url(url).get_backend_name() == "sqlite" else "connect to"
    return DatabaseUnavailable(
        f"cannot {verb} the database at {location(url)} ({_reason(error)}); check [database] url"
    )


def _reason(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return "unknown host"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.errno is not None:
        if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return "permission denied"
        if error.errno in (errno.EEXIST, errno.ENOTDIR):  # a file where its folder should be
            return "a file is in the way of its folder"
        if error.errno == errno.EISDIR:
            return "a folder, not a database file"
        return os.strerror(error.errno).lower()
    message = str(getattr(error, "orig", None) or error).strip().splitlines()
    reason = message[0] if message else type(error).__name__
    return re.sub(r"^\(.*?\)\s*", "", reason)[:200]  # SQLAlchemy's "(module.Error) " prefix


def translate_connect_errors(engine: Engine, url: str | URL) -> None:
    """Every connection `engine` opens that fails raises `DatabaseUnavailable` instead."""

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception as exc:
            raise unavailable(url, exc) from exc


def ensure_sqlite_file(url: str) -> None:
    """Create the database file's folder, and check the file can be opened or created there,
    without creating it: aiosqlite, failing to open it, reports from its thread to an event
    loop that may be closed by then (a second traceback after the first)."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a folder", database)
        if path.exists():
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=30).close()
        elif not os.access(path.parent, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "cannot create the file", database)
    except (OSError, sqlite3.Error) as exc:
        raise unavailable(url, exc) from exc


def create_engine(
    url: str, *, sqlite_synchronous: str = "NORMAL", echo: bool = False
) -> AsyncEngine:
    """An async engine; on SQLite with WAL, foreign keys on and a busy timeout."""
    url = async_url(url)
    options: dict[str, Any] = {"echo": echo}
    if is_sqlite(url):
        ensure_sqlite_file(url)
        # One writer at a time is SQLite's rule; the dispatcher serialises writes itself.
        options["connect_args"] = {"timeout": 30}
        if make_url(url).database in (None, "", ":memory:"):
            options["poolclass"] = NullPool
    else:
        options.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
    engine = create_async_engine(url, **options)
    translate_connect_errors(engine.sync_engine, url)
    if is_sqlite(url):
        configure_sqlite(engine.sync_engine, sqlite_synchronous)
    return engine


SQLITE_MMAP_BYTES = 256 * 1024 * 1024


def configure_sqlite(engine: Engine, synchronous: str, *, writing: bool = True) -> None:
    """WAL, the chosen durability, foreign keys, a busy timeout, and BEGIN IMMEDIATE; or, on
    an engine only for reading (`writing=False`), a plain BEGIN: a read transaction in WAL
    mode sees one snapshot and neither waits for the writer nor holds it up."""
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
        # Reading connections read through the operating system's page cache instead of
        # copying every page into SQLite's 2 MB cache: the health metrics scan large indexes
        # (twice as fast at 100,000 members). The writer does not: every page a mapping has
        # touched counts in the process's RSS, so a bot that writes all day showed its whole
        # database there (12 of the kudos benchmark's 123 MiB, growing with the file), while
        # a turn's few pages are served as well by SQLite's own cache.
        if not writing:
            cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        else:
            # What is deleted or overwritten is overwritten with zeros, not left in free
            # space: an erased member's words must not survive in the file (issue 20).
            cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    begin = "BEGIN IMMEDIATE" if writing else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        driver = connection.connection.driver_connection
        if isinstance(driver, sqlite3.Connection):
            # Straight to the driver: this runs for every turn's transaction, and SQLAlchemy's
            # statement machinery would double its cost.
            driver.execute(begin)
        else:  # aiosqlite (migrations): its own way
            connection.exec_driver_sql(begin)


async def watch(
    connection: AsyncConnection, every: float, until: Callable[[], bool] = lambda: False
) -> None:
    """A round trip on `connection` every `every` seconds until `until()`: raises once the
    connection is gone (a server restarted, a network cut), which is how a replica holding a
    session-level lock, or listening for notifications, learns it lost them."""
    while not until():
        await asyncio.sleep(every)
        await connection.exec_driver_sql("SELECT 1")
        await connection.commit()
