"""The registry of flow actions. Features fill it; the engine and the validator read it.

The engine never knows an action by name: an `action` step becomes a request that the core
hands to the handler registered here, inside the same transaction as the rest of the turn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict


class NoParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class ActionSpec:
    name: str
    parameters: type[BaseModel]
    handler: Callable[..., Any]
    summary: str


_registry: dict[str, ActionSpec] = {}


def register(
    name: str, summary: str, parameters: type[BaseModel] = NoParameters
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator for a core function `async (turn, params) -> None` run by an action step."""

    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        if name in _registry and _registry[name].handler is not handler:
            raise ValueError(f"action {name!r} is registered twice")
        _registry[name] = ActionSpec(name, parameters, handler, summary)
        return handler

    return decorate


def get(name: str) -> ActionSpec | None:
    return _registry.get(name)


def names() -> list[str]:
    return sorted(_registry)
