"""Apply and inspect migrations from code: `onramp db upgrade` and start-up both come here.

Alembic is imported only when there is something to do: a bot starting on a database that is
already at the newest revision (every start but the first after an upgrade) reads that from
`alembic_version` and goes on. Alembic, with Mako and the Pygments lexers Mako brings, would
otherwise stay in the bot's memory (11 MB) for nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
_NUMBERED = re.compile(r"(\d{4})_\w+\.py")  # 0017_flow_run_stopped_index.py: revision 0017


def latest_revision() -> str | None:
    """The newest revision, from the migrations' file names: each is named after its
    revision, and each revises the one before (tests/storage/test_migrations.py checks both
    against Alembic's own reading)."""
    numbers = [
        found.group(1)
        for path in (MIGRATIONS / "versions").iterdir()
        if (found := _NUMBERED.fullmatch(path.name))
    ]
    return max(numbers, default=None)


async def _stored_revision(engine: AsyncEngine) -> str | None:
    """What `alembic_version` says, without Alembic; None if it cannot say (no table yet)."""
    try:
        async with engine.connect() as connection:
            found = await connection.execute(text("SELECT version_num FROM alembic_version"))
            rows = found.all()
    except SQLAlchemyError:
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to `revision` in one transaction (where the database allows it)."""
    if revision == "head" and await _stored_revision(engine) == latest_revision():
        return  # nothing to do: no need for Alembic
    from alembic import command

    config = alembic_config(engine.url.render_as_string(hide_password=False))

    def _upgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    def _current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(_current)


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()
