"""Databases already at the schema's head, copied from one migrated once per test process.

Running the migrations on a new database costs 0.3-1 s on SQLite and 1-2 s on PostgreSQL
(most of it waiting on the disk), and most tests want nothing but an empty schema at head. So
each test process migrates one SQLite file and one PostgreSQL database (a template) the first
time a test asks, and every test after that gets a copy: a file copy on SQLite, a
`CREATE DATABASE … TEMPLATE` on PostgreSQL. The runtime's own `upgrade` at start is then the
no-op it is in production on every start but the first.

The copies are built by the same `storage.migrate.upgrade` at the start of every run, so they
never lag behind the migrations. A test's PostgreSQL copy is dropped by a thread of its own
after the test (`drop_later`): dropping a database waits for the server's disk, from a tenth
of a second to most of one when other tests are writing, and no test needs to wait for it.

tests/storage/test_migrations.py still migrates empty databases itself (the
`empty_database_url` fixture): that path keeps its own tests.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import queue
import shutil
import tempfile
import threading
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from sqlalchemy.engine import make_url

from storage.database import create_engine
from storage.migrate import upgrade
from tests.postgres import create_postgres_database, drop_postgres_database

T = TypeVar("T")

log = logging.getLogger("tests.migrated")
_sqlite_template: Path | None = None
_postgres_templates: dict[str, str] = {}  # server URL -> the migrated template's URL


def run_in_own_loop(awaitable: Awaitable[T]) -> T:
    """Run outside the caller's event loop (which may be running): in a thread, its own loop."""

    async def _await() -> T:
        return await awaitable

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _await()).result()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()  # SQLite: the last connection closed folds its WAL into the file


def copy_sqlite(path: Path) -> Path:
    """A SQLite database at head at `path` (left as it is when the file is there already,
    perhaps open: another fixture of the same test made it)."""
    global _sqlite_template
    if _sqlite_template is None:
        folder = Path(tempfile.mkdtemp(prefix="onramp-migrated-"))
        atexit.register(shutil.rmtree, folder, True)
        template = folder / "template.db"
        run_in_own_loop(_migrate(f"sqlite+aiosqlite:///{template}"))
        _sqlite_template = template
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_sqlite_template, path)
    return path


async def postgres_template(server_url: str) -> str:
    """The name of this process's migrated template database on `server_url`'s server."""
    if server_url not in _postgres_templates:
        url = await create_postgres_database(server_url)
        await _migrate(url)  # disposed: a template must have no connection when copied
        _postgres_templates[server_url] = url
    return str(make_url(_postgres_templates[server_url]).database)


async def copy_postgres(server_url: str) -> str:
    """A new database at head on `server_url`'s server, copied from this process's template;
    its URL (drop it with tests/postgres.drop_postgres_database)."""
    return await create_postgres_database(server_url, template=await postgres_template(server_url))


class _Dropper:
    """Drops databases one after another in a thread of its own, with its own event loop."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[str, str] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def drop_later(self, server_url: str, url: str) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="drop-databases", daemon=True)
            self._thread.start()
        self._queue.put((server_url, url))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                asyncio.run(drop_postgres_database(*item))
            except Exception:  # a database left behind says whose it was (tests/postgres.py)
                log.exception("a test database was not dropped")

    def finish(self) -> None:
        """Wait until every database handed over is dropped."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None


_dropper = _Dropper()


def drop_later(server_url: str, url: str) -> None:
    """Drop the database of `url` soon, in the background; the session's end waits for it."""
    _dropper.drop_later(server_url, url)


def drop_templates() -> None:
    """At the end of the test session: wait for the databases handed to `drop_later`, then
    drop this process's PostgreSQL templates."""
    _dropper.finish()
    for server_url, url in list(_postgres_templates.items()):
        run_in_own_loop(drop_postgres_database(server_url, url))
        del _postgres_templates[server_url]
