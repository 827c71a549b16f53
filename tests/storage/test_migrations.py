"""Migrations: upgrading is safe to repeat, and the models match what the migrations build."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers every table on SQLModel.metadata)
from storage.database import create_engine
from storage.migrate import current_revision, head_revision, upgrade
from storage.session import Database


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """A database nobody has migrated yet (not the shared one of tests/storage/conftest.py)."""
    return empty_database_url


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_upgrade_brings_an_empty_database_to_the_head_revision(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert await current_revision(engine) is None
        await upgrade(engine)
        assert head_revision() is not None
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_upgrade_twice_is_harmless(db: Database) -> None:
    await upgrade(db.engine)
    assert await current_revision(db.engine) == head_revision()
    async with db.engine.connect() as connection:
        tables = await connection.run_sync(_tables)
    assert tables == {*SQLModel.metadata.tables, "alembic_version"}


async def test_the_models_match_the_migrations(db: Database) -> None:
    async with db.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []
