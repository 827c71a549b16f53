"""`onramp events failed` and `onramp events retry KEY`: events whose handling kept failing.

The bot records such an event (what failed, never what the member wrote), acknowledges it to
the platform and carries on with the next ones. Once the cause is fixed, `retry` runs it again
here, in one transaction; its replies are queued, and the running bot sends them.
"""

from __future__ import annotations

import asyncio
import json
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console

from bot.adapter import Receipt
from bot.cli.state import state
from bot.dispatcher import Dispatcher
from bot.failed_events import error_name
from bot.features import build_registry
from bot.plain_table import PlainTable
from flows.content import load_tree_or_raise
from storage import failed_events

app = typer.Typer(no_args_is_help=True)


class Format(StrEnum):
    table = "table"
    json = "json"


async def _listed(everything: bool) -> list[failed_events.Listed]:
    async with state.database() as db, db.reading() as session:
        return await failed_events.listed(session, everything=everything)


def _when(at: datetime | None) -> str:
    return "" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _row(failed: failed_events.Listed) -> dict[str, Any]:
    return {
        "key": failed.dedupe_key,
        "platform": failed.platform,
        "event": failed.event_type,
        "error": failed.error,
        "attempts": failed.attempts,
        "failed_at": _when(failed.failed_at),
        "member": failed.member_id,
        "status": failed.status,
        "retried_at": _when(failed.retried_at) or None,
    }


@app.command("failed")
def failed(
    everything: Annotated[
        bool, typer.Option("--all", help="Also those run again successfully (retried).")
    ] = False,
    format: Annotated[Format, typer.Option("--format", "-f", help="How to show them.")] = (
        Format.table
    ),
) -> None:
    """List failed events, oldest first: what failed and when, never what the member wrote."""
    rows = [_row(failed) for failed in asyncio.run(_listed(everything))]
    if format is Format.json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        typer.echo("No failed events.")
        return
    table = PlainTable(title=f"{len(rows)} failed event(s)", box=box.SIMPLE_HEAD)
    table.add_column("key", no_wrap=True)  # whole: it is to be copied
    for heading in ("platform", "event", "error", "tries", "failed at (UTC)", "member"):
        table.add_column(heading, overflow="fold")
    if everything:
        table.add_column("status")
    for row in rows:
        cells = [
            row["key"],
            row["platform"],
            row["event"],
            row["error"],
            str(row["attempts"]),
            row["failed_at"].removesuffix(" UTC"),
            "" if row["member"] is None else str(row["member"]),
        ]
        table.add_row(*cells, *((row["status"],) if everything else ()))
    console = Console()
    # Piped or captured, the table keeps its width: every key whole, one line each.
    (console if console.is_terminal else Console(width=200)).print(table)
    typer.echo("Run one again once its cause is fixed: onramp events retry KEY")


async def replay(key: str, clock: Callable[[], datetime]) -> Receipt | None:
    """Run the failed event `key` again (see `Dispatcher.replay`)."""
    settings = state.settings()
    registry = build_registry()  # every feature's commands and actions, as the bot has them
    content = load_tree_or_raise(settings.content.path, actions=registry.actions)
    async with state.database(settings) as db:
        return await Dispatcher(db, content, clock, registry=registry).replay(key)


def _now() -> datetime:
    return datetime.now(UTC)


@app.command("retry")
def retry(
    key: Annotated[str, typer.Argument(help="The failed event's key, as `failed` lists it.")],
    show_traceback: Annotated[
        bool, typer.Option("--traceback", help="If it fails again, show where.")
    ] = False,
) -> None:
    """Run a failed event again, once its cause is fixed: its replies go to the outbox, and
    the running bot sends them."""
    try:
        receipt = asyncio.run(replay(key, _now))
    except Exception as exc:
        if show_traceback:
            typer.echo("".join(traceback.format_exception(exc)), err=True)
        typer.secho(
            f"Event {key} failed again: {error_name(exc)}. It stays in `onramp events failed`"
            + ("." if show_traceback else "; add --traceback to see where."),
            fg="red",
            err=True,
        )
        raise typer.Exit(1) from None
    if receipt is None:
        typer.secho(
            f"No failed event {key!r} to run again (see onramp events failed).", fg="red", err=True
        )
        raise typer.Exit(1)
    replies = len(receipt.outbox_ids)
    typer.echo(
        f"Event {key} ran again: {replies} repl{'y' if replies == 1 else 'ies'} queued; "
        "the running bot sends them."
    )
