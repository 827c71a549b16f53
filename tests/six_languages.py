"""The six languages the onboarding offers, and the content they need: tests that speak them
run on the shipped content once it declares them all, and on a copy declaring them until then."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import CONTENT

LANGUAGES = ("en", "fr", "es", "pt", "ar", "sw")


def content_in_six_languages(tmp_path: Path) -> Path:
    """The shipped content if community.yaml declares all six languages, else a copy that does."""
    yaml = YAML()
    community = yaml.load((CONTENT / "community.yaml").read_text(encoding="utf-8"))
    if set(LANGUAGES) <= set(community["locales"]):
        return CONTENT
    copy = tmp_path / "content"
    shutil.copytree(CONTENT, copy)
    community["locales"] = list(LANGUAGES)
    with (copy / "community.yaml").open("w", encoding="utf-8") as file:
        yaml.dump(community, file)
    return copy


def onboarding_translated(locale: str) -> bool:
    """Whether content/flows/onboarding.yaml has `locale`'s welcome (read from the file itself,
    so a test skipped for a missing translation runs as soon as it lands)."""
    flow = YAML().load((CONTENT / "flows" / "onboarding.yaml").read_text(encoding="utf-8"))
    welcome = next(step for step in flow["steps"] if step["id"] == "welcome")
    return locale in welcome["say"]


def skip_until_translated(locale: str) -> None:
    if not onboarding_translated(locale):
        pytest.skip(f"content/flows/onboarding.yaml has no {locale} translation yet")
