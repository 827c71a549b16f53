"""Who a `/kudos` names: a mention the platform resolved, a handle, or a name."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.turn import Turn
from storage import members
from storage.models import Identity, Member

# At the start of the arguments: [Name](member:ID), @"Full Name" or @handle.
MENTION = re.compile(
    r"^\s*(?:\[(?P<label>[^\]]*)\]\(member:(?P<id>[^)\s]+)\)"
    r'|@"(?P<quoted>[^"]{1,100})"'
    r"|@(?P<word>[^\s@]{1,100}))"
)


@dataclass(frozen=True)
class Named:
    """What the mention resolved to: a member, or why not (`problem` is a system text key)."""

    member: Member | None
    shown: str  # how the giver wrote it, for the answer
    problem: str | None = None
    matches: int = 0
    identity: Identity | None = None  # where to reach the member: the one they were seen on last


async def resolve(turn: Turn, match: re.Match[str]) -> Named:
    identity = turn.identity
    where = (turn.session, identity.platform, identity.workspace)
    if match.group("id"):  # one member at most has an id there: found and loaded at once
        shown = match.group("label") or match.group("id")
        reached = await members.reached_through(*where, external_id=match.group("id"))
        if reached is None:
            return Named(None, shown, "kudos_unknown_member")
        return Named(reached[0], shown, identity=reached[1])
    shown = match.group("quoted") or match.group("word")
    found = await members.named(*where, name=shown)
    if len(found) > 1:
        return Named(None, shown, "kudos_ambiguous_member", len(found))
    reached = await members.member_and_identity(turn.session, found[0]) if found else None
    if reached is None:
        return Named(None, shown, "kudos_unknown_member")
    member, reachable = reached
    return Named(member, shown, identity=reachable)
