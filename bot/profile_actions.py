"""Flow actions the core offers every community: giving and taking away roles."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bot.turn import Turn
from flows import actions


class RoleParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")


@actions.register("add_role", "give the member a role (e.g. mentor)", RoleParameters)
async def add_role(turn: Turn, parameters: RoleParameters) -> None:
    if parameters.role not in turn.member.roles:
        turn.member.roles = [*turn.member.roles, parameters.role]
        turn.audit("role.added", role=parameters.role)


@actions.register("remove_role", "take a role away from the member", RoleParameters)
async def remove_role(turn: Turn, parameters: RoleParameters) -> None:
    if parameters.role in turn.member.roles:
        turn.member.roles = [r for r in turn.member.roles if r != parameters.role]
        turn.audit("role.removed", role=parameters.role)
