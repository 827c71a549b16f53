"""Content texts as PO files: stable contexts, references, notes, plurals, paragraphs, and a
previous export's work kept (fuzzy where the English changed)."""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po, write_po

from flows.content import ContentTree, load_tree
from flows.po import export, plural_forms
from flows.po_import import placeholders
from flows.yaml_edit import round_trip
from tests.features import ACTIONS

CONTENT = Path(__file__).resolve().parents[2] / "content"
NOTE = "  # Greets by name; keep it warm and short."


def load(root: Path) -> ContentTree:
    tree, problems = load_tree(root, actions=ACTIONS)
    assert tree is not None, [str(p) for p in problems if p.severity == "error"]
    return tree


def read(path: Path) -> Catalog:
    with path.open("rb") as stream:
        return read_po(stream)


@pytest.fixture(scope="module")
def content(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("po") / "content"
    shutil.copytree(CONTENT, root)
    onboarding = root / "flows" / "onboarding.yaml"
    source = onboarding.read_text("utf-8")
    assert "\n  - id: welcome\n" in source
    onboarding.write_text(source.replace("\n  - id: welcome\n", f"\n{NOTE}\n  - id: welcome\n"))
    return root


@pytest.fixture(scope="module")
def exported(content: Path) -> Path:
    out = content.parent / "i18n"
    tree = load(content)
    export(tree, "pt", out / "pt")
    export(tree, "ar", out / "ar")
    return out


def test_po_plural_indices_map_to_cldr_categories() -> None:
    assert plural_forms("en") == ("one", "other")
    assert plural_forms("pt") == ("one", "other")
    assert plural_forms("fr") == ("one", "other")
    assert plural_forms("sw") == ("one", "other")
    assert plural_forms("ar") == ("zero", "one", "two", "few", "other", "many")
    rule, arabic = get_plural("ar"), Locale.parse("ar")
    index_of = gettext.c2py(rule.plural_expr)
    for n in range(1000):  # every number lands on the form CLDR names for it
        assert plural_forms("ar")[index_of(n)] == arabic.plural_form(n), n


def test_shipped_content_survives_a_round_trip_byte_for_byte() -> None:
    for path in sorted(CONTENT.rglob("*.yaml")):
        source = path.read_text("utf-8")
        assert round_trip(source) == source, path


def test_every_po_file_passes_msgfmt(exported: Path) -> None:
    if shutil.which("msgfmt") is None:
        pytest.skip("msgfmt (gettext) is not installed")
    files = sorted(exported.rglob("*.po"))
    assert files
    for file in files:
        result = subprocess.run(
            ["msgfmt", "--check", "-o", "/dev/null", str(file)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0 and not result.stderr, (file, result.stderr)


def test_one_po_file_per_content_file(exported: Path, content: Path) -> None:
    names = {p.relative_to(exported / "pt").as_posix() for p in (exported / "pt").rglob("*.po")}
    assert {"flows/onboarding.po", "system.po", "badges.po", "recognition.po"} <= names
    assert "campaigns/community_call.po" in names
    assert "community.po" not in names  # no texts there


def test_entries_have_stable_contexts_references_and_notes(exported: Path, content: Path) -> None:
    catalog = read(exported / "pt" / "flows" / "onboarding.po")
    by_context = {m.context: m for m in catalog if m.id}
    lines = (content / "flows" / "onboarding.yaml").read_text("utf-8").splitlines()
    yes = by_context["flows/onboarding.yaml:steps.consent.choices.yes.label"]
    assert yes.id == "Yes, that's fine"
    label_line = lines.index('      - id: "yes"') + 2
    assert yes.locations == [("content/flows/onboarding.yaml", label_line)]
    welcome = by_context["flows/onboarding.yaml:steps.welcome.say"]
    assert welcome.auto_comments == [NOTE.strip().removeprefix("# ")]
    text = (exported / "pt" / "flows" / "onboarding.po").read_text("utf-8")
    assert "python-format" not in text  # babel's guess from `{`: Jinja is not python-format
    assert placeholders(str(welcome.id)) == placeholders(str(welcome.string))  # translated


def test_plural_texts_have_the_languages_forms(exported: Path) -> None:
    catalog = read(exported / "ar" / "system.po")
    assert catalog.num_plurals == 6
    plural = next(m for m in catalog if m.context == "system.yaml:texts.invalid_choice")
    assert isinstance(plural.id, tuple) and "{{ count }}" in plural.id[1]
    assert isinstance(plural.string, tuple) and len(plural.string) == 6


def test_a_text_of_several_paragraphs_is_one_entry_per_paragraph(exported: Path) -> None:
    catalog = read(exported / "pt" / "system.po")
    parts = [m for m in catalog if str(m.context).startswith("system.yaml:texts.campaign_usage")]
    assert [m.context for m in parts] == [
        "system.yaml:texts.campaign_usage#1",
        "system.yaml:texts.campaign_usage#2",
    ]
    assert str(parts[0].id).startswith("📣 **Campaigns**")
    assert str(parts[1].id).startswith("Campaigns:\n{{ context.campaigns }}")


def test_a_previous_export_is_merged_fuzzy_where_the_english_changed(tmp_path: Path) -> None:
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    out = tmp_path / "sw"
    export(load(root), "sw", out)
    po = out / "flows" / "feedback.po"
    catalog = read(po)
    title = next(m for m in catalog if m.context == "flows/feedback.yaml:title")
    title.string = "Ukaribisho ulikuwaje?"  # the translator's work, not imported yet
    title.flags.discard("fuzzy")
    flow = root / "flows" / "feedback.yaml"
    source = flow.read_text("utf-8")
    english = re.search(r"(?m)^  en: (.*)$", source)
    assert english is not None and english.group(1) == title.id
    flow.write_text(
        re.sub(r"(?m)^  sw: .*\n", "", source, count=1).replace(
            f"  en: {title.id}", "  en: How did your welcome go?"
        ),
        encoding="utf-8",
    )
    with po.open("wb") as stream:
        write_po(stream, catalog)
    export(load(root), "sw", out)
    again = next(m for m in read(po) if m.context == "flows/feedback.yaml:title")
    assert again.id == "How did your welcome go?"
    assert again.string == "Ukaribisho ulikuwaje?"
    assert again.fuzzy
    assert f'#| msgid "{title.id}"\nmsgctxt "flows/feedback.yaml:title"' in po.read_text("utf-8")
