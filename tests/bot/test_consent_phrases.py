"""The phrase the onboarding asks members to type to stop announcements works in every language."""

import re
from pathlib import Path

from ruamel.yaml import YAML

from bot.consent import TYPED, wanted

ONBOARDING = Path(__file__).resolve().parents[2] / "content" / "flows" / "onboarding.yaml"


def test_the_announcements_question_names_a_phrase_the_bot_understands() -> None:
    flow = YAML(typ="safe").load(ONBOARDING.read_text(encoding="utf-8"))
    question = next(step for step in flow["steps"] if step["id"] == "announcements")["ask"]
    assert {"en", "fr", "es", "pt", "ar", "sw"} <= set(question)
    for locale, text in question.items():
        phrase = re.search(r"\*([^*]+)\*", text)
        assert phrase is not None, f"{locale}: no *phrase* to type"
        typed = TYPED.fullmatch(phrase.group(1))
        assert typed is not None, f"{locale}: '{phrase.group(1)}' is not recognised"
        assert wanted(typed.group("args")) is False, f"{locale}: '{phrase.group(1)}' is not 'off'"
