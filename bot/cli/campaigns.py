"""`onramp campaign …`: community managers preview, send and follow the campaigns of
`content/campaigns/`, from the command line.

Exit codes: 0 done, or nothing to do; 1 refused, or an error; 2 bad usage. Every refusal is
one line on standard error, in the core's own words (`CampaignError`).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import getpass
import io
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.live import Live

from bot.campaigns import manage, planning, previewing, timing
from bot.campaigns.planning import CampaignError
from bot.campaigns.previewing import Preview
from bot.campaigns.segments import Reach
from bot.cli.campaign_pace import platform_paces, show_estimate
from bot.cli.campaign_views import (
    out,
    segment_text,
    send_time_text,
    show_counts,
    show_lateness,
    show_samples,
    state_text,
    status_view,
    title_text,
    when_text,
)
from bot.cli.state import state
from bot.features import build_registry
from bot.plain_table import PlainTable
from bot.settings import Settings
from flows.campaigns import Campaign
from flows.content import ContentTree, load_tree
from flows.problems import did_you_mean
from storage import campaigns as store
from storage.session import Database

app = typer.Typer(no_args_is_help=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
T = TypeVar("T")

WATCH_SECONDS = 2.0

Key = Annotated[str, typer.Argument(help="The campaign's id: its file's name in campaigns/.")]
At = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="Start at this time, with its offset (2026-12-01T15:00:00Z) instead of the "
        "file's send_at.",
        show_default=False,
    ),
]


def _fail(message: str, code: int = 1) -> NoReturn:
    err.print(message, style="red", markup=False)
    raise typer.Exit(code)


def _run(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except CampaignError as exc:
        _fail(str(exc))


# What every command needs: settings, content, the database, the platforms.


def _content(settings: Settings) -> ContentTree:
    """The content tree, or its problems printed as `onramp check` prints them."""
    root = settings.content.path
    tree, problems = load_tree(root, actions=build_registry().actions)
    if tree is None:
        errors = sorted(p for p in problems if p.severity == "error")
        for problem in errors:
            err.print(str(problem), style="red", markup=False)
        _fail(f"{len(errors)} error(s) in {root}: fix them first (onramp check {root})")
    return tree


def _campaign(content: ContentTree, key: str) -> Campaign:
    found = content.campaigns.get(key)
    if found is None:
        _fail(_unknown(key, content.campaigns))
    return found


def _unknown(key: str, known: Iterable[str]) -> str:
    hint = did_you_mean(key, known)
    found = f"No campaign '{key}': no campaigns/{key}.yaml, and none sent by that id"
    return found + (f"; {hint}" if hint else "")


async def _known(db: Database, key: str, content: ContentTree | None, root: Path) -> None:
    """Refuse an id that is neither a campaign sent before nor a campaign file (the content is
    read only then, for its ids, when not given: its problems stop nothing here)."""
    async with db.reading() as session:
        sent = {row.key for row in await store.all_campaigns(session)}
    if key in sent:
        return
    tree = content or load_tree(root, actions=build_registry().actions)[0]
    files = set(tree.campaigns) if tree is not None else set()
    if key not in files:
        _fail(_unknown(key, sorted(sent | files)))


def _reach(settings: Settings) -> Reach:
    """The platforms of `[adapters] enabled`; unset, every installed one: which secrets the
    bot has is not known here, and a member left out for that would stay left out."""
    return planning.reach(settings.adapters.enabled)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name (a container)
        return "cli"


def _now() -> datetime:
    return state.clock()


def _time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        _fail(f"--at {value!r} is not a time such as 2026-12-01T15:00:00Z", 2)
    if parsed.tzinfo is None:
        _fail(f"--at {value} has no offset: add Z (UTC) or +03:00, e.g. {value}Z", 2)
    return parsed.astimezone(UTC)


# What a campaign file says, in words.


@app.command("list")
def list_campaigns() -> None:
    """Every campaign file, who it is for, when it goes, and where it is if it was sent."""
    settings = state.settings()
    content = _content(settings)

    async def sent() -> dict[str, Any]:
        async with state.database(settings) as db, db.reading() as session:
            return {row.key: row for row in await store.all_campaigns(session)}

    rows = _run(sent())
    if not content.campaigns and not rows:
        out.print(f"No campaigns yet: add one to {settings.content.path}/campaigns/.")
        return
    table = PlainTable(title=f"{len(content.campaigns)} campaign(s)")
    for heading in ("id", "title", "who", "when", "state"):
        table.add_column(heading)
    for key, campaign in sorted(content.campaigns.items()):
        row = rows.pop(key, None)
        table.add_row(
            key,
            title_text(content, campaign),
            segment_text(campaign.segment),
            send_time_text(campaign),
            state_text(row) if row is not None else "not sent",
        )
    for key, row in sorted(rows.items()):  # sent, and its file since removed
        table.add_row(key, row.title, "(file removed)", "", state_text(row))
    out.print(table)


@app.command("preview")
def preview(key: Key, at: At = None) -> None:
    """Who would receive it, per platform and language; who is left out and why; and the
    message as each platform will show it. Changes nothing."""
    settings = state.settings()
    content = _content(settings)
    campaign = _campaign(content, key)
    when = _time(at)

    async def look() -> Preview:
        async with state.database(settings) as db:
            return await previewing.preview(db, content, campaign, _now(), _reach(settings), when)

    shown = _run(look())
    out.print(f"[bold]{key}[/bold]: {title_text(content, campaign)}")
    out.print(
        f"Who: {segment_text(campaign.segment)}; when: {send_time_text(campaign)}.", markup=False
    )
    show_counts(shown)
    show_lateness(shown)
    show_samples(shown)
    show_estimate(shown.per_platform(), settings)


# onramp campaign send / approve


@app.command("send")
def send(
    key: Key,
    at: At = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show who and how long; change nothing.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask, however many recipients.")
    ] = False,
) -> None:
    """Plan the campaign: the bot then sends it, at each platform's pace. Sending it again
    changes nothing."""
    settings = state.settings()
    content = _content(settings)
    campaign = _campaign(content, key)
    when = _time(at)
    now = _now()
    if when is not None and when < now:
        _fail(
            f"--at {at} is in the past (it is {when_text(now)}); give a later time, or leave out "
            "--at for the file's send_at"
        )

    async def go() -> None:
        async with state.database(settings) as db:
            async with db.reading() as session:
                existing = await store.by_key(session, key)
            reach = _reach(settings)
            if existing is None:
                shown = await previewing.preview(db, content, campaign, now, reach, when)
                show_counts(shown)
                show_lateness(shown)
                show_estimate(shown.per_platform(), settings)
                if dry_run:
                    out.print("Dry run: nothing was planned.")
                    return
                if shown.late.expired:  # refused before its row exists: the id stays free
                    _fail(timing.expired_text(campaign, now, when))
                if not shown.recipients:
                    _fail("Nobody would receive it now; nothing was planned.")
                many = shown.recipients > settings.campaigns.confirm_above
                # A send time that has passed may make the message wrong ("Thursday"): asked.
                if (many or shown.late.send_passed) and not yes:
                    at_once = " now" if shown.late.send_passed else ""
                    typer.confirm(
                        f"Send '{key}' to {shown.recipients} member(s){at_once}?", abort=True
                    )
            result = await planning.request_send(
                db,
                content,
                campaign,
                now,
                settings.campaigns,
                settings.clock,
                reach,
                actor=_actor(),
                at=when,
            )
        out.print(f"{key}: {result.message}.", markup=False)
        if result.row.state == "awaiting_approval" and result.created:
            out.print(f"Another manager approves it with: onramp campaign approve {key}")
        elif result.created:
            out.print(f"The bot sends it; follow it with: onramp campaign status {key}")

    _run(go())


@app.command("approve")
def approve(key: Key) -> None:
    """Approve a send another manager asked for (with `[campaigns] require_approval`)."""
    settings = state.settings()
    content = _content(settings)

    async def go() -> planning.SendResult:
        async with state.database(settings) as db:
            await _known(db, key, content, settings.content.path)
            return await planning.approve(
                db,
                content,
                key,
                _now(),
                settings.campaigns,
                settings.clock,
                _reach(settings),
                actor=_actor(),
            )

    result = _run(go())
    out.print(f"{key}: {result.message}.", markup=False)
    if result.created:
        out.print(f"The bot sends it; follow it with: onramp campaign status {key}")


# onramp campaign status


@app.command("status")
def status(
    key: Key,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Refresh until it is done (Ctrl-C leaves).")
    ] = False,
) -> None:
    """How far it has gone on each platform: queued, sent, delivered, read where the
    platform tells, failed and left out, with why; and how long the rest will take."""
    settings = state.settings()
    # its problems do not stop a look
    content, _ = load_tree(settings.content.path, actions=build_registry().actions)

    async def go() -> None:
        async with state.database(settings) as db:
            await _known(db, key, content, settings.content.path)
            found = await manage.status(db, content, key)
            found.rates = platform_paces(settings, found.per_platform)[0]
            if not watch or found.row.state in manage.FINISHED:
                out.print(status_view(found, _now()))
                return
            with Live(status_view(found, _now()), console=out, auto_refresh=False) as live:
                while found.row.state not in manage.FINISHED:
                    await asyncio.sleep(WATCH_SECONDS)
                    found = await manage.status(db, content, key, found.rates)
                    live.update(status_view(found, _now()), refresh=True)

    with contextlib.suppress(KeyboardInterrupt):
        _run(go())


# onramp campaign cancel / retry / results


def _settled(settings: Settings, key: str, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` on a campaign sent before: its file is not needed."""

    async def go() -> T:
        async with state.database(settings) as db:
            await _known(db, key, None, settings.content.path)
            return await work(db)

    return _run(go())


@app.command("cancel")
def cancel(key: Key) -> None:
    """Stop everything not yet sent."""
    settings = state.settings()
    stopped = _settled(settings, key, lambda db: manage.cancel(db, key, _now(), actor=_actor()))
    out.print(f"{key}: cancelled; {stopped} message(s) will not be sent.")


@app.command("retry")
def retry(
    key: Key,
    failed: Annotated[
        bool, typer.Option("--failed", help="Send again what failed for a passing reason.")
    ] = False,
) -> None:
    """Send again the failures another attempt may cure (a platform error, a timeout, a
    platform enabled since); not those that cannot (blocked the bot, no such user)."""
    settings = state.settings()
    if not failed:
        count = _settled(settings, key, lambda db: manage.retryable(db, key))
        if not count:
            _fail(f"campaign '{key}' has no failures another attempt could cure; nothing to retry")
        _fail(
            f"{key}: --failed would send again {count} failed message(s) another attempt may "
            "cure; add --failed to do it",
            2,
        )
    again = _settled(settings, key, lambda db: manage.retry_failed(db, key, _now(), actor=_actor()))
    out.print(f"{key}: {again} message(s) will be sent again; the bot sends them.")


@app.command("results")
def results(
    key: Key,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV instead of a table.")] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write CSV to this file.")
    ] = None,
) -> None:
    """What became of each member's message, and for a survey, their answers."""
    settings = state.settings()
    columns, rows = _settled(settings, key, lambda db: manage.results(db, key))
    if as_csv or output is not None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({c: "" if row.get(c) is None else row[c] for c in columns} for row in rows)
        if output is None:
            typer.echo(buffer.getvalue(), nl=False)
        else:
            output.write_text(buffer.getvalue(), encoding="utf-8")
            err.print(f"Wrote {output} ({len(rows)} row(s)).", markup=False)
        return
    table = PlainTable(*columns, title=f"{key}: {len(rows)} member(s)")
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row[c]) for c in columns))
    out.print(table)
