"""YAML loading that remembers the line of every key and list item."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError

from flows import yaml_cache
from flows.problems import Problem

PathKey = tuple[str | int, ...]


@dataclass
class YamlDocument:
    """Plain Python data plus the 1-based line of every path in it."""

    file: str
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, path: PathKey) -> int:
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return 1


class _Constructor(RoundTripConstructor):
    """Reads dates as ruamel does, but an impossible one (2026-02-30) is an error at its
    line rather than a bare ValueError."""

    def construct_yaml_timestamp(self, node: Any, values: Any = None) -> Any:
        try:
            return super().construct_yaml_timestamp(node, values)
        except ValueError as exc:
            raise ConstructorError(
                None, None, f"{node.value!r} is not a real date or time ({exc})", node.start_mark
            ) from None


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_timestamp)


def load_yaml(path: Path, display_name: str) -> YamlDocument | Problem:
    """Parse one file; a syntax error becomes a Problem naming its line. A file parsed before
    with the same bytes is read from the cache (flows/yaml_cache.py)."""
    try:
        raw_bytes = path.read_bytes()
        text = raw_bytes.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return Problem(display_name, 1, None, f"cannot read the file: {exc}")
    cached = yaml_cache.get(raw_bytes)
    if cached is not None:
        return YamlDocument(display_name, cached[0], cached[1])
    yaml = YAML(typ="rt", pure=True)
    yaml.Constructor = _Constructor
    try:
        raw = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        return Problem(
            display_name,
            line,
            None,
            f"invalid YAML: {exc.problem or exc.context}",
            "check the indentation and quoting around this line",
        )
    document = YamlDocument(display_name, None, {(): 1})
    document.data = _plain(raw, (), document.lines)
    yaml_cache.put(raw_bytes, document.data, document.lines)
    return document


def _plain(node: Any, path: PathKey, lines: dict[PathKey, int]) -> Any:
    if isinstance(node, CommentedMap):
        result: dict[Any, Any] = {}
        for key, value in node.items():
            key_path = (*path, str(key))
            lines[key_path] = node.lc.key(key)[0] + 1
            result[str(key) if not isinstance(key, str) else key] = _plain(value, key_path, lines)
        return result
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            item_path = (*path, index)
            lines[item_path] = node.lc.item(index)[0] + 1
            items.append(_plain(value, item_path, lines))
        return items
    if isinstance(node, str):
        return str(node)
    return node
