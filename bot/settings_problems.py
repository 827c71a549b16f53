"""What is wrong with the settings, said in the words of bot.toml, one line per problem.

Pydantic reports `('logging', 'levle'): Extra inputs are not permitted` with a link to its own
site; an operator wrote `levle = "INFO"` under `[logging]` in bot.toml, or set
ONRAMP_LOGGING__LEVLE, and should be told so, with the key they probably meant:
`bot.toml: [logging] levle: unknown setting; did you mean level?`.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

ENV_PREFIX = "ONRAMP_"
ENV_DELIMITER = "__"


class SettingsError(Exception):
    """Settings that cannot be used: every problem, one line each, in bot.toml's terms."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def toml_syntax(file: Path, error: tomllib.TOMLDecodeError) -> SettingsError:
    """`bot.toml:3:7: Expected '=' after a key…`: where the file stops being TOML."""
    message = str(error)
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if found is None:  # "(at end of document)"
        return SettingsError([f"{file}: {message} (not valid TOML)"])
    line, column = found.groups()
    return SettingsError([f"{file}:{line}:{column}: {message[: found.start()]} (not valid TOML)"])


def from_validation(
    error: ValidationError,
    model: type[BaseModel],
    file: Path,
    environ: Mapping[str, str] | None = None,
) -> SettingsError:
    environ = os.environ if environ is None else environ
    names = {name.upper(): name for name in environ}
    return SettingsError([_problem(detail, model, file, names) for detail in error.errors()])


def _problem(detail: ErrorDetails, model: type[BaseModel], file: Path, env: dict[str, str]) -> str:
    loc = [str(part) for part in detail["loc"]]
    variable = ENV_PREFIX + ENV_DELIMITER.join(loc).upper()
    if variable in env:  # an environment variable overrides the file
        return f"{env[variable]}: {_what(detail, model, loc, variable)}"
    return f"{file}: {_toml_key(loc)}: {_what(detail, model, loc)}"


def _toml_key(loc: list[str]) -> str:
    if len(loc) == 1:
        return f"[{loc[0]}]"
    return f"[{loc[0]}] {'.'.join(loc[1:])}"


def _what(
    detail: ErrorDetails, model: type[BaseModel], loc: list[str], variable: str | None = None
) -> str:
    kind, given = detail["type"], detail.get("input")
    if kind == "extra_forbidden":
        known = _known_keys(model, loc[:-1])
        what = "unknown section" if len(loc) == 1 else "unknown setting"
        close = difflib.get_close_matches(loc[-1].lower(), known, n=1, cutoff=0.6)
        if close and variable is not None:
            prefix = variable[: len(variable) - len(loc[-1])]
            return f"{what}; did you mean {prefix}{close[0].upper()}?"
        if close:
            return f"{what}; did you mean {close[0]}?"
        return f"{what}; known: {', '.join(sorted(known))}" if known else what
    expected = _EXPECTED.get(kind)
    if kind == "literal_error":
        expected = f"one of {detail.get('ctx', {}).get('expected', '')}"
    if kind == "model_type" or (kind == "dict_type" and len(loc) == 1):
        return f"expected a table of settings, got {_toml(given)}"
    if expected is not None:
        return f"expected {expected}, got {_toml(given)}"
    if kind == "missing":
        return "required"
    if kind == "value_error":  # Onramp's own validators say what was wrong with the value
        message = detail["msg"].removeprefix("Value error, ")
        return f"{message[:1].lower()}{message[1:]}"
    message = detail["msg"].replace("Input should be", "must be")
    return f"{message[:1].lower()}{message[1:]}, got {_toml(given)}"


_EXPECTED = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": 'text in quotes, e.g. "text"',
    "list_type": 'a list, e.g. ["a", "b"]',
    "tuple_type": "a list, e.g. [1, 1.0]",
    "dict_type": 'a table, e.g. { en = "text" }',
    "path_type": "a path in quotes",
}


def _known_keys(model: type[BaseModel], parents: list[str]) -> list[str]:
    current: Any = model
    for name in parents:
        field = getattr(current, "model_fields", {}).get(name)
        if field is None:
            return []
        current = field.annotation
    return list(getattr(current, "model_fields", {}))


def _toml(value: Any) -> str:
    """A value as it would be written in bot.toml (long ones cut short)."""
    if isinstance(value, bool):
        written = "true" if value else "false"
    elif isinstance(value, str | int | float):
        written = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, dict):
        written = "a table"
    else:
        written = json.dumps(value, ensure_ascii=False, default=str)
    return written if len(written) <= 60 else f"{written[:57]}..."
