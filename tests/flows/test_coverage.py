"""Partial languages go live: a missing translation is shown in the default language, and
`onramp check` says how much each locale covers, once per file, never once per text."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from flows.content import load_tree
from flows.schema import Community, Text
from flows.text import fallback_chain, render
from tests.features import ACTIONS

CONTENT = Path(__file__).resolve().parents[2] / "content"
SIX = "locales: [en, fr, es, pt, ar, sw]"

HELLO = """\
schema_version: 1
id: hello
title: Hello
trigger:
  command: hello
steps:
  - id: greet
    say:
      en: Hi!
      fr: Salut !
  - id: pick
    ask:
      en: Pick one
      fr: Choisissez
      es: Elige
      pt: Escolha
    choices:
      - id: a
        label: { en: A, fr: A, es: A, pt: A, ar: أ, sw: A }
      - id: b
        label: B
  - id: bye
    end:
      en: Bye
      de: Tschüss
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    community = root / "community.yaml"
    text = re.sub(r"(?m)^locales: .*$", SIX, community.read_text("utf-8"))
    community.write_text(text, encoding="utf-8")
    (root / "flows" / "hello.yaml").write_text(HELLO, encoding="utf-8")
    return root


def hello_problems(root: Path, min_coverage: float = 0) -> list[str]:
    _, problems = load_tree(root, min_coverage, actions=ACTIONS)
    return [str(p) for p in sorted(problems) if p.file == "content/flows/hello.yaml"]


def test_fallback_goes_to_the_base_language_then_the_default() -> None:
    assert fallback_chain("pt_BR", "en") == ["pt_BR", "pt", "en", "*"]
    text: Text = {"en": "Hello", "pt": "Olá"}
    assert render(text, "pt_BR", "en", {}) == "Olá"
    assert render(text, "sw", "en", {}) == "Hello"


def test_one_coverage_warning_per_file_and_locale(root: Path) -> None:
    assert hello_problems(root) == [
        "content/flows/hello.yaml:8: warning: 'ar' covers 1 of 4 texts (25%); the rest is "
        "shown in English; onramp i18n export --locale ar makes PO files to translate",
        "content/flows/hello.yaml:8: warning: 'es' covers 2 of 4 texts (50%); the rest is "
        "shown in English; onramp i18n export --locale es makes PO files to translate",
        "content/flows/hello.yaml:8: warning: 'pt' covers 2 of 4 texts (50%); the rest is "
        "shown in English; onramp i18n export --locale pt makes PO files to translate",
        "content/flows/hello.yaml:8: warning: 'sw' covers 1 of 4 texts (25%); the rest is "
        "shown in English; onramp i18n export --locale sw makes PO files to translate",
        "content/flows/hello.yaml:23: warning: 'fr' covers 3 of 4 texts (75%); the rest is "
        "shown in English; onramp i18n export --locale fr makes PO files to translate",
        # Not "did you mean 'es'?": a language nobody declared is not a typo of one that is.
        "content/flows/hello.yaml:25: warning: 'de' is not a locale of this community: its 1 "
        "text(s) in this file are not shown; add 'de' to 'locales' in community.yaml to show "
        "them",
    ]


def test_the_partial_tree_loads(root: Path) -> None:
    tree, problems = load_tree(root, actions=ACTIONS)
    assert tree is not None, [str(p) for p in problems if p.severity == "error"]


def test_below_min_coverage_is_an_error_naming_the_locale(root: Path) -> None:
    (root / "flows" / "hello.yaml").write_text(
        HELLO.replace("      es: Elige\n", "").replace("      de: Tschüss\n", ""),
        encoding="utf-8",
    )
    tree, problems = load_tree(root, min_coverage=100, actions=ACTIONS)
    errors = [str(p) for p in problems if p.severity == "error"]
    assert tree is None
    assert any(
        re.fullmatch(
            r"content/community.yaml:\d+: 'es' covers \d+% of the content's texts \(\d+ of \d+\), "
            r"below \[content\] min_coverage \(100%\); translate more of it \(onramp i18n "
            r"status\), remove it from 'locales', or lower min_coverage",
            error,
        )
        for error in errors
    ), errors
    assert all("min_coverage" in e for e in errors), errors


def test_the_default_locale_is_still_required(root: Path) -> None:
    (root / "flows" / "hello.yaml").write_text(
        HELLO.replace("      en: Pick one\n", ""), encoding="utf-8"
    )
    tree, problems = load_tree(root, actions=ACTIONS)
    assert tree is None
    assert "content/flows/hello.yaml:12 step 'pick': missing the 'en' text" in {
        str(p).split(";")[0] for p in problems
    }


@pytest.mark.parametrize("written", ["pt-BR", "pt_BR", "PT-br", "pt_br"])
def test_locale_codes_are_read_as_babel_writes_them(written: str) -> None:
    community = Community(
        name="x", default_locale="EN", locales=["en", written], onboarding_flow="onboarding"
    )
    assert community.locales == ["en", "pt_BR"]
    assert community.default_locale == "en"


def test_text_keys_are_normalised_and_pt_br_members_see_them(root: Path) -> None:
    community = root / "community.yaml"
    community.write_text(
        community.read_text("utf-8").replace(SIX, "locales: [en, fr, es, pt, ar, sw, pt-BR]"),
        encoding="utf-8",
    )
    (root / "flows" / "hello.yaml").write_text(
        HELLO.replace("      fr: Salut !\n", "      fr: Salut !\n      PT-br: Oi!\n"),
        encoding="utf-8",
    )
    tree, problems = load_tree(root, actions=ACTIONS)
    assert tree is not None, [str(p) for p in problems if p.severity == "error"]
    assert tree.community.locales[-1] == "pt_BR"
    greet = tree.flows["hello"].steps[0]
    assert render(greet.say, "pt_BR", "en", {}) == "Oi!"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("xx", "unknown locale 'xx'; use a language code such as en, fr, es, sw or pt_BR"),
        ("english", "unknown locale 'english'; did you mean 'en'?"),
        ("Português", "unknown locale 'Português'; did you mean 'pt'?"),
    ],
)
def test_an_unknown_locale_is_a_clear_error_with_its_line(
    root: Path, written: str, expected: str
) -> None:
    community = root / "community.yaml"
    community.write_text(
        community.read_text("utf-8").replace(SIX, f"locales: [en, fr, es, pt, ar, sw, {written}]"),
        encoding="utf-8",
    )
    line = (
        community.read_text("utf-8")
        .splitlines()
        .index(f"locales: [en, fr, es, pt, ar, sw, {written}]")
    )
    _, problems = load_tree(root, actions=ACTIONS)
    assert f"content/community.yaml:{line + 1}: {expected}" in [str(p) for p in problems]


def test_an_unknown_locale_as_a_text_key_names_its_line(root: Path) -> None:
    (root / "flows" / "hello.yaml").write_text(
        HELLO.replace("      fr: Salut !\n", "      fr: Salut !\n      english: Hi\n"),
        encoding="utf-8",
    )
    _, problems = load_tree(root, actions=ACTIONS)
    assert (
        "content/flows/hello.yaml:11 step 'greet': unknown locale 'english'; did you mean 'en'?"
        in [str(p) for p in problems]
    )


def test_a_language_choice_for_an_undeclared_locale_is_an_error(root: Path) -> None:
    onboarding = root / "flows" / "onboarding.yaml"
    source = onboarding.read_text("utf-8")
    assert "      - id: sw\n        label: Kiswahili\n" in source
    onboarding.write_text(
        source.replace(
            "      - id: sw\n        label: Kiswahili\n",
            "      - id: sw\n        label: Kiswahili\n      - id: de\n        label: Deutsch\n",
        ),
        encoding="utf-8",
    )
    line = onboarding.read_text("utf-8").splitlines().index("      - id: de") + 1
    tree, problems = load_tree(root, actions=ACTIONS)
    assert tree is None
    assert [str(p) for p in problems if p.severity == "error"] == [
        f"content/flows/onboarding.yaml:{line} step 'language': choice 'de' sets locale 'de', "
        "which community.yaml does not declare; add 'de' to 'locales' in community.yaml, or "
        "remove the choice"
    ]


def test_a_choice_of_a_regional_locale_whose_language_is_declared_passes(root: Path) -> None:
    onboarding = root / "flows" / "onboarding.yaml"
    onboarding.write_text(
        onboarding.read_text("utf-8").replace(
            "      - id: sw\n        label: Kiswahili\n",
            "      - id: sw\n        label: Kiswahili\n      - id: pt-br\n        label: Brasil\n",
        ),
        encoding="utf-8",
    )
    tree, problems = load_tree(root, actions=ACTIONS)
    assert tree is not None, [str(p) for p in problems if p.severity == "error"]
