"""`onramp export MEMBER` and `onramp forget MEMBER`: a member's right to their data."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer

from bot.cli.state import state
from storage.members import find_member
from storage.migrate import upgrade
from storage.privacy import export_member, forget_member
from storage.session import Database

MemberArgument = Annotated[
    str,
    typer.Argument(
        help="A member id (42) or an identity: platform:user (console:ada) or "
        "platform:workspace:user (slack:T0123:U0456)."
    ),
]


async def _with_member(reference: str, action: Any) -> Any:
    db = Database.from_url(state.settings().database.url)
    try:
        await upgrade(db.engine)
        async with db.transaction() as session:
            member = await find_member(session, reference)
            if member is None:
                return None
            return await action(session, member)
    finally:
        await db.dispose()


def _not_found(reference: str) -> typer.Exit:
    typer.secho(f"No member {reference!r}.", fg="red", err=True)
    return typer.Exit(1)


def export(member: MemberArgument) -> None:
    document = asyncio.run(_with_member(member, export_member))
    if document is None:
        raise _not_found(member)
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))


def forget(
    member: MemberArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    if not yes:
        typer.confirm(f"Erase everything stored about {member}? This cannot be undone", abort=True)

    async def _forget(session: Any, found: Any) -> bool:
        await forget_member(session, found, actor="cli")
        return True

    if asyncio.run(_with_member(member, _forget)) is None:
        raise _not_found(member)
    typer.echo(f"Erased everything stored about {member}.")
