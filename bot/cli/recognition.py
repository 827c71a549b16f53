"""`onramp recognition export`: recognition follows people into their project's README.

onramp recognition export --format all-contributors [--output .all-contributorsrc]
onramp recognition export --format csv [--output kudos.csv]

Members who withdrew `leaderboards` (or never agreed, where community.yaml asks it) are left
out: the export is published.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli.state import state
from bot.features import build_registry
from flows.content import load_tree_or_raise
from storage import members
from storage import recognition as store

app = typer.Typer(no_args_is_help=True)


class Format(StrEnum):
    all_contributors = "all-contributors"
    csv = "csv"


async def _rows(
    listed_by_default: bool,
) -> tuple[list[tuple[int, str, str, float, int]], dict[int, str]]:
    async with state.database() as db, db.reading() as session:
        rows = await store.everyone(session, listed_by_default)
        logins: dict[int, str] = {}
        for member_id in {row[0] for row in rows}:
            found = await members.member_and_identity(session, member_id)
            if found is not None:
                member, identity = found
                github = member.profile.get("github")
                logins[member_id] = str(github or identity.username or "")
        return rows, logins


def _login(name: str, member_id: int) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", name.casefold()).strip("-")
    return slug or f"member-{member_id}"


@app.command("export")
def export(
    format: Annotated[Format, typer.Option("--format", "-f", help="What to write.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="A file (default: standard output).")
    ] = None,
    project: Annotated[
        str | None, typer.Option(help="all-contributors projectName (default: the community)")
    ] = None,
    owner: Annotated[str, typer.Option(help="all-contributors projectOwner")] = "",
) -> None:
    """Everyone thanked, with their kinds of contribution: an .all-contributorsrc, or a table."""
    content = load_tree_or_raise(state.settings().content.path, actions=build_registry().actions)
    listed_by_default = content.community.consent_default(store.LEADERBOARDS)
    rows, logins = asyncio.run(_rows(listed_by_default))
    if format is Format.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["member_id", "name", "category", "kudos", "points"])
        for member_id, name, category, points, count in rows:
            writer.writerow([member_id, name, category, count, f"{points:g}"])
        text = buffer.getvalue()
    else:
        kinds = {c.id: c.all_contributors for c in content.recognition.categories}
        people: dict[int, dict[str, Any]] = {}
        for member_id, name, category, _, _ in rows:
            person = people.setdefault(
                member_id,
                {
                    "login": logins.get(member_id) or _login(name, member_id),
                    "name": name,
                    "avatar_url": "",
                    "profile": "",
                    "contributions": [],
                },
            )
            kind = kinds.get(category, "ideas")
            if kind not in person["contributions"]:
                person["contributions"].append(kind)
        document = {
            "projectName": project or content.community.name,
            "projectOwner": owner,
            "files": ["README.md"],
            "imageSize": 100,
            "commit": False,
            "contributorsPerLine": 7,
            "contributors": list(people.values()),
        }
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"Wrote {output} ({len(rows)} row(s)).", err=True)
