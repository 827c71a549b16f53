"""The flow interpreter as a pure function, including arbitrary member input (hypothesis)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.content import ContentTree, load_tree_or_raise
from flows.engine import (
    AwaitInput,
    Context,
    Pick,
    Prompt,
    Reply,
    Resume,
    RunState,
    SaveAnswer,
    SetProfile,
    Start,
    advance,
)
from tests.features import ACTIONS

CONTENT = Path(__file__).resolve().parents[2] / "content"


@pytest.fixture(scope="module")
def content() -> ContentTree:
    return load_tree_or_raise(CONTENT, actions=ACTIONS)


COMMUNITY = {
    "name": "Test",
    "links": {
        "privacy": "https://example.org/privacy",
        "code_of_conduct": "c",
        "contributing": "g",
        "first_tasks": "t",
        "channels": "ch",
    },
}


def context(**profile: object) -> Context:
    return Context(profile, "en", COMMUNITY)


def test_start_runs_until_the_first_question(content: ContentTree) -> None:
    # The platform did not say the member's language: it is the first question.
    outcome = advance(content.onboarding, RunState(), Start(), context(display_name="Ada"))
    kinds = [type(o).__name__ for o in outcome.outputs]
    assert kinds == ["Prompt", "AwaitInput"]
    assert outcome.state.step_id == "language" and outcome.state.waiting
    assert "Which language" in outcome.prompts[0].text
    # It did (Slack, Telegram): the welcome, then the first question, consent.
    known = context(display_name="Ada", locale="en")
    outcome = advance(content.onboarding, RunState(), Start(), known)
    kinds = [type(o).__name__ for o in outcome.outputs]
    assert kinds == ["Prompt", "Prompt", "AwaitInput"]
    assert outcome.state.step_id == "consent" and outcome.state.waiting
    assert "Hello Ada" in outcome.prompts[0].text
    waiting = outcome.outputs[2]
    assert isinstance(waiting, AwaitInput) and waiting.timeout is not None


def test_a_choice_by_number_label_or_id(content: ContentTree) -> None:
    state = RunState("language", {}, waiting=True)
    for text in ("2", "français", "FRANCAIS", "fr", " 2. "):
        outcome = advance(content.onboarding, state, Reply(text), context())
        assert SaveAnswer("language", "fr") in outcome.outputs, text
        assert SetProfile("locale", "fr") in outcome.outputs
        assert outcome.prompts[0].text.startswith("👋 Bonjour")  # the next step speaks French


def test_an_unknown_choice_asks_again_with_the_reason(content: ContentTree) -> None:
    state = RunState("language", {}, waiting=True)
    outcome = advance(content.onboarding, state, Reply("Klingon"), context())
    assert outcome.state == state
    (prompt,) = outcome.prompts
    assert prompt.kind == "retry" and prompt.reason == "invalid_choice" and prompt.reason_count == 6
    assert [c[0] for c in prompt.choices] == ["en", "fr", "es", "pt", "ar", "sw"]


def test_multiple_choices_and_plural_forms(content: ContentTree) -> None:
    state = RunState("interests", {}, waiting=True)
    outcome = advance(content.onboarding, state, Reply("1, 4 and 5"), context(locale="en"))
    assert SaveAnswer("interests", ["code", "translation", "data"]) in outcome.outputs
    assert "3 areas" in outcome.prompts[0].text
    one = advance(content.onboarding, state, Reply("docs"), context(locale="en"))
    assert "great place to start" in one.prompts[0].text


def test_stale_button_pick_and_resume(content: ContentTree) -> None:
    state = RunState("experience", {"interests": ["code"]}, waiting=True)
    resumed = advance(content.onboarding, state, Resume(), context())
    assert resumed.state == state and resumed.prompts[0].step_id == "experience"
    picked = advance(content.onboarding, state, Pick(("new",)), context())
    assert SaveAnswer("experience", "new") in picked.outputs
    wrong = advance(content.onboarding, state, Pick(("nonsense",)), context())
    assert wrong.prompts[0].kind == "retry"


def test_timezone_input(content: ContentTree) -> None:
    state = RunState("timezone", {}, waiting=True)
    for text, zone in (
        ("Nairobi", "Africa/Nairobi"),
        ("europe/paris", "Europe/Paris"),
        ("UTC+14", "Pacific/Kiritimati"),  # an offset one real zone has: that zone
        ("São Paulo", "America/Sao_Paulo"),
    ):
        outcome = advance(content.onboarding, state, Reply(text), context())
        assert SaveAnswer("timezone", zone) in outcome.outputs, text
    bad = advance(content.onboarding, state, Reply("the moon"), context())
    assert bad.prompts[0].reason == "invalid_timezone"


def test_declining_consent_ends_the_flow(content: ContentTree) -> None:
    state = RunState("consent", {}, waiting=True)
    outcome = advance(content.onboarding, state, Reply("no"), context())
    assert outcome.state.finished
    assert SetProfile("consent", False) in outcome.outputs
    assert outcome.prompts[-1].kind == "end"


def test_free_text_limits(content: ContentTree) -> None:
    feedback = content.flows["feedback"]
    state = RunState("comment", {"rating": "4"}, waiting=True)
    too_long = advance(feedback, state, Reply("x" * 1001), context())
    assert too_long.prompts[0].reason == "answer_too_long"
    empty = advance(feedback, state, Reply("\u200b \x00 "), context())
    assert empty.prompts[0].reason == "empty_answer"
    kept = advance(feedback, state, Reply("مرحبا 👋 \u202eevil"), context())
    assert SaveAnswer("comment", "مرحبا 👋 evil") in kept.outputs
    assert kept.state.finished


def test_the_announcements_answer_is_consent_for_that_purpose(content: ContentTree) -> None:
    for typed, granted in (("1", True), ("No, thanks", False)):
        state = RunState("announcements", {"interests": ["code"], "consent": "yes"}, waiting=True)
        outcome = advance(content.onboarding, state, Reply(typed), context())
        assert SetProfile("consent.announcements", granted) in outcome.outputs
        assert outcome.state.step_id == "experience" and outcome.state.waiting


ASK_STEPS = [
    "consent",
    "language",
    "timezone",
    "interests",
    "announcements",
    "experience",
    "start_here",
    "mentor",
]


@settings(max_examples=300, deadline=None)
@given(
    step=st.sampled_from(ASK_STEPS),
    text=st.text(max_size=2000),
    locale=st.sampled_from([None, "en", "fr", "es", "sw"]),
)
def test_any_input_at_any_question_gets_an_answer(
    content: ContentTree, step: str, text: str, locale: str | None
) -> None:
    state = RunState(step, {"interests": ["code"], "consent": "yes"}, waiting=True)
    outcome = advance(content.onboarding, state, Reply(text), context(locale=locale))
    assert outcome.prompts, "the member always hears back"
    assert all(isinstance(p, Prompt) and p.text.strip() for p in outcome.prompts)
    assert outcome.state.finished or (outcome.state.waiting and outcome.state.step_id)


@settings(max_examples=25, deadline=None)
@given(chunk=st.text(min_size=1, max_size=50))
def test_a_100_kb_message_is_handled(content: ContentTree, chunk: str) -> None:
    text = (chunk * (100_000 // len(chunk) + 1))[:100_000]
    for step in ("timezone", "interests"):
        state = RunState(step, {}, waiting=True)
        outcome = advance(content.onboarding, state, Reply(text), context())
        assert outcome.prompts[0].kind in ("retry", "say", "ask")


def test_a_field_the_member_chose_answers_the_question_that_sets_it(
    content: ContentTree,
) -> None:
    # At the question itself, showing it again moves on instead: `/language fr` answered it.
    chosen = Context({"locale": "fr"}, "en", COMMUNITY, chosen={"locale": "fr"})
    at_language = RunState("language", {}, waiting=True)
    resumed = advance(content.onboarding, at_language, Resume(), chosen)
    assert SaveAnswer("language", "fr") in resumed.outputs
    assert resumed.state.step_id == "consent"
    assert resumed.prompts[0].text.startswith("👋 Bonjour")
    # A later question: any field a `set` step fills with an answer whole, not only the language.
    at_consent = RunState("consent", {"language": "en"}, waiting=True)
    zone = Context({}, "en", COMMUNITY, chosen={"timezone": "Europe/Paris"})
    skipped = advance(content.onboarding, at_consent, Reply("yes"), zone)
    assert SaveAnswer("timezone", "Europe/Paris") in skipped.outputs
    assert skipped.state.step_id == "interests"


def test_a_chosen_value_the_question_refuses_leaves_it_to_ask(content: ContentTree) -> None:
    at_language = RunState("language", {}, waiting=True)
    chosen = Context({}, "en", COMMUNITY, chosen={"locale": "de"})  # not one of its choices
    resumed = advance(content.onboarding, at_language, Resume(), chosen)
    assert resumed.state == at_language
    assert resumed.prompts[0].step_id == "language"
