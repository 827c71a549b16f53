"""`onramp export MEMBER` and `onramp forget MEMBER`: a member's right to their data."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer

from bot.cli.state import state
from bot.features import build_registry
from bot.privacy_actions import free_text_steps
from bot.privacy_actions import leaving as privacy_leaving
from bot.turn import member_turn
from flows.content import load_tree_or_raise
from storage.members import find_member
from storage.models import AuditLog, Member
from storage.privacy import FORMER_MEMBER, export_member, forget_member
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


async def leaving(
    session: Session, db: Database, member: Member
) -> tuple[str, frozenset[tuple[str, str]]]:
    """Before the erasure: whoever shares a mentorship or an offer with the member is told
    and moved on (their messages stay queued; the member's own go with their data), as
    /privacy does in chat (`bot.privacy_actions.leaving`). What they become in others'
    messages ("a former member" in the community's language), and the content's questions
    answered in words (`forget_member`'s `free_text`)."""
    registry = build_registry()
    content = load_tree_or_raise(state.settings().content.path, actions=registry.actions)
    now = state.clock()
    key = f"forget:{member.id}:{int(now.timestamp())}"
    turn = await member_turn(session, db, content, member.id or 0, now, key, registry)
    typed = free_text_steps(content)
    if turn is None:
        return FORMER_MEMBER, typed
    await privacy_leaving(turn)
    return turn.system_text("former_member", locale=content.community.default_locale), typed


def _not_found(reference: str) -> typer.Exit:
    typer.secho(f"No member {reference!r}.", fg="red", err=True)
    return typer.Exit(1)


async def _export(session: Session, found: Member, _: Database) -> dict[str, Any]:
    document = await export_member(session, found)
    # Audited, without the data: who asked (an operator) and about whom.
    session.add(AuditLog(actor="cli", action="member.exported", member_id=found.id, detail={}))
    return document


def export(member: MemberArgument) -> None:
    document = asyncio.run(with_member(member, _export))
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
        former, typed = await leaving(session, db, found)
        await forget_member(session, found, actor="cli", former=former, free_text=typed)
        return True

    if asyncio.run(with_member(member, _forget)) is None:
        raise _not_found(member)
    typer.echo(f"Erased everything stored about {member}.")
