"""A small least-recently-used map: what the Slack adapter remembers per process (members'
DM channels and profiles) without growing without bound."""

from __future__ import annotations

from collections import OrderedDict
from typing import TypeVar

V = TypeVar("V")

REMEMBERED = 10_000  # entries kept in each map


class Remembered(OrderedDict[str, V]):
    """The most recently used `REMEMBERED` entries."""

    def recall(self, key: str) -> V | None:
        if key in self:
            self.move_to_end(key)
        return self.get(key)

    def keep(self, key: str, value: V) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > REMEMBERED:
            self.popitem(last=False)
