"""Shared fixtures: real SQLite and real PostgreSQL, the runtime, and transcript chats."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.memory import Chat, MemoryAdapter
from bot.runtime import Onramp
from bot.settings import Settings, load_settings
from storage.migrate import upgrade
from storage.session import Database
from tests.postgres import create_postgres_database, drop_postgres_database

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"
POSTGRES_URL = os.environ.get("ONRAMP_TEST_POSTGRES_URL")
SKIP_POSTGRES = "PostgreSQL tests need ONRAMP_TEST_POSTGRES_URL (CI sets it; see README)"


class FakeClock:
    """A clock tests move by hand: timers fire when the test says time has passed."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A new database nobody has migrated yet; each test using it runs on SQLite and on
    PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'onramp.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    url = await create_postgres_database(POSTGRES_URL)
    try:
        yield url
    finally:
        await drop_postgres_database(POSTGRES_URL, url)


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """The database `db` migrates (tests/storage shares one instead, for speed)."""
    return empty_database_url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database.from_url(database_url)
    await upgrade(database.engine)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    yield load_settings(
        ROOT / "bot.toml",
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'onramp.db'}"},
        content={"path": CONTENT},
        # Tests run timers by hand (onramp.timers.tick()) on a FakeClock.
        clock={"tick_seconds": 3600},
    )


@pytest.fixture
def memory() -> MemoryAdapter:
    return MemoryAdapter()


@pytest.fixture
async def onramp(
    settings: Settings, memory: MemoryAdapter, clock: FakeClock
) -> AsyncIterator[Onramp]:
    app = await Onramp.create(settings, {"memory": memory}, clock=clock)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


@pytest.fixture
async def chat(onramp: Onramp, memory: MemoryAdapter) -> Chat:
    return Chat(memory, user="ada", display_name="Ada")
