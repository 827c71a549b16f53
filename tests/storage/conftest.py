"""Storage tests share one migrated PostgreSQL database per session, emptied before each test.

The root `database_url` fixture creates a new PostgreSQL database for every test, which the root
`db` fixture then migrates: about half a second a test, most of a minute for this suite. Here the
PostgreSQL case instead reuses one database, created and migrated once per session, and
truncates every table (restarting the id sequences) before each test, so each test still starts
from an empty schema at head. The root `db` fixture is used unchanged: it still runs `upgrade`,
a no-op at head. SQLite keeps a new file per test (that is cheap). test_migrations.py overrides
`database_url` again to get a database nobody has migrated yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest

from storage.database import create_engine
from storage.migrate import upgrade
from tests.conftest import POSTGRES_URL, SKIP_POSTGRES
from tests.postgres import create_postgres_database, drop_postgres_database
from tests.storage.rows import empty_postgres_database

T = TypeVar("T")


def _run_in_own_loop(awaitable: Awaitable[T]) -> T:
    """Run outside the tests' event loop (which may be running): in a thread with its own loop."""

    async def _await() -> T:
        return await awaitable

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _await()).result()


async def _create_migrated(server_url: str) -> str:
    url = await create_postgres_database(server_url)
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    return url


@pytest.fixture(scope="session")
def shared_postgres_url() -> Iterator[str]:
    assert POSTGRES_URL is not None
    url = _run_in_own_loop(_create_migrated(POSTGRES_URL))
    try:
        yield url
    finally:
        _run_in_own_loop(drop_postgres_database(POSTGRES_URL, url))


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each test using this runs twice: on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'onramp.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    url: str = request.getfixturevalue("shared_postgres_url")
    await empty_postgres_database(url)
    yield url
