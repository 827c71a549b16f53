"""Storage tests share one migrated PostgreSQL database per session, emptied before each test.

The root `database_url` fixture copies a new PostgreSQL database for every test from a migrated
template (tests/support/migrated.py): a few tenths of a second a test. Here the PostgreSQL case
instead reuses one database, copied once per session, and truncates every table (restarting the
id sequences) before each test, so each test still starts from an empty schema at head. The root
`db` fixture is used unchanged: it still runs `upgrade`, a no-op at head. SQLite keeps a new
file per test, copied from a migrated one. test_migrations.py overrides
`database_url` again to get a database nobody has migrated yet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage.session import Database
from tests.conftest import POSTGRES_URL, SKIP_POSTGRES
from tests.postgres import drop_postgres_database
from tests.storage.rows import empty_postgres_database, store_day_sets
from tests.support import migrated
from tests.support.migrated import run_in_own_loop


@pytest.fixture(scope="session")
def shared_postgres_url() -> Iterator[str]:
    assert POSTGRES_URL is not None
    url = run_in_own_loop(migrated.copy_postgres(POSTGRES_URL))
    try:
        yield url
    finally:
        run_in_own_loop(drop_postgres_database(POSTGRES_URL, url))


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each test using this runs twice: on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{migrated.copy_sqlite(tmp_path / 'onramp.db')}"
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    url: str = request.getfixturevalue("shared_postgres_url")
    await empty_postgres_database(url)
    yield url


DaySets = Callable[[Database], Awaitable[None]]


@pytest.fixture(params=["read from the rows", "stored"])
def day_sets(request: pytest.FixtureRequest) -> DaySets:
    """Run a health test twice: once reading each day's members from the rows, once after the
    day sets were stored (storage/health/daysets.py); the numbers must be the same. Call it
    once the community is built."""

    async def ready(db: Database) -> None:
        if request.param == "stored":
            assert await store_day_sets(db, datetime(2026, 12, 1, tzinfo=UTC)) > 0, (
                "nothing was stored"
            )

    return ready
