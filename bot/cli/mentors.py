"""`onramp mentors`: every mentor, with what they help with, when, and how full they are;
`onramp match`: every waiting newcomer and open offer matched again at once."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from rich.console import Console

from bot.cli.state import state
from bot.features import build_registry
from bot.mentorship import batch
from bot.plain_table import PlainTable
from flows.content import load_tree_or_raise
from storage import mentorship
from storage.models import Member


async def _loads() -> list[mentorship.MentorLoad]:
    async with state.database() as db, db.reading() as session:
        return await mentorship.mentors(session)


def _status(load: mentorship.MentorLoad) -> str:
    if load.profile.paused:
        return "paused"
    return "full" if load.active >= load.profile.capacity else "open"


def _hours(load: mentorship.MentorLoad) -> str:
    start, end = load.profile.hours_start, load.profile.hours_end
    return "" if start is None or end is None else f"{start:02d}:00–{end:02d}:00"


def _row(load: mentorship.MentorLoad) -> dict[str, Any]:
    return {
        "member": load.member.id,
        "name": load.member.display_name,
        "languages": load.profile.languages,
        "topics": load.profile.topics,
        "timezone": load.member.timezone,
        "hours": _hours(load),
        "load": load.active,
        "capacity": load.profile.capacity,
        "status": _status(load),
        "expired_in_a_row": load.profile.expired_in_a_row,
    }


def mentors(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document instead.")] = False,
) -> None:
    rows = [_row(load) for load in asyncio.run(_loads())]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        typer.echo("No mentors yet.")
        return
    table = PlainTable(title=f"{len(rows)} mentor(s)")
    for heading in ("member", "name", "languages", "topics", "time zone", "hours", "load"):
        table.add_column(heading)
    table.add_column("status")
    for row in rows:
        table.add_row(
            str(row["member"]),
            row["name"],
            ", ".join(row["languages"]),
            ", ".join(row["topics"]),
            row["timezone"] or "",
            row["hours"],
            f"{row['load']}/{row['capacity']}",
            row["status"]
            + (f" ({row['expired_in_a_row']} unanswered)" if row["expired_in_a_row"] else ""),
        )
    Console(width=160).print(table)


async def _match() -> tuple[list[dict[str, Any]], bool]:
    settings = state.settings()
    registry = build_registry()
    content = load_tree_or_raise(settings.content.path, actions=registry.actions)
    async with state.database(settings) as db:
        result = await batch.run(db, content, state.clock(), registry, reoptimize=True)
        names: dict[int, str] = {}
        async with db.reading() as session:
            for change in result.changes:
                for member_id in (change.was, change.now):
                    if member_id is not None and member_id not in names:
                        member = await session.get(Member, member_id)
                        names[member_id] = member.display_name if member else ""
    rows = [
        {
            "newcomer": change.newcomer,
            "newcomer_name": change.newcomer_name,
            "was": change.was,
            "was_name": names.get(change.was) if change.was is not None else None,
            "now": change.now,
            "now_name": names.get(change.now) if change.now is not None else None,
        }
        for change in result.changes
    ]
    return rows, result.skipped


def match(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document instead.")] = False,
) -> None:
    rows, skipped = asyncio.run(_match())
    if skipped:
        typer.secho("Another process is matching right now; try again in a moment.", fg="yellow")
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        typer.echo("Nothing changed: every open offer is still the best, and nobody else fits.")
        return
    table = PlainTable(title=f"{len(rows)} change(s); the bot sends the offers")
    for heading in ("newcomer", "offer withdrawn from", "offered to"):
        table.add_column(heading)
    for row in rows:
        table.add_row(
            f"{row['newcomer_name']} ({row['newcomer']})",
            f"{row['was_name']} ({row['was']})" if row["was"] is not None else "",
            f"{row['now_name']} ({row['now']})" if row["now"] is not None else "",
        )
    Console(width=160).print(table)
