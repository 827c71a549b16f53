"""`onramp mentors`: every mentor, with what they help with, when, and how full they are."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bot.cli.state import state
from storage import mentorship
from storage.migrate import upgrade
from storage.session import Database


async def _loads() -> list[mentorship.MentorLoad]:
    db = Database.from_url(state.settings().database.url)
    try:
        await upgrade(db.engine)
        async with db.reading() as session:
            return await mentorship.mentors(session)
    finally:
        await db.dispose()


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
    table = Table(title=f"{len(rows)} mentor(s)")
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
