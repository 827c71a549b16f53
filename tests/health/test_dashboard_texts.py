"""content/dashboard.yaml: every text in every shipped language, the digest's settings,
`text()` with its fallbacks, and what `onramp check` says about a broken file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.features import build_registry
from bot.health.dashboard.texts import say, text
from flows.content import ContentTree, load_tree, load_tree_or_raise
from flows.dashboard_texts import DASHBOARD_TEXT_KEYS

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ("en", "fr", "es", "pt", "ar", "sw")


@pytest.fixture(scope="module")
def content() -> ContentTree:
    return load_tree_or_raise(ROOT / "content", actions=build_registry().actions)


def test_every_text_is_in_every_shipped_language(content: ContentTree) -> None:
    assert set(content.dashboard.texts) == set(DASHBOARD_TEXT_KEYS)
    for key, translations in content.dashboard.texts.items():
        assert set(translations) == set(LOCALES), key
        assert all(str(value).strip() for value in translations.values()), key


def test_the_digest_settings_are_read(content: ContentTree) -> None:
    digest = content.dashboard.digest
    assert (digest.enabled, digest.day, digest.time) == (True, "monday", "09:00")


def test_text_falls_back_to_the_base_language_then_the_default(content: ContentTree) -> None:
    assert text(content, "sign_out", "fr") == "Se déconnecter"
    assert text(content, "sign_out", "pt_BR") == "Sair"
    assert text(content, "sign_out", "de") == "Sign out"
    assert text(content, "sign_out", None) == "Sign out"
    assert say(content, "signed_in_as", "sw", name="Amina") == "Umeingia kama Amina"
    assert say(content, "signed_in_as", "en") == "Signed in as {name}"


def copy_content(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(ROOT / "content", root)
    return root


def test_without_dashboard_yaml_defaults_apply(tmp_path: Path) -> None:
    root = copy_content(tmp_path)
    (root / "dashboard.yaml").unlink()
    tree = load_tree_or_raise(root, actions=build_registry().actions)
    assert tree.dashboard.digest.day == "monday" and tree.dashboard.texts == {}
    assert text(tree, "sign_out", "en") == "Sign out"


def test_check_reports_missing_texts_locales_and_unknown_values(tmp_path: Path) -> None:
    root = copy_content(tmp_path)
    path = root / "dashboard.yaml"
    written = path.read_text("utf-8")
    written = written.replace("  sign_out:\n", "  sign_outt:\n")
    written = written.replace('    sw: "Filters"\n', "").replace('    sw: "Vichujio"\n', "")
    written = written.replace("Signed in as {name}", "Signed in as {nom}")
    path.write_text(written, "utf-8")
    tree, problems = load_tree(root, actions=build_registry().actions)
    said = [str(p) for p in problems]
    assert tree is None
    assert any("missing dashboard text 'sign_out'" in p for p in said), said
    assert any("unknown dashboard text 'sign_outt'" in p and "sign_out" in p for p in said)
    assert any("uses {nom}, which it is not given" in p and "{name}" in p for p in said)
    assert any("dashboard.yaml" in p and "'sw' covers" in p for p in said), said


def test_check_refuses_a_digest_time_that_is_not_hh_mm(tmp_path: Path) -> None:
    root = copy_content(tmp_path)
    path = root / "dashboard.yaml"
    path.write_text(path.read_text("utf-8").replace('time: "09:00"', 'time: "9am"'), "utf-8")
    tree, problems = load_tree(root, actions=build_registry().actions)
    assert tree is None
    assert any("dashboard.yaml:10" in str(p) and "HH:MM" in str(p) for p in problems), [
        str(p) for p in problems
    ]
