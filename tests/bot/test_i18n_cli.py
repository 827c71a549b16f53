"""`onramp i18n`: a translator's round trip through PO files, on a copy of the content (the
shipped content is never written), and each bad PO file refused with nothing written."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po, write_po
from ruamel.yaml import YAML
from typer.testing import CliRunner

from bot.cli.app import app
from tests.bot.test_cli import ROOT


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def onramp(*args: str) -> Ran:
    """`onramp ARGS` in this process (Typer's runner): what `bot.cli` does, without paying
    for a new interpreter and the content load in each of a dozen subprocesses."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return Ran(result.exit_code, result.stdout, result.stderr)


SYSTEM_TEXTS = ("choose_one", "invalid_choice", "campaign_unknown", "campaign_usage")


def drop(source: str, key: str, locale: str) -> str:
    """The system.yaml `source` without `locale`'s translation of text `key`."""
    lines = source.splitlines(keepends=True)
    start = lines.index(f"  {key}:\n")
    kept = lines[: start + 1]
    index, skipping = start + 1, False
    while index < len(lines) and (lines[index].startswith("    ") or not lines[index].strip()):
        line = lines[index]
        if line.startswith(f"    {locale}:"):
            skipping = True
        elif skipping and not line.startswith("      "):
            skipping = False
        if not skipping:
            kept.append(line)
        index += 1
    return "".join(kept + lines[index:])


@pytest.fixture
def content(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(ROOT / "content", root)
    community = root / "community.yaml"
    community.write_text(
        re.sub(r"(?m)^locales: .*$", "locales: [en, fr, es, pt, ar, sw]", community.read_text()),
        encoding="utf-8",
    )
    system = root / "system.yaml"
    source = system.read_text("utf-8")
    for key in SYSTEM_TEXTS:
        source = drop(drop(source, key, "pt"), key, "ar")
    system.write_text(source, encoding="utf-8")
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.yaml"))}


def read(path: Path) -> Catalog:
    with path.open("rb") as stream:
        return read_po(stream)


def write(path: Path, catalog: Catalog) -> None:
    with path.open("wb") as stream:
        write_po(stream, catalog)


def entry(catalog: Catalog, context: str) -> Message:
    return next(m for m in catalog if m.context == context)


def export(content: Path, locale: str, out: Path) -> None:
    result = onramp(
        "i18n", "export", "--locale", locale, "--out", str(out), "--content", str(content)
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_translators_round_trip(content: Path, tmp_path: Path) -> None:
    out = tmp_path / "pt"
    export(content, "pt", out)
    po = out / "system.po"
    catalog = read(po)
    assert entry(catalog, "system.yaml:texts.choose_one").string == ""
    entry(catalog, "system.yaml:texts.choose_one").string = "Responda com um número."
    plural = entry(catalog, "system.yaml:texts.invalid_choice")
    plural.string = ("Responda 1 ou o nome.", "Responda de 1 a {{ count }} ou o nome.")
    unknown = entry(catalog, "system.yaml:texts.campaign_unknown")
    unknown.string = (
        "Não há campanha `{{ context.campaign }}`. Campanhas: {{ context.known or '(nenhuma)' }}"
    )
    entry(catalog, "system.yaml:texts.campaign_usage#1").string = "📣 **Campanhas**\n/campaign …"
    entry(
        catalog, "system.yaml:texts.campaign_usage#2"
    ).string = "Campanhas:\n{{ context.campaigns }}"
    fuzzy = next(m for m in catalog if m.id and not m.string and "#" not in str(m.context))
    fuzzy.string, fuzzy.flags = "Rascunho", {"fuzzy"}
    write(po, catalog)
    comments_before = [
        line for line in (content / "system.yaml").read_text().splitlines() if "#" in line
    ]
    before = snapshot(content)

    result = onramp("i18n", "import", str(po), "--content", str(content))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "content/system.yaml: 4 text(s) written" in result.stdout
    assert "skipped 1 entry fuzzy" in result.stdout
    after = snapshot(content)
    assert {k for k in after if after[k] != before[k]} == {"system.yaml"}
    source = (content / "system.yaml").read_text("utf-8")
    assert [line for line in source.splitlines() if "#" in line][: len(comments_before)] == (
        comments_before
    )
    texts = YAML(typ="rt").load(source)["texts"]
    assert list(texts["choose_one"])[-1] == "pt"  # after the text's last locale
    assert texts["choose_one"]["pt"] == "Responda com um número."
    assert dict(texts["invalid_choice"]["pt"]) == {
        "one": "Responda 1 ou o nome.",
        "other": "Responda de 1 a {{ count }} ou o nome.",
    }
    assert "    pt: |\n      📣 **Campanhas**\n      /campaign …\n\n      Campanhas:\n" in source
    assert onramp("check", str(content)).returncode == 0

    again = tmp_path / "again"
    export(content, "pt", again)
    catalog = read(again / "system.po")
    assert entry(catalog, "system.yaml:texts.choose_one").string == "Responda com um número."
    assert entry(catalog, "system.yaml:texts.campaign_usage#2").string == (
        "Campanhas:\n{{ context.campaigns }}"
    )


def test_arabic_plurals_take_six_forms(content: Path, tmp_path: Path) -> None:
    export(content, "ar", tmp_path / "ar")
    po = tmp_path / "ar" / "system.po"
    catalog = read(po)
    plural = entry(catalog, "system.yaml:texts.invalid_choice")
    plural.string = (
        "صفر",
        "واحد",
        "اثنان",
        "{{ count }} قليل",
        "{{ count }} آخر",
        "{{ count }} كثير",
    )
    write(po, catalog)
    result = onramp("i18n", "import", str(po), "--content", str(content))
    assert result.returncode == 0, result.stdout + result.stderr
    texts = YAML(typ="rt").load((content / "system.yaml").read_text("utf-8"))["texts"]
    assert dict(texts["invalid_choice"]["ar"]) == {
        "zero": "صفر",
        "one": "واحد",
        "two": "اثنان",
        "few": "{{ count }} قليل",
        "many": "{{ count }} كثير",
        "other": "{{ count }} آخر",
    }


def refused(content: Path, *files: Path) -> str:
    before = snapshot(content)
    result = onramp("i18n", "import", *map(str, files), "--content", str(content))
    assert result.returncode == 1
    assert snapshot(content) == before, "nothing may be written"
    return result.stdout


def test_a_broken_placeholder_is_refused(content: Path, tmp_path: Path) -> None:
    export(content, "pt", tmp_path / "pt")
    po = tmp_path / "pt" / "system.po"
    catalog = read(po)
    entry(catalog, "system.yaml:texts.choose_one").string = "Responda com um número."
    entry(catalog, "system.yaml:texts.campaign_unknown").string = "Não há campanha {{ campanha }}."
    write(po, catalog)
    said = refused(content, po)
    assert f"{po}: entry 'system.yaml:texts.campaign_unknown': placeholders" in said
    assert "1 problem(s): nothing was written" in said


def test_a_wrong_plural_count_is_refused(content: Path, tmp_path: Path) -> None:
    export(content, "ar", tmp_path / "ar")
    po = tmp_path / "ar" / "system.po"
    catalog = read(po)
    entry(catalog, "system.yaml:texts.invalid_choice").string = (
        "واحد",
        "{{ count }}",
        "",
        "",
        "",
        "",
    )
    write(po, catalog)
    said = refused(content, po)
    assert (
        f"{po}: entry 'system.yaml:texts.invalid_choice': 2 of the 6 plural forms 'ar' needs "
        "are written (zero, one, two, few, other, many)" in said
    )


def test_a_po_file_for_a_content_file_that_is_gone_is_refused(
    content: Path, tmp_path: Path
) -> None:
    export(content, "pt", tmp_path / "pt")
    po = tmp_path / "pt" / "campaigns" / "community_call.po"
    (content / "campaigns" / "community_call.yaml").unlink()
    said = refused(content, po)
    assert (
        f"{po}: its texts are for content/campaigns/community_call.yaml, which does not exist"
        in said
    )


def test_content_broken_by_an_import_is_put_back(content: Path, tmp_path: Path) -> None:
    export(content, "pt", tmp_path / "pt")
    po = tmp_path / "pt" / "flows" / "onboarding.po"
    catalog = read(po)
    welcome = entry(catalog, "flows/onboarding.yaml:steps.welcome.say")
    # The same placeholders, in an order Jinja cannot read.
    welcome.string = "{% endif %}Olá {{ member.name }}{% if member.name %} **{{ community.name }}**"
    write(po, catalog)
    said = refused(content, po)
    assert "the content check failed after the import: every file was put back" in said
    assert "content/flows/onboarding.yaml" in said


def test_status_as_json(content: Path) -> None:
    result = onramp("i18n", "status", "--format", "json", "--content", str(content))
    assert result.returncode == 0, result.stdout + result.stderr
    status = json.loads(result.stdout)
    assert set(status) == {"fr", "es", "pt", "ar", "sw"}
    system = status["pt"]["files"]["content/system.yaml"]
    assert system["covered"] <= system["texts"] - len(SYSTEM_TEXTS)
    assert status["pt"]["covered"] == sum(f["covered"] for f in status["pt"]["files"].values())


def test_status_as_a_table(content: Path) -> None:
    result = onramp("i18n", "status", "--content", str(content))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "content/system.yaml" in result.stdout and "all content" in result.stdout
