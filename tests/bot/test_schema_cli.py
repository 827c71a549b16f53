"""`onramp schema`: the content files' JSON Schemas are written from the models, the shipped
ones are current, every sample file validates against its own, a broken file does not, and
the `yaml-language-server` first line that names a file's schema survives edits."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest

from bot.cli.schema import CONTENT_KINDS, MODELINE, SCHEMA_FOLDER, ContentKind, kind_of, modeline
from flows.content import load_tree
from flows.yaml_edit import write_translations
from flows.yamlfile import load_yaml
from tests.bot.test_cli import ROOT
from tests.bot.test_i18n_cli import drop, entry, export, onramp, read, write
from tests.features import ACTIONS

CONTENT = ROOT / "content"
SCHEMAS = CONTENT / SCHEMA_FOLDER


def content_files() -> list[PurePosixPath]:
    """Every YAML file of the sample content, relative to its folder."""
    found = sorted(CONTENT.rglob("*.yaml"))
    return [PurePosixPath(p.relative_to(CONTENT).as_posix()) for p in found]


def as_editors_read(node: Any) -> Any:
    """YAML as an editor's language server reads it (YAML 1.2): a date is a string."""
    if isinstance(node, dict):
        return {key: as_editors_read(value) for key, value in node.items()}
    if isinstance(node, list):
        return [as_editors_read(item) for item in node]
    if isinstance(node, date | datetime):
        return node.isoformat()
    return node


def validator(kind: ContentKind) -> jsonschema.Draft7Validator:
    """The draft editors use (draft 7), checking formats (dates, times) as they do."""
    schema = json.loads((SCHEMAS / kind.schema_file).read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    checker = jsonschema.Draft7Validator.FORMAT_CHECKER
    return jsonschema.Draft7Validator(schema, format_checker=checker)


def schema_errors(kind: ContentKind, source: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "file.yaml"
    path.write_text(source, encoding="utf-8")
    document = load_yaml(path, "file.yaml")
    assert not isinstance(document, Exception) and hasattr(document, "data"), document
    data = as_editors_read(document.data)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in leaves(validator(kind).iter_errors(data))
    ]


def leaves(errors: Iterable[jsonschema.ValidationError]) -> list[jsonschema.ValidationError]:
    """Each error, and what each alternative of a `oneOf` or `anyOf` said in it (a step is
    one of seven kinds): the messages an editor shows."""
    found = []
    for error in errors:
        found += [error, *leaves(error.context or [])]
    return found


def test_the_command_writes_a_schema_for_every_kind_of_file(tmp_path: Path) -> None:
    result = onramp("schema", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stdout + result.stderr
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == sorted(kind.schema_file for kind in CONTENT_KINDS)
    assert result.stdout.splitlines() == [
        f"wrote {tmp_path / 'out' / kind.schema_file}" for kind in CONTENT_KINDS
    ]
    kinds = {kind.name for kind in CONTENT_KINDS}
    assert kinds == {
        "community",
        "system",
        "flow",
        "campaign",
        "matching",
        "checkins",
        "recognition",
        "badges",
        "dashboard",
    }


def test_by_default_it_writes_into_the_content_folders_schemas(tmp_path: Path) -> None:
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root, ignore=shutil.ignore_patterns(SCHEMA_FOLDER))
    result = onramp("schema", "--content", str(root))
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(result.stdout.splitlines()) == len(CONTENT_KINDS)
    assert sorted(p.name for p in (root / SCHEMA_FOLDER).iterdir()) == sorted(
        kind.schema_file for kind in CONTENT_KINDS
    )
    missing = onramp("schema", "--content", str(tmp_path / "nowhere"))
    assert missing.returncode == 1
    assert "content folder not found" in missing.stdout


def test_the_shipped_schemas_are_what_the_command_writes_now(tmp_path: Path) -> None:
    assert onramp("schema", "--out", str(tmp_path)).returncode == 0
    shipped = sorted(p.name for p in SCHEMAS.iterdir())
    assert shipped == sorted(kind.schema_file for kind in CONTENT_KINDS), (
        f"content/{SCHEMA_FOLDER} holds other files than the schemas: run `onramp schema`"
    )
    for kind in CONTENT_KINDS:
        now = (tmp_path / kind.schema_file).read_text(encoding="utf-8")
        assert (SCHEMAS / kind.schema_file).read_text(encoding="utf-8") == now, (
            f"content/{SCHEMA_FOLDER}/{kind.schema_file} is out of date with the content "
            "models: run `onramp schema` and commit what it writes"
        )


@pytest.mark.parametrize("relative", content_files(), ids=str)
def test_every_sample_file_names_its_schema_on_its_first_line(relative: PurePosixPath) -> None:
    kind = kind_of(relative)
    assert kind is not None, f"content/{relative} is no kind of content file onramp schema knows"
    first = (CONTENT / relative).read_text(encoding="utf-8").splitlines()[0]
    assert first == modeline(kind, relative)
    named = (CONTENT / relative).parent / first.removeprefix(MODELINE)
    assert named.resolve() == (SCHEMAS / kind.schema_file).resolve() and named.is_file()


@pytest.mark.parametrize("relative", content_files(), ids=str)
def test_every_sample_file_validates_against_its_schema(
    relative: PurePosixPath, tmp_path: Path
) -> None:
    kind = kind_of(relative)
    assert kind is not None
    source = (CONTENT / relative).read_text(encoding="utf-8")
    assert schema_errors(kind, source, tmp_path) == []


FLOW = """\
id: hello
title: Hello
trigger: { command: hello }
expire_after: 30d
steps:
  - id: greet
    say: { md: greeting }
  - id: pick
    ask: { en: Pick one, fr: Choisissez }
    choices:
      - { id: a, label: A }
      - { id: b, label: { en: B, fr: B } }
    timeout: 2d
  - id: count
    say: { en: { one: One left, other: "{{ count }} left" } }
    count: answers.pick
  - id: bye
    end: true
"""


def kind(name: str) -> ContentKind:
    return next(k for k in CONTENT_KINDS if k.name == name)


def test_every_way_of_writing_a_text_and_a_duration_is_accepted(tmp_path: Path) -> None:
    assert schema_errors(kind("flow"), FLOW, tmp_path) == []


@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        ("flow", FLOW.replace("say: { md: greeting }", "sya: Hi!"), "steps/0: "),
        ("flow", FLOW.replace("id: hello\n", ""), "'id' is a required property"),
        ("flow", FLOW.replace("  - id: bye\n", "  - kind: bye\n"), "steps/3: "),
        ("flow", FLOW.replace("timeout: 2d", "timeout: two days"), "steps/1/timeout: "),
        ("flow", FLOW.replace("id: hello", "id: Hello World"), "id: 'Hello World' does not"),
        ("flow", FLOW.replace("{ md: greeting }", "5"), "steps/0/say: 5 is not valid"),
        ("community", "name: Ours\nlocales: [en]\nonboarding_flow: hi\n", "'default_locale'"),
        ("matching", "weights: { topics: -1 }\n", "weights/topics: -1 is less than"),
        ("checkins", "grace: 0.5\n", "grace: 0.5 is not of type 'string'"),
        ("checkins", "quiet_hours: [21, 24]\n", "quiet_hours/1: 24 is greater than"),
        ("campaign", "id: call\ntitle: Call\nsegment: { role: [] }\n", "[] should be non-empty"),
        ("badges", "badges: [{ id: first, name: First }]\n", "'description' is a required"),
    ],
)
def test_a_broken_file_fails_its_schema(
    name: str, source: str, expected: str, tmp_path: Path
) -> None:
    errors = schema_errors(kind(name), source, tmp_path)
    assert any(expected in error for error in errors), errors


def test_the_loader_and_onramp_check_leave_the_schemas_folder_alone(tmp_path: Path) -> None:
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    (root / SCHEMA_FOLDER / "notes.yaml").write_text("steps: [unclosed\n", encoding="utf-8")
    (root / SCHEMA_FOLDER / "flow.schema.json").write_text("{ not json", encoding="utf-8")
    tree, problems = load_tree(root, actions=ACTIONS)
    assert tree is not None, problems
    assert not any(SCHEMA_FOLDER in p.file for p in problems)
    result = onramp("check", str(root))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All good." in result.stdout


def test_the_first_line_survives_writing_translations() -> None:
    source = (CONTENT / "system.yaml").read_text(encoding="utf-8")
    written = write_translations(source, "en", "de", {("texts", "choose_one"): "Antworte."})
    assert written != source
    assert written.splitlines()[0] == modeline(kind("system"), PurePosixPath("system.yaml"))


def test_the_first_line_survives_onramp_i18n_import(tmp_path: Path) -> None:
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    system = root / "system.yaml"
    system.write_text(drop(system.read_text("utf-8"), "choose_one", "pt"), encoding="utf-8")
    first = system.read_text("utf-8").splitlines()[0]
    export(root, "pt", tmp_path / "pt")
    po = tmp_path / "pt" / "system.po"
    catalog = read(po)
    entry(catalog, "system.yaml:texts.choose_one").string = "Responda com um número."
    write(po, catalog)
    result = onramp("i18n", "import", str(po), "--content", str(root))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "content/system.yaml: 1 text(s) written" in result.stdout
    assert system.read_text("utf-8").splitlines()[0] == first
    assert first.startswith(MODELINE)
