"""A list of values bound as one parameter, so a statement keeps one shape whatever the list's
length: JSON read by `json_each` on SQLite (the statement then runs prepared,
storage/prepared.py), an expanding parameter on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, column, func, select


def one_of(dialect: str, name: str) -> Any:
    """What `column.in_(…)` takes for the list bound as `name` (its value from `value`)."""
    if dialect == "sqlite":
        return select(column("value")).select_from(func.json_each(bindparam(name)))
    return bindparam(name, expanding=True)


def value(dialect: str, values: Sequence[Any]) -> Any:
    """The value bound for a `one_of` parameter."""
    return json.dumps(list(values)) if dialect == "sqlite" else list(values)
