"""`onramp --help` lists every command; each lives in its own module."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli import campaigns, content, database, mentors, privacy, recognition, roles, serve
from bot.cli.state import state

app = typer.Typer(
    name="onramp",
    help="Onramp: welcomes newcomers to your community, in chat.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)


@app.callback()
def _options(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Settings file (default: ./bot.toml or $ONRAMP_CONFIG).",
            envvar="ONRAMP_CONFIG",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    state.config = config


app.command("run", help="Start the bot on the enabled adapters (the console by default).")(
    serve.run
)
app.command("check", help="Validate the content tree; exit 1 with every error if broken.")(
    content.check
)
app.command("export", help="Print as JSON everything stored about one member.")(privacy.export)
app.command("forget", help="Erase everything stored about one member.")(privacy.forget)
app.command("mentors", help="List mentors: languages, topics, hours, load and status.")(
    mentors.mentors
)
app.command("role", help="Give a member a role (manager, mentor…), or take it away.")(roles.role)
app.command(
    "match",
    help="Match every waiting newcomer, and weigh open offers again; print what changed.",
)(mentors.match)
app.add_typer(
    recognition.app, name="recognition", help="Recognition: export who was thanked, for what."
)
app.add_typer(
    campaigns.app,
    name="campaign",
    help="Campaigns: preview, send and follow a message to a segment of members.",
)
app.add_typer(database.app, name="db", help="Database migrations.")
