"""What every webhook adapter does with a request before an event is read from it.

A request the platform cannot have sent is turned away with a 4xx and one log line (bot/web.py
logs the HTTPException at INFO with its reason, and counts it), never a 500: a 500 makes the
platform deliver it again, and says "bug" in the log where there is none. bot/web.py has
already refused a body over `web.max_body_bytes` (413); here the rest is read:

- `json_body`: JSON, or a 400 (not UTF-8, not JSON, nested deeper than any platform nests:
  a deeply nested body would otherwise end in a RecursionError somewhere in the code that
  walks it);
- `conform`: the types of the fields an adapter or its SDK reads, before they read them; an
  SDK that builds objects from a payload (python-telegram-bot) or reads ids from it (Bolt)
  takes a number where a string belongs, and fails far from the request.

Readers of payloads raise `Malformed` for what they cannot take; the adapter answers it 400.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NoReturn

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException

from bot import metrics

MAX_DEPTH = 32  # Slack's Block Kit, the deepest of the four, nests about 10 levels


class Malformed(ValueError):
    """A payload the platform would not send: the reason, without the payload's text."""


class OneOf:
    """A field that may take any of several shapes (Slack's `user`: an id or an object)."""

    def __init__(self, *shapes: Shape) -> None:
        self.shapes = shapes


class Required:
    """A key of an object that must be there, and not null."""

    def __init__(self, shape: Shape) -> None:
        self.shape = shape


# A field's expected shape: a type (or a tuple of them); an object with the shapes of the keys
# that matter (others may be anything); a list whose items all have one shape; `OneOf`, or
# `Required` for a key that must be there.
Shape = type | tuple[type, ...] | Mapping[str, "Shape"] | list["Shape"] | OneOf | Required


def reject(platform: str, status: int, reason: str, detail: str) -> NoReturn:
    """Turn a request away: counted by `reason` (a fixed word, never request data), logged by
    bot/web.py with `detail`."""
    metrics.rejected(platform, reason)
    raise HTTPException(status, detail=f"{platform}: {detail}")


def media_type(headers: Headers) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def require_json(platform: str, headers: Headers) -> None:
    given = media_type(headers)
    if given != "application/json":
        reject(platform, 415, "content_type", f"content type {given[:50]!r}, not JSON")


def json_body(platform: str, body: bytes | str, what: str = "the body") -> Any:
    """The body's JSON, or a 400."""
    too_deep = f"{what} is nested deeper than {MAX_DEPTH} levels: not JSON any platform sends"
    try:
        parsed = json.loads(body)
    except RecursionError:
        reject(platform, 400, "malformed", too_deep)
    except ValueError:  # UnicodeDecodeError is one too
        reject(platform, 400, "malformed", f"{what} is not JSON")
    if _deeper_than(parsed, MAX_DEPTH):
        reject(platform, 400, "malformed", too_deep)
    return parsed


def conform(value: Any, shape: Shape, where: str = "the payload") -> None:
    """Raise `Malformed` unless `value` has `shape`. In an object, a key that is absent or null
    passes unless it is `Required`."""
    if isinstance(shape, Required):
        if value is None:
            raise Malformed(f"{where} is missing")
        conform(value, shape.shape, where)
        return
    if isinstance(shape, OneOf):
        for option in shape.shapes:
            try:
                conform(value, option, where)
            except Malformed:
                continue
            return
        raise Malformed(f"{where} has the wrong type")
    if isinstance(shape, Mapping):
        if not isinstance(value, dict):
            raise Malformed(f"{where} is not an object")
        for key, inner in shape.items():
            if value.get(key) is not None or isinstance(inner, Required):
                conform(value.get(key), inner, f"{where}.{key}")
        return
    if isinstance(shape, list):
        if not isinstance(value, list):
            raise Malformed(f"{where} is not a list")
        for n, item in enumerate(value):
            conform(item, shape[0], f"{where}[{n}]")
        return
    if not isinstance(value, shape) or (isinstance(value, bool) and bool not in _types(shape)):
        raise Malformed(f"{where} has the wrong type")


def _types(shape: type | tuple[type, ...]) -> tuple[type, ...]:
    return shape if isinstance(shape, tuple) else (shape,)


def _deeper_than(value: Any, limit: int) -> bool:
    """Without recursion: walking a deep value is what this guards against."""
    pending = [(value, 1)]
    while pending:
        current, depth = pending.pop()
        if isinstance(current, dict):
            children: Any = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False
