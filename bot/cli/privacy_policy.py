"""`onramp privacy policy`: what Onramp keeps, how long and why, as the settings in effect
say it (bot.toml's `[retention]`, with its ONRAMP_RETENTION__* overrides)."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from bot.cli.state import state
from bot.retention_policy import as_lines, policy

app = typer.Typer(no_args_is_help=True)


class Format(StrEnum):
    text = "text"
    json = "json"


@app.command("policy")
def print_policy(
    format: Annotated[Format, typer.Option("--format", "-f", help="What to print.")] = (
        Format.text
    ),
) -> None:
    """Print the retention policy in effect: one line per kind of data (what, how long,
    why). A data-protection officer's page: docs/operators/privacy.md."""
    kept = policy(state.settings().retention)
    if format is Format.json:
        typer.echo(json.dumps([one.as_json() for one in kept], indent=2, ensure_ascii=False))
        return
    for line in as_lines(kept):
        typer.echo(f"- {line}")
