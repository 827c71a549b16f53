"""`onramp report`: the community-health numbers in a terminal, as JSON or as CSV.

onramp report [--since 90d] [--until 2026-03-31] [--platform slack] [--locale fr]
              [--format table|json|csv] [--min-group 5]
"""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from bot.cli.state import state
from bot.features import build_registry
from bot.health import day_sets
from bot.health.filters import DEFAULT_SINCE, FilterError, installed_platforms, parse_filters
from bot.health.report import Report, Threshold, build, csv_text, json_text, questions
from bot.health.report_tables import render
from flows.content import ContentTree, load_tree_or_raise
from flows.problems import ContentError
from storage.health.types import Filters

USAGE_EXIT = 2


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


async def _report(filters: Filters, content: ContentTree) -> Report:
    async with state.database() as db:
        flow = content.community.onboarding_flow
        await day_sets.fill(db, state.clock(), flow)  # what a running bot's hourly job would have
        async with db.reading() as session:
            return await build(session, filters, flow, questions(content))


def report(
    since: Annotated[
        str,
        typer.Option(help="Start: a length back from now (90d, 12w, 6m, 1y) or a date."),
    ] = DEFAULT_SINCE,
    until: Annotated[
        str | None, typer.Option(help="Last day included (YYYY-MM-DD; default: up to now).")
    ] = None,
    platform: Annotated[
        str | None, typer.Option(help="Only members on this platform (default: all).")
    ] = None,
    locale: Annotated[
        str | None, typer.Option(help="Only members in this language (default: all).")
    ] = None,
    inactive_period: Annotated[
        str | None, typer.Option(help="Inactive Contributors: how far back to look (180d).")
    ] = None,
    inactive_interval: Annotated[
        str | None, typer.Option(help="Inactive Contributors: silent for how long (90d).")
    ] = None,
    format: Annotated[Format, typer.Option("--format", "-f", help="What to print.")] = (
        Format.table
    ),
    min_group: Annotated[
        int | None,
        typer.Option(
            help="For reports leaving the community: write counts below N as '<N' and leave "
            "out groups smaller than N (see docs/managers/report.md)."
        ),
    ] = None,
) -> None:
    """Community health (CHAOSS metrics) for a period: counts only, no names, no messages."""
    if min_group is not None and min_group < 2:
        typer.secho("--min-group must be 2 or more (1 would hide nothing).", fg="red", err=True)
        raise typer.Exit(USAGE_EXIT)
    settings = state.settings()
    try:
        content = load_tree_or_raise(settings.content.path, actions=build_registry().actions)
    except ContentError as exc:
        typer.secho("The content has errors; fix them first (onramp check):", fg="red", err=True)
        for problem in exc.problems:
            typer.secho(f"  {problem}", fg="red", err=True)
        raise typer.Exit(1) from None
    try:
        filters = parse_filters(
            since=since,
            until=until,
            platform=platform,
            locale=locale,
            inactive_period=inactive_period,
            inactive_interval=inactive_interval,
            now=state.clock(),
            platforms=installed_platforms(),
            locales=content.community.locales,
        )
    except FilterError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(USAGE_EXIT) from None
    result = asyncio.run(_report(filters, content))
    threshold = Threshold(min_group)
    if format is Format.json:
        typer.echo(json_text(result, threshold), nl=False)
    elif format is Format.csv:
        typer.echo(csv_text(result, threshold), nl=False)
    else:
        render(result, threshold, Console())
