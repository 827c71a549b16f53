"""`onramp export MEMBER` and `onramp forget MEMBER`: a member's right to their data."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer

from bot.cli.state import state
from bot.features import build_registry
from bot.mentorship.offers import member_leaving
from bot.turn import member_turn
from flows.content import load_tree_or_raise
from storage.members import find_member
from storage.models import Member
from storage.privacy import export_member, forget_member
from storage.session import Database, Session

MemberArgument = Annotated[
    str,
    typer.Argument(
        help="A member id (42) or an identity: platform:user (console:ada) or "
        "platform:workspace:user (slack:T0123:U0456)."
    ),
]


async def with_member(reference: str, action: Any) -> Any:
    async with state.database() as db, db.transaction() as session:
        member = await find_member(session, reference)
        if member is None:
            return None
        return await action(session, member, db)


async def leaving(session: Session, db: Database, member: Member) -> None:
    """Before the erasure: whoever shares a mentorship or an offer with the member is told
    and moved on (their messages stay queued; the member's own go with their data)."""
    registry = build_registry()
    content = load_tree_or_raise(state.settings().content.path, actions=registry.actions)
    now = state.clock()
    key = f"forget:{member.id}:{int(now.timestamp())}"
    turn = await member_turn(session, db, content, member.id or 0, now, key, registry)
    if turn is None:
        return
    await member_leaving(turn)
    await turn.flush()


def _not_found(reference: str) -> typer.Exit:
    typer.secho(f"No member {reference!r}.", fg="red", err=True)
    return typer.Exit(1)


def export(member: MemberArgument) -> None:
    document = asyncio.run(
        with_member(member, lambda session, found, _: export_member(session, found))
    )
    if document is None:
        raise _not_found(member)
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))


def forget(
    member: MemberArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    if not yes:
        typer.confirm(f"Erase everything stored about {member}? This cannot be undone", abort=True)

    async def _forget(session: Any, found: Any, db: Database) -> bool:
        await leaving(session, db, found)
        await forget_member(session, found, actor="cli")
        return True

    if asyncio.run(with_member(member, _forget)) is None:
        raise _not_found(member)
    typer.echo(f"Erased everything stored about {member}.")
