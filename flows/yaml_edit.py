"""Writing translations into content YAML the way its authors wrote it: ruamel.yaml round
trip, so comments, key order, quoting, long lines and `{ a: b }` spacing stay as they were."""

from __future__ import annotations

import io
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.emitter import Emitter
from ruamel.yaml.events import MappingEndEvent
from ruamel.yaml.scalarstring import LiteralScalarString

from flows.locale_codes import normalise_locale
from flows.schema import PLURAL_CATEGORIES
from flows.yamlfile import PathKey


class _SpacedEmitter(Emitter):
    """Flow mappings as `{ a: b }`, as most of our content writes them."""

    flow_map_end = " }"

    def expect_first_flow_mapping_key(self) -> None:
        if isinstance(self.event, MappingEndEvent):  # `{}` stays `{}`
            self.flow_map_end = "}"
            try:
                super().expect_first_flow_mapping_key()
            finally:
                del self.flow_map_end
            return
        self.whitespace = False  # a space after `{`
        super().expect_first_flow_mapping_key()


def _spaced(source: str) -> bool:
    spaced = len(re.findall(r"(?<!\{)\{ [^ }]", source))
    return spaced > 0 and spaced >= len(re.findall(r"(?<!\{)\{[^ {}%]", source))


def _yaml(source: str) -> YAML:
    yaml = YAML(typ="rt", pure=True)
    if _spaced(source):
        yaml.Emitter = _SpacedEmitter
    yaml.preserve_quotes = True
    yaml.width = 100_000  # never fold a long line
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def round_trip(source: str) -> str:
    """Load and dump unchanged (the shipped content comes back byte for byte)."""
    yaml = _yaml(source)
    out = io.StringIO()
    yaml.dump(yaml.load(source), out)
    return out.getvalue()


def _child(node: Any, key: str | int) -> Any:
    if isinstance(node, list):
        return node[int(key)]
    if key in node:
        return node[key]
    return next(v for k, v in node.items() if str(k) == str(key))


def _locale_of(key: object) -> str | None:
    try:
        return normalise_locale(str(key))
    except ValueError:
        return None


def _value(translation: str | dict[str, str], default: Any) -> Any:
    if isinstance(translation, dict):
        forms = CommentedMap()
        for category in PLURAL_CATEGORIES:
            if translation.get(category):
                forms[category] = _value(translation[category], default.get(category, ""))
        return forms
    if "\n" in translation or isinstance(default, LiteralScalarString):
        ending = "\n" if str(default).endswith("\n") or "\n" in translation else ""
        return LiteralScalarString(translation.rstrip("\n") + ending)
    return translation


def write_translations(
    source: str, default_locale: str, locale: str, texts: dict[PathKey, str | dict[str, str]]
) -> str:
    """The YAML `source` with `locale`'s translation of each text at its path: replacing the
    one there, or after the text's last locale."""
    yaml = _yaml(source)
    data = yaml.load(source)
    for path, translation in texts.items():
        node = data
        for key in path:
            node = _child(node, key)
        keys = list(node.keys())
        default = next(node[k] for k in keys if _locale_of(k) == default_locale)
        value = _value(translation, default)
        existing = next((k for k in keys if _locale_of(k) == locale), None)
        if existing is not None:
            node[existing] = value
            continue
        last = max(i for i, k in enumerate(keys) if _locale_of(k) is not None)
        node.insert(last + 1, locale, value)
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()
