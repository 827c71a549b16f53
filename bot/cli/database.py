"""`onramp db upgrade` and `onramp db current`."""

from __future__ import annotations

import asyncio

import typer

from bot.cli.state import state
from storage.migrate import current_revision, head_revision

app = typer.Typer(no_args_is_help=True)


@app.command("upgrade", help="Apply every pending migration (the bot also does at start).")
def upgrade_command() -> None:
    async def _run() -> str | None:
        async with state.database() as db:
            return await current_revision(db.engine)

    typer.echo(f"database at revision {asyncio.run(_run())}")


@app.command("current", help="Show the database's revision and the newest one available.")
def current_command() -> None:
    async def _run() -> str | None:
        async with state.database(migrate=False) as db:
            return await current_revision(db.engine)

    typer.echo(f"database: {asyncio.run(_run()) or 'empty'}; newest: {head_revision()}")
