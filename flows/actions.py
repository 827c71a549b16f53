"""What a flow action is, as the engine's caller and the content validator see it.

The engine never knows an action by name: an `action` step becomes a request that the core
hands to the handler of the same name, inside the same transaction as the rest of the turn.
The core's registry (bot/registry.py) holds the specs; the validator is given them as data,
so `flows/` knows no feature.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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


# The actions content may use, by name: the registry's, handed to the loader.
Actions = Mapping[str, ActionSpec]
