"""`onramp role MEMBER ROLE [--remove]`: who manages the community, and who mentors.

A member with the `manager` role is told when mentorship needs a person: a mentor paused for
leaving offers unanswered, a low check-in score, check-ins going unanswered.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from bot.cli.privacy import MemberArgument, with_member
from storage.models import AuditLog, Member
from storage.session import Database, Session

RoleArgument = Annotated[
    str,
    typer.Argument(help="The role: manager (told when mentorships need help), mentor, …"),
]


def role(
    member: MemberArgument,
    name: RoleArgument,
    remove: Annotated[bool, typer.Option("--remove", help="Take the role away.")] = False,
) -> None:
    if not name.isascii() or not name.replace("_", "").isalnum() or len(name) > 32:
        typer.secho(f"{name!r} is not a role name: letters, digits and _ only.", fg="red")
        raise typer.Exit(2)
    wanted = name.lower()

    async def change(session: Session, found: Member, db: Database) -> list[str]:
        roles = [r for r in found.roles if r != wanted] + ([] if remove else [wanted])
        if roles != list(found.roles):
            found.roles = roles
            action = "role.removed" if remove else "role.added"
            session.add(
                AuditLog(actor="cli", action=action, member_id=found.id, detail={"role": wanted})
            )
        return roles

    roles = asyncio.run(with_member(member, change))
    if roles is None:
        typer.secho(f"No member {member!r}.", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(f"{member}: {', '.join(roles) or 'no roles'}")
