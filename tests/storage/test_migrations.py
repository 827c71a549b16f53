"""Migrations: upgrading is safe to repeat, and the models match what the migrations build."""

from __future__ import annotations

from pathlib import Path
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


def test_the_newest_revision_is_read_from_the_file_names_as_alembic_reads_it() -> None:
    """`latest_revision` (what a start compares the database with, without Alembic) relies on
    each migration being named after its revision and revising the one before."""
    from alembic.script import ScriptDirectory

    from storage.migrate import MIGRATIONS, latest_revision

    scripts = ScriptDirectory(str(MIGRATIONS))
    revisions = list(scripts.walk_revisions())  # newest first, along down_revision
    assert latest_revision() == head_revision() == revisions[0].revision
    for script in revisions:
        assert script.path is not None
        assert script.path.rsplit("/", 1)[-1].startswith(f"{script.revision}_")
    numbers = [int(script.revision) for script in reversed(revisions)]
    assert numbers == list(range(1, len(numbers) + 1))  # one after the other, none skipped


def test_a_start_on_an_up_to_date_database_does_not_load_alembic(tmp_path: Path) -> None:
    import subprocess
    import sys

    url = f"sqlite+aiosqlite:///{tmp_path / 'onramp.db'}"
    check = (
        "import asyncio, sys\n"
        "from storage.database import create_engine\n"
        "from storage.migrate import upgrade\n"
        f"engine = create_engine({url!r})\n"
        "asyncio.run(upgrade(engine))\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'mako'}))\n"
    )

    def loaded() -> str:
        done = subprocess.run(
            [sys.executable, "-c", check],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1]

    assert loaded() == "['alembic', 'mako']"  # a new database: migrated, with Alembic
    assert loaded() == "[]"  # at the newest revision: nothing to do, and no Alembic
