"""The content loader, remembering what it loaded: a content tree is read and validated once per
test process, then handed out as a fresh copy.

Loading the shipped content (YAML with line numbers, then every check of flows/validate.py)
takes most of a second, and nearly every test that builds the runtime loads the same tree; a
copy takes a twentieth of that. What is remembered is keyed by everything the loader reads:
where the tree is (as given, and the working folder if relative), the bytes of every file
under it, and the other arguments (the registry's actions included), so a test that writes
or changes content gets its own load, and a copy is a copy: no test sees another's changes.

One thing is not copied but shared: ruamel's timestamps (`send_at: 2026-12-01T10:00:00Z` in a
campaign), whose own `__deepcopy__` drops their time zone and microseconds. A timestamp is a
`datetime`, which never changes, so sharing it is exact where copying it is not.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import os
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml.timestamp import TimeStamp

import flows.content

Loader = Callable[..., Any]


def _files_digest(root: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(root)).encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def faithful_copy(value: Any) -> Any:
    """A deep copy of `value` that shares ruamel's timestamps (see above) instead of copying
    them. `copy` looks up a type's copier in its dispatch table before `__deepcopy__`, so the
    timestamp's own is never called; the table is restored at once (tests are one thread)."""
    dispatch = copy._deepcopy_dispatch  # type: ignore[attr-defined]
    dispatch[TimeStamp] = copy._deepcopy_atomic  # type: ignore[attr-defined]
    try:
        return copy.deepcopy(value)
    finally:
        del dispatch[TimeStamp]


def _key(value: object) -> Hashable:
    """What an argument contributes to the key; TypeError where it cannot be one."""
    if isinstance(value, Path):
        where = str(value) if value.is_absolute() else f"{os.getcwd()}::{value}"
        return ("path", where, _files_digest(value))
    if isinstance(value, Mapping):
        return ("mapping", tuple(sorted((k, _key(v)) for k, v in value.items())))
    hash(value)  # raises TypeError for what cannot be a key
    return value


def remembering(load: Loader) -> Loader:
    """`load`, answering from memory what it has already loaded with the same inputs."""
    signature = inspect.signature(load)
    loaded: dict[Hashable, Any] = {}

    def load_once(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        try:
            key = tuple((name, _key(value)) for name, value in bound.arguments.items())
        except TypeError:
            return load(*args, **kwargs)  # an argument we cannot compare: no memory
        if key not in loaded:
            loaded[key] = load(*args, **kwargs)
        return faithful_copy(loaded[key])

    return load_once


@contextmanager
def content_loaded_once() -> Iterator[None]:
    """While open, `flows.content.load_tree` (which `load_tree_or_raise`, the runtime and the
    command line call) remembers what it loaded. Code that imported `load_tree` by name before
    (a test module testing the loader itself) keeps the loader as it is."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(flows.content, "load_tree", remembering(flows.content.load_tree))
        yield
