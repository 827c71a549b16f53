"""`onramp schema`: a JSON Schema for each kind of content file, generated from the pydantic
models the content loader validates with.

Editors that use yaml-language-server (VS Code's YAML extension, Neovim, Helix, Zed…)
read the schema named on a file's first line and check the file as it is typed. The schemas
know each file on its own; `onramp check` still checks what spans files (flow and step ids,
templates, translations).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue
from pydantic_core import CoreSchema

from bot.cli.state import state
from flows.campaigns import Campaign
from flows.content import PATTERN_HINTS
from flows.feature_settings import Badges, Checkins, Matching, Recognition
from flows.schema import ChoiceId, Community, DashboardTexts, DurationText, Flow, Id, SystemTexts

SCHEMA_FOLDER = "schemas"  # in the content folder; the loader reads only the files it names
# yaml-language-server validates draft 7 fully and later drafts in part; pydantic writes 2020-12,
# which differs from draft 7 in our schemas only in a tuple's `prefixItems` (`_for_editors`).
DRAFT = "http://json-schema.org/draft-07/schema#"
GENERATED = "Written by `onramp schema` from Onramp's content models: run it again, never edit."
MODELINE = "# yaml-language-server: $schema="


@dataclass(frozen=True)
class ContentKind:
    """One kind of content file: the model that validates it and where such files are."""

    name: str
    model: type[BaseModel]
    files: str  # a glob below the content folder
    title: str

    @property
    def schema_file(self) -> str:
        return f"{self.name}.schema.json"

    def matches(self, relative: PurePosixPath) -> bool:
        pattern = PurePosixPath(self.files)
        return len(relative.parts) == len(pattern.parts) and relative.match(self.files)


CONTENT_KINDS = (
    ContentKind("community", Community, "community.yaml", "Onramp community (community.yaml)"),
    ContentKind("system", SystemTexts, "system.yaml", "Onramp system texts (system.yaml)"),
    ContentKind("flow", Flow, "flows/*.yaml", "Onramp flow (flows/<id>.yaml)"),
    ContentKind("campaign", Campaign, "campaigns/*.yaml", "Onramp campaign (campaigns/<id>.yaml)"),
    ContentKind("matching", Matching, "matching.yaml", "Onramp mentor matching (matching.yaml)"),
    ContentKind("checkins", Checkins, "checkins.yaml", "Onramp check-ins (checkins.yaml)"),
    ContentKind(
        "recognition", Recognition, "recognition.yaml", "Onramp recognition (recognition.yaml)"
    ),
    ContentKind("badges", Badges, "badges.yaml", "Onramp badges (badges.yaml)"),
    ContentKind(
        "dashboard", DashboardTexts, "dashboard.yaml", "Onramp dashboard texts (dashboard.yaml)"
    ),
)


def kind_of(relative: PurePosixPath) -> ContentKind | None:
    """The kind of the content file at `relative` (to the content folder), if it has one."""
    return next((kind for kind in CONTENT_KINDS if kind.matches(relative)), None)


def modeline(kind: ContentKind, relative: PurePosixPath) -> str:
    """The first line of a content file: where its schema is, from the file's own folder."""
    up = "../" * (len(relative.parts) - 1)
    return f"{MODELINE}{up}{SCHEMA_FOLDER}/{kind.schema_file}"


_UNITS = (("w", 7 * 24 * 60), ("d", 24 * 60), ("h", 60), ("m", 1))  # in minutes


def _written(value: Any) -> Any:
    """A default as authors write it: a duration `2d`, never pydantic's ISO `P2D`."""
    if isinstance(value, timedelta):
        minutes = int(value.total_seconds()) // 60  # durations are whole minutes
        unit, size = next((u, n) for u, n in _UNITS if minutes % n == 0)
        return f"{minutes // size}{unit}"
    if isinstance(value, BaseModel):
        return _written(value.model_dump(by_alias=True))
    if isinstance(value, dict):
        return {key: _written(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_written(item) for item in value]
    return value


def _pattern(constrained: Any) -> str:
    """The pattern of an `Annotated[str, StringConstraints(pattern=...)]`."""
    return str(constrained.__metadata__[0].pattern)


# What an editor says when a value misses a pattern: the loader's own hints.
_PATTERN_MESSAGES = {
    _pattern(Id): PATTERN_HINTS["id"],
    _pattern(ChoiceId): "choice ids use lowercase letters, digits, _ and -: at most 24",
    _pattern(DurationText): "a duration is a number and a unit: 30m, 12h, 2d or 1w",
}


def _for_editors(node: Any) -> Any:
    """Draft 7 (a tuple's items are `items: [...]`), with the loader's hints for patterns."""
    if isinstance(node, dict):
        found = {
            "items" if key == "prefixItems" else key: _for_editors(value)
            for key, value in node.items()
        }
        pattern = found.get("pattern")  # a string; a dict is a field named `pattern`
        message = _PATTERN_MESSAGES.get(pattern) if isinstance(pattern, str) else None
        if message is not None:
            found["patternErrorMessage"] = message  # read by yaml-language-server
        return found
    if isinstance(node, list):
        return [_for_editors(item) for item in node]
    return node


class _EditorSchema(GenerateJsonSchema):
    """pydantic's JSON Schema in draft 7, with defaults written as in content files and the
    loader's hints for ids and durations."""

    def encode_default(self, dft: Any) -> Any:
        return super().encode_default(_written(dft))

    def generate(self, schema: CoreSchema, mode: JsonSchemaMode = "validation") -> JsonSchemaValue:
        generated: JsonSchemaValue = _for_editors(super().generate(schema, mode))
        return generated


def schema_of(kind: ContentKind) -> dict[str, Any]:
    generated = kind.model.model_json_schema(schema_generator=_EditorSchema)
    generated.pop("title", None)
    return {"$schema": DRAFT, "$comment": GENERATED, "title": kind.title, **generated}


def schema_text(kind: ContentKind) -> str:
    return json.dumps(schema_of(kind), indent=2, ensure_ascii=False) + "\n"


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in CONTENT_KINDS:
        path = folder / kind.schema_file
        path.write_text(schema_text(kind), encoding="utf-8")
        written.append(path)
    return written


def schema(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", file_okay=False, help="Folder for the schemas (default: schemas/ in content)."
        ),
    ] = None,
    content: Annotated[
        Path | None,
        typer.Option("--content", help="Content folder (default: [content] path from settings)."),
    ] = None,
) -> None:
    if out is None:
        root = content or state.settings().content.path
        if not root.is_dir():
            typer.secho(f"{root}: content folder not found; give --content or --out", fg="red")
            raise typer.Exit(1)
        out = root / SCHEMA_FOLDER
    for path in write_schemas(out):
        typer.echo(f"wrote {path}")
