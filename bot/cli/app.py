"""`onramp --help` lists every command; each lives in its own module.

An operator's mistake (settings, the database URL, a database that cannot be reached) is one
line and an exit code for every command, said here once: 2 for settings, 1 for the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from bot.cli import (
    campaigns,
    content,
    database,
    events,
    i18n,
    mentors,
    privacy,
    recognition,
    roles,
    serve,
)
from bot.cli.state import state
from bot.settings_problems import SettingsError
from bot.version import VERSION
from storage.database import DatabaseUnavailable, DatabaseUrlError

SETTINGS_EXIT = 2
FAILURE_EXIT = 1


class _OperatorErrors(TyperGroup):
    """Every command runs inside this group's `invoke`: the one place mistakes are said."""

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click.Context
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            for problem in exc.problems:
                typer.secho(f"Settings problem: {problem}", fg="red", err=True)
            raise typer.Exit(SETTINGS_EXIT) from None
        except DatabaseUrlError as exc:
            typer.secho(f"Settings problem: [database] url: {exc}", fg="red", err=True)
            raise typer.Exit(SETTINGS_EXIT) from None
        except DatabaseUnavailable as exc:
            typer.secho(str(exc), fg="red", err=True)
            raise typer.Exit(FAILURE_EXIT) from None


app = typer.Typer(
    name="onramp",
    cls=_OperatorErrors,
    help="Onramp: welcomes newcomers to your community, in chat.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"onramp {VERSION}")
        raise typer.Exit()


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
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
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
app.add_typer(events.app, name="events", help="Failed events: list them; run one again.")
app.add_typer(
    i18n.app, name="i18n", help="Translations: export and import PO files; coverage status."
)
