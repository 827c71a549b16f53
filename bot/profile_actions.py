"""Flow actions the core offers every community: giving and taking away roles."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bot.registry import Registry
from bot.turn import Turn


class RoleParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")


async def add_role(turn: Turn, parameters: RoleParameters) -> None:
    if parameters.role not in turn.member.roles:
        turn.member.roles = [*turn.member.roles, parameters.role]
        turn.audit("role.added", role=parameters.role)


async def remove_role(turn: Turn, parameters: RoleParameters) -> None:
    if parameters.role in turn.member.roles:
        turn.member.roles = [r for r in turn.member.roles if r != parameters.role]
        turn.audit("role.removed", role=parameters.role)


def register(registry: Registry) -> None:
    """The flow actions add_role and remove_role."""
    registry.action("add_role", "give the member a role (e.g. mentor)", RoleParameters)(add_role)
    registry.action("remove_role", "take a role away from the member", RoleParameters)(remove_role)
