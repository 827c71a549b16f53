"""Shared fixtures: real SQLite and real PostgreSQL, the runtime, and transcript chats."""

from __future__ import annotations

import inspect
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.memory import Chat, MemoryAdapter
from bot.runtime import Onramp
from bot.settings import Settings, load_settings
from storage.migrate import upgrade
from storage.session import Database
from tests.clock import FakeClock, RunningClock
from tests.postgres import create_postgres_database, drop_postgres_database
from tests.support import migrated
from tests.support.content import content_loaded_once

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"
# The `onramp` processes tests start keep the project's compiled modules (__pycache__, ignored
# by git) instead of compiling them again each time: a fifth of a second each, hundreds of
# times, where the environment says not to write bytecode.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
# Parsed content files are cached by their bytes (flows/yaml_cache.py): the suite shares one
# cache of its own, never the user's, which every process it starts inherits.
os.environ.setdefault(
    "ONRAMP_CACHE_DIR", str(Path(tempfile.gettempdir()) / f"onramp-test-cache-{os.getuid()}")
)
POSTGRES_URL = os.environ.get("ONRAMP_TEST_POSTGRES_URL")
SKIP_POSTGRES = "PostgreSQL tests need ONRAMP_TEST_POSTGRES_URL (CI sets it; see README)"
# Tests that time real processes (kill -9 at random moments, SIGTERM mid-burst, replicas killed
# mid-way) are marked `processes`: under `-n auto --dist loadgroup` they share one worker, so
# they never run beside each other, where on two cores they would miss their deadlines. Tests
# that only do a lot in one process (the 10,000 check-ins on SQLite) are not marked, and run
# beside them.


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("processes") is not None:
            item.add_marker(pytest.mark.xdist_group("processes"))


@pytest.fixture(autouse=True, scope="session")
def _content_loaded_once() -> Iterator[None]:
    """Each content tree is read and validated once per test process, and each test gets
    its own copy (tests/support/content.py): most of a second saved in every runtime built."""
    with content_loaded_once():
        yield


@pytest.fixture(autouse=True)
def _runtime_on_a_test_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot built on the wall clock (`Onramp(...)` or `Onramp.create(...)` without
    `clock=`) makes a test pass or fail by the hour it runs at: refused in every test."""
    built = Onramp.__init__
    signature = inspect.signature(built)

    def on_a_test_clock(self: Onramp, *args: Any, **kwargs: Any) -> None:
        clock = signature.bind(self, *args, **kwargs).arguments.get("clock")
        if not isinstance(clock, FakeClock | RunningClock):
            raise AssertionError(
                "the runtime on the wall clock: give it clock= (the `clock` fixture, or a "
                "RunningClock from tests/clock.py where the test runs in real time)"
            )
        built(self, *args, **kwargs)

    monkeypatch.setattr(Onramp, "__init__", on_a_test_clock)


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


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A new database at the schema's head, copied from one migrated once per test process
    (tests/support/migrated.py; tests/storage shares one PostgreSQL database instead); each
    test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{migrated.copy_sqlite(tmp_path / 'onramp.db')}"
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    url = await migrated.copy_postgres(POSTGRES_URL)
    try:
        yield url
    finally:
        migrated.drop_later(POSTGRES_URL, url)


@pytest.fixture(scope="session", autouse=True)
def _postgres_templates_dropped() -> Iterator[None]:
    """This process's test databases and migrated PostgreSQL template are dropped by the time
    the session ends."""
    yield
    migrated.drop_templates()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The database of `database_url`, at head: the runtime's start would find nothing to do,
    and tests that migrate an empty one ask for `empty_database_url` and do so themselves."""
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
        database={"url": f"sqlite+aiosqlite:///{migrated.copy_sqlite(tmp_path / 'onramp.db')}"},
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
