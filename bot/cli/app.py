"""`onramp --help` lists every command; each lives in its own module, imported when it runs.

An operator's mistake (settings, the database URL, a database that cannot be reached) is one
line and an exit code for every command, said here once: 2 for settings, 1 for the rest.

A command's module is imported only when that command runs (or `--help` lists them all): the
web server, the scheduler and the campaign screens cost nothing to `onramp check`, and every
command starts sooner.
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from bot.cli.state import state
from bot.settings_problems import SettingsError
from bot.version import VERSION
from storage.database import DatabaseUnavailable, DatabaseUrlError

Command = Any  # typer's vendored click.Command
SETTINGS_EXIT = 2
FAILURE_EXIT = 1


# Every command, in the order `--help` lists them: name -> ("module:attribute", help). The
# attribute is a command function, or a `typer.Typer` whose commands are its subcommands.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": (
        "bot.cli.serve:run",
        "Start the bot on the enabled adapters (the console by default).",
    ),
    "check": (
        "bot.cli.content:check",
        "Validate the content tree; exit 1 with every error if broken.",
    ),
    "schema": (
        "bot.cli.schema:schema",
        "Write JSON Schemas of the content files, for editors to check them.",
    ),
    "export": ("bot.cli.privacy:export", "Print as JSON everything stored about one member."),
    "forget": ("bot.cli.privacy:forget", "Erase everything stored about one member."),
    "privacy": (
        "bot.cli.privacy_policy:app",
        "Privacy: the retention policy in effect, in words.",
    ),
    "mentors": (
        "bot.cli.mentors:mentors",
        "List mentors: languages, topics, hours, load and status.",
    ),
    "role": ("bot.cli.roles:role", "Give a member a role (manager, mentor…), or take it away."),
    "dashboard": (
        "bot.cli.dashboard:dashboard",
        "Serve the managers' dashboard here; print a sign-in link.",
    ),
    "match": (
        "bot.cli.mentors:match",
        "Match every waiting newcomer, and weigh open offers again; print what changed.",
    ),
    "recognition": (
        "bot.cli.recognition:app",
        "Recognition: export who was thanked, for what.",
    ),
    "report": ("bot.cli.report:report", "Community health (CHAOSS metrics): tables, JSON or CSV."),
    "campaign": (
        "bot.cli.campaigns:app",
        "Campaigns: preview, send and follow a message to a segment of members.",
    ),
    "db": ("bot.cli.database:app", "Database migrations."),
    "events": ("bot.cli.events:app", "Failed events: list them; run one again."),
    "i18n": (
        "bot.cli.i18n:app",
        "Translations: export and import PO files; coverage status.",
    ),
}


def _load(name: str) -> Command:
    """The command `name`, its module imported now, built as `app.command(name, help=...)`
    (or `app.add_typer(...)` for a group of subcommands) would have built it."""
    where, help_text = COMMANDS[name]
    module, attribute = where.split(":")
    # The import makes tens of thousands of objects that live as long as the command; the
    # collector sweeping them over and over while they are made is a sixth of its start-up.
    collecting = gc.isenabled()
    gc.disable()
    try:
        loaded = getattr(importlib.import_module(module), attribute)
    finally:
        if collecting:
            gc.enable()
    # Built by typer itself, in an app with the same markup: the same options and help.
    single = typer.Typer(rich_markup_mode="markdown", add_completion=False)
    if isinstance(loaded, typer.Typer):
        single.add_typer(loaded, name=name, help=help_text)
        return typer.main.get_group(single).commands[name]
    single.command(name, help=help_text)(loaded)
    return typer.main.get_command(single)


class _Commands(MutableMapping[str, Command]):
    """The group's commands: every name in COMMANDS, each built the first time it is asked
    for (click reads a group's commands through this mapping only)."""

    def __init__(self, built: MutableMapping[str, Command]) -> None:
        self._built = dict(built)

    def __getitem__(self, name: str) -> Command:
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = _load(name)
        return self._built[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._built if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS) + sum(1 for name in self._built if name not in COMMANDS)

    def __contains__(self, name: object) -> bool:
        return name in COMMANDS or name in self._built


class _OperatorErrors(TyperGroup):
    """Every command runs inside this group's `invoke`: the one place mistakes are said. Its
    commands are imported as they are needed (`_Commands`)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.commands = _Commands(self.commands)

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
