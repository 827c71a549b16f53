"""Database URLs as operators write them, failures to connect said in one line, and a SQLite
transaction that lets waiting work run before it holds the event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from storage.database import DatabaseUnavailable, DatabaseUrlError, async_url, create_engine
from storage.session import Database


@pytest.mark.parametrize(
    ("given", "used"),
    [
        (
            "postgres://u:p@db.example:5432/onramp",
            "postgresql+asyncpg://u:p@db.example:5432/onramp",
        ),
        ("postgresql://u:p@db/onramp", "postgresql+asyncpg://u:p@db/onramp"),
        ("postgresql+asyncpg://u@db/onramp", "postgresql+asyncpg://u@db/onramp"),
        ("POSTGRES://u@db/onramp", "postgresql+asyncpg://u@db/onramp"),
        # The query string is kept; libpq's sslmode is asyncpg's ssl.
        (
            "postgres://u:p%40ss@db/onramp?sslmode=require&application_name=onramp",
            "postgresql+asyncpg://u:p%40ss@db/onramp?ssl=require&application_name=onramp",
        ),
        ("sqlite:///data/onramp.db", "sqlite+aiosqlite:///data/onramp.db"),
        ("sqlite:////var/lib/onramp/onramp.db", "sqlite+aiosqlite:////var/lib/onramp/onramp.db"),
        ("sqlite+pysqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("  sqlite:///x.db ", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_urls_map_to_the_async_drivers(given: str, used: str) -> None:
    assert async_url(given) == used


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("mysql://u:secret@db/onramp", "unsupported database 'mysql'; use postgresql://"),
        ("postgresql+psycopg2://u@db/x", "unsupported database 'postgresql+psycopg2'"),
        ("data/onramp.db", "'data/onramp.db' is not a database URL such as"),
        ("", "'' is not a database URL"),
    ],
)
def test_urls_onramp_cannot_use_are_refused_in_a_sentence(given: str, said: str) -> None:
    with pytest.raises(DatabaseUrlError) as refused:
        async_url(given)
    assert str(refused.value).startswith(said)
    assert "secret" not in str(refused.value)


async def test_a_refused_connection_is_one_line_without_the_password() -> None:
    engine = create_engine("postgres://onramp:secret@127.0.0.1:1/onramp")
    try:
        with pytest.raises(DatabaseUnavailable) as failed:
            async with engine.connect():
                pass
    finally:
        await engine.dispose()
    assert str(failed.value) == (
        "cannot connect to the database at 127.0.0.1:1 (connection refused); check [database] url"
    )


async def test_a_sqlite_transaction_lets_waiting_work_run_first(tmp_path: Path) -> None:
    """A SQLite transaction runs on the loop's thread from its first statement to its commit;
    a health probe or a webhook waiting to be answered gets the loop before it, not after a
    whole queue of back-to-back transactions."""
    db = Database.from_url(f"sqlite:///{tmp_path / 'onramp.db'}")
    order: list[str] = []

    async def probe() -> None:
        order.append("probe")

    try:
        waiting = asyncio.get_running_loop().create_task(probe())  # ready, not yet run
        async with db.transaction():
            order.append("transaction")
        await waiting
    finally:
        await db.dispose()
    assert order == ["probe", "transaction"]
