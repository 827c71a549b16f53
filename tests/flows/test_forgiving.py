"""Forgiving answers, in the engine: choices named any way people name them, yes and no in
every language, "did you mean" for typos, skipping optional questions, time zones as said."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from flows.answers import (
    AnswerWords,
    Rejected,
    Suggested,
    answer_words,
    close_choice,
    match_choice,
    parse_choices,
)
from flows.content import ContentTree, load_tree_or_raise
from flows.engine import (
    AwaitInput,
    Context,
    Pick,
    Prompt,
    Remind,
    Reply,
    Resume,
    RunState,
    SaveAnswer,
    SetProfile,
    advance,
)
from flows.flow_paths import arrivals
from flows.schema import AskStep, Flow
from tests.features import ACTIONS

CONTENT = Path(__file__).resolve().parents[2] / "content"
NOW = datetime(2026, 3, 2, 8, 35, tzinfo=UTC)
COMMUNITY = {"name": "Test", "links": {"privacy": "https://example.org/privacy"}}


@pytest.fixture(scope="module")
def content() -> ContentTree:
    return load_tree_or_raise(CONTENT, actions=ACTIONS)


@pytest.fixture(scope="module")
def words(content: ContentTree) -> AnswerWords:
    return answer_words(content.system)


def step(content: ContentTree, step_id: str, flow: str = "onboarding") -> AskStep:
    found = next(s for s in content.flows[flow].steps if s.id == step_id)
    assert isinstance(found, AskStep)
    return found


def ask(step_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": step_id, "ask": {"en": f"{step_id}?"}, **fields}


YES_NO = [
    {"id": "yes", "label": {"en": "Yes, please", "fr": "Oui, volontiers", "es": "Sí, por favor"}},
    {"id": "no", "label": {"en": "Not right now", "fr": "Pas pour l'instant"}},
]
TOPICS = [
    {"id": "code", "label": {"en": "💻 Code", "es": "💻 Código"}},
    {"id": "docs", "label": {"en": "📝 Documentation", "es": "📝 Documentación"}},
    {"id": "translation", "label": {"en": "🌍 Translation", "es": "🌍 Traducción"}},
    {"id": "review", "label": {"en": "💻 Code review"}},
]
LANGUAGES = [
    {"id": "en", "label": "English"},
    {"id": "es", "label": "Español"},
    {"id": "pt", "label": "Português"},
    {"id": "ar", "label": "العربية"},
]
FLOW = Flow.model_validate(
    {
        "schema_version": 1,
        "id": "forgiving",
        "title": {"en": "Forgiving"},
        "trigger": {"command": "forgiving"},
        "steps": [
            ask("language", choices=LANGUAGES),
            ask("topics", choices=TOPICS, multiple=True),
            ask("pronouns", input="text", optional=True, timeout="1d"),
            {"id": "save_pronouns", "set": {"pronouns": "{{ answers.pronouns }}"}},
            ask("mentor", choices=YES_NO),
            ask("timezone", input="timezone", timeout="1d"),
            {"id": "bye", "end": {"en": "Bye"}},
        ],
    }
)
OPTIONS = {s.id: s for s in FLOW.steps if isinstance(s, AskStep)}


def context(words: AnswerWords, **profile: object) -> Context:
    return Context(profile, "en", COMMUNITY, words=words, now=NOW)


def picked(text: str, step_id: str, words: AnswerWords) -> str | None:
    found = match_choice(text, OPTIONS[step_id].choices or [], words)
    return found.id if found else None


@pytest.mark.parametrize(
    ("text", "step_id", "wanted"),
    [
        ("oui", "mentor", "yes"),  # the first word of "Oui, volontiers"
        ("sí", "mentor", "yes"),
        ("نعم", "mentor", "yes"),  # the id "yes"
        ("ndiyo", "mentor", "yes"),
        ("OK", "mentor", "yes"),
        ("d'accord", "mentor", "yes"),
        ("nope", "mentor", "no"),
        ("não", "mentor", "no"),
        ("hapana", "mentor", "no"),
        ("Pas pour l'instant", "mentor", "no"),  # a label in another language than the member's
        ("doc", "topics", "docs"),  # a prefix only one option's label has
        ("traducción", "topics", "translation"),
        ("🌍", "topics", "translation"),  # an emoji only one option has
        ("port", "language", "pt"),
        ("español", "language", "es"),
        ("٢", "language", "es"),
    ],
)
def test_a_choice_is_named_any_way_people_name_it(
    words: AnswerWords, text: str, step_id: str, wanted: str
) -> None:
    assert picked(text, step_id, words) == wanted


@pytest.mark.parametrize(
    ("text", "step_id"),
    [
        ("💻", "topics"),  # two options have it
        ("code", "topics"),  # an id, and a word of "Code review": the id wins (below)
        ("cod", "topics"),  # a prefix of two options
        ("co", "topics"),  # too short to guess from
        ("oui", "language"),  # yes means nothing at a question that is not yes or no
        ("xyz", "language"),
        ("5", "language"),
    ],
)
def test_what_names_no_single_option_is_not_guessed(
    words: AnswerWords, text: str, step_id: str
) -> None:
    if text == "code":
        assert picked(text, step_id, words) == "code"
        return
    assert picked(text, step_id, words) is None


def test_the_yes_and_no_words_are_the_contents_in_every_language(words: AnswerWords) -> None:
    assert {"yes", "oui", "si", "sim", "نعم", "ndiyo", "sawa", "daccord"} <= words.yes
    assert {"no", "non", "nao", "لا", "hapana"} <= words.no
    assert {"skip", "passer", "saltar", "pular", "تخطي", "ruka"} <= words.skip
    assert words.yes.isdisjoint(words.no)


@pytest.mark.parametrize(
    ("text", "step_id", "wanted"),
    [
        ("espanyol", "language", "es"),
        ("Engish", "language", "en"),
        ("traducion", "topics", "translation"),
        ("documentaton", "topics", "docs"),
    ],
)
def test_a_typo_is_close_to_one_option(text: str, step_id: str, wanted: str) -> None:
    found = close_choice(text, OPTIONS[step_id].choices or [])
    assert found is not None and found.id == wanted


@pytest.mark.parametrize("text", ["xyz", "hello", "3x", "", "🚀", "klingon", "a" * 2000])
def test_what_is_no_typo_of_an_option_is_not_suggested(text: str) -> None:
    for step_id in ("language", "topics", "mentor"):
        assert close_choice(text, OPTIONS[step_id].choices or []) is None, (text, step_id)


def test_a_multiple_answer_says_which_part_it_did_not_understand(words: AnswerWords) -> None:
    topics = OPTIONS["topics"]
    assert parse_choices(topics, "1, doc and 🌍", words) == ["code", "docs", "translation"]
    assert parse_choices(topics, "1, traducion", words) == Suggested(
        "translation", ("code", "translation")
    )
    assert parse_choices(topics, "1, xyz", words) == Rejected("invalid_choices", 4, part="xyz")
    long = parse_choices(topics, "2, " + "y" * 100, words)
    assert isinstance(long, Rejected) and long.part == "y" * 39 + "…"
    # Two parts not understood: the first is named, no guess is made about either.
    assert parse_choices(topics, "hello, traducion", words) == Rejected(
        "invalid_choices", 4, part="hello"
    )


def test_did_you_mean_then_yes_records_the_option(words: AnswerWords) -> None:
    state = RunState("language", {}, waiting=True)
    asked = advance(FLOW, state, Reply("espanyol"), context(words))
    (prompt,) = asked.prompts
    assert prompt.kind == "did_you_mean" and prompt.text == "Español"
    assert asked.state.pending == {"kind": "did_you_mean", "option": "es", "ids": ["es"]}
    assert not any(isinstance(o, SaveAnswer) for o in asked.outputs)
    for yes in ("1", "yes", "Oui", "نعم", "sawa"):
        outcome = advance(FLOW, asked.state, Reply(yes), context(words))
        assert SaveAnswer("language", "es") in outcome.outputs, yes
        assert outcome.state.step_id == "topics" and outcome.state.pending is None
    pressed = advance(FLOW, asked.state, Pick(("~yes",)), context(words))
    assert SaveAnswer("language", "es") in pressed.outputs


def test_did_you_mean_then_no_asks_again_and_anything_else_is_a_fresh_answer(
    words: AnswerWords,
) -> None:
    asked = advance(FLOW, RunState("language", {}, waiting=True), Reply("espanyol"), context(words))
    for no in ("2", "no", "non", "hapana"):
        again = advance(FLOW, asked.state, Reply(no), context(words))
        assert [p.kind for p in again.prompts] == ["ask"], no
        assert again.prompts[0].step_id == "language"
        assert again.state == RunState("language", {}, waiting=True)
    fresh = advance(FLOW, asked.state, Reply("Português"), context(words))
    assert SaveAnswer("language", "pt") in fresh.outputs
    other_typo = advance(FLOW, asked.state, Reply("portugese"), context(words))
    assert other_typo.state.pending == {"kind": "did_you_mean", "option": "pt", "ids": ["pt"]}
    old_button = advance(FLOW, asked.state, Pick(("ar",)), context(words))
    assert SaveAnswer("language", "ar") in old_button.outputs


def test_a_typo_in_one_part_keeps_the_other_parts(words: AnswerWords) -> None:
    state = RunState("topics", {"language": "en"}, waiting=True)
    asked = advance(FLOW, state, Reply("1, traducion"), context(words))
    assert asked.prompts[0].kind == "did_you_mean" and asked.prompts[0].text == "🌍 Translation"
    assert not asked.prompts[0].choices  # the core adds Yes and No in the member's language
    confirmed = advance(FLOW, asked.state, Reply("yes"), context(words))
    assert SaveAnswer("topics", ["code", "translation"]) in confirmed.outputs
    unknown = advance(FLOW, state, Reply("1, xyz"), context(words))
    (retry,) = unknown.prompts
    assert retry.kind == "retry" and retry.part == "xyz" and retry.reason == "invalid_choices"


def test_a_reminder_or_a_resume_asks_the_question_not_the_clarification(
    words: AnswerWords,
) -> None:
    asked = advance(FLOW, RunState("language", {}, waiting=True), Reply("espanyol"), context(words))
    for given in (Resume(), Remind("language")):
        outcome = advance(FLOW, asked.state, given, context(words))
        (prompt,) = outcome.prompts
        assert prompt.step_id == "language" and prompt.kind in ("ask", "nudge")
        assert [c[0] for c in prompt.choices] == ["en", "es", "pt", "ar"]
        assert outcome.state.pending is None
        # "1" now answers the question itself: English, not "yes, Español".
        after = advance(FLOW, outcome.state, Reply("1"), context(words))
        assert SaveAnswer("language", "en") in after.outputs


def test_skipping_an_optional_question_records_no_answer(words: AnswerWords) -> None:
    state = RunState("pronouns", {"language": "en", "topics": ["code"]}, waiting=True)
    asked = advance(FLOW, RunState("topics", {}, waiting=True), Reply("1"), context(words))
    assert asked.prompts[-1].optional  # the core adds the skip hint
    for skip in ("skip", "Passer", "تخطي", "ruka"):
        outcome = advance(FLOW, state, Reply(skip), context(words))
        assert not any(isinstance(o, SaveAnswer) for o in outcome.outputs), skip
        assert "pronouns" not in outcome.state.answers
        assert not any(isinstance(o, SetProfile) for o in outcome.outputs)  # nothing to copy
        assert outcome.state.step_id == "mentor"
    answered = advance(FLOW, state, Reply("they/them"), context(words))
    assert SaveAnswer("pronouns", "they/them") in answered.outputs


def test_a_question_that_is_not_optional_cannot_be_skipped(words: AnswerWords) -> None:
    for step_id in ("mentor", "timezone"):
        state = RunState(step_id, {}, waiting=True)
        outcome = advance(FLOW, state, Reply("skip"), context(words))
        (prompt,) = outcome.prompts
        assert prompt.kind == "retry" and prompt.reason == "not_skippable", step_id
        assert outcome.state == state


def test_a_clear_time_zone_is_confirmed_in_words(words: AnswerWords) -> None:
    state = RunState("timezone", {}, waiting=True)
    outcome = advance(FLOW, state, Reply("Mumbai"), context(words))
    assert SaveAnswer("timezone", "Asia/Kolkata") in outcome.outputs
    confirmed = outcome.prompts[0]
    assert confirmed.kind == "zone_confirmed"
    assert confirmed.text == "Asia/Kolkata"  # the bot says it in words, with the time there
    assert outcome.state.finished
    # What the time zone question took before still works, confirmed too.
    for text, zone in (("europe/paris", "Europe/Paris"), ("IST", "Asia/Kolkata")):
        kept = advance(FLOW, state, Reply(text), context(words))
        assert SaveAnswer("timezone", zone) in kept.outputs
        assert kept.prompts[0].kind == "zone_confirmed"
    # An offset is a real zone (summer time still works), chosen from the likely ones.
    for text, zone in (("UTC+3", "Africa/Nairobi"), ("UTC+05:30", "Asia/Kolkata")):
        offset = advance(FLOW, state, Reply(text), context(words))
        assert offset.prompts[0].kind == "which_zone"
        assert zone in (offset.state.pending or {}).get("zones", [])
    unknown = advance(FLOW, state, Reply("the moon"), context(words))
    assert unknown.prompts[0].reason == "invalid_timezone"


def test_an_ambiguous_time_zone_offers_a_numbered_list(words: AnswerWords) -> None:
    state = RunState("timezone", {}, waiting=True)
    asked = advance(FLOW, state, Reply("CST"), context(words))
    (prompt,) = asked.prompts
    assert prompt.kind == "which_zone" and 2 <= len(prompt.choices) <= 6
    zones = list(asked.state.pending["zones"]) if asked.state.pending else []
    assert "America/Chicago" in zones and "Asia/Shanghai" in zones
    assert [c[0] for c in prompt.choices] == [f"~{n}" for n in range(1, len(zones) + 1)]
    assert any("Chicago" in label for _, label in prompt.choices)
    second = advance(FLOW, asked.state, Reply("2"), context(words))
    assert SaveAnswer("timezone", zones[1]) in second.outputs
    assert second.prompts[0].kind == "zone_confirmed"
    pressed = advance(FLOW, asked.state, Pick(("~1",)), context(words))
    assert SaveAnswer("timezone", zones[0]) in pressed.outputs
    none = advance(FLOW, asked.state, Reply(str(len(zones) + 1)), context(words))
    assert [p.kind for p in none.prompts] == ["ask"] and none.state.pending is None
    assert isinstance(none.outputs[-1], AwaitInput)
    fresh = advance(FLOW, asked.state, Reply("Lima"), context(words))
    assert SaveAnswer("timezone", "America/Lima") in fresh.outputs


def test_the_shipped_onboarding_understands_yes_in_every_language(
    content: ContentTree, words: AnswerWords
) -> None:
    consent = step(content, "consent")
    for text in ("oui", "sí", "نعم", "ndiyo", "sim", "OK"):
        assert parse_choices(consent, text, words) == ["yes"], text
    for text in ("non", "لا", "hapana", "não"):
        assert parse_choices(consent, text, words) == ["no"], text
    language = step(content, "language")
    assert parse_choices(language, "espanyol", words) == Suggested("es", ("es",))
    interests = step(content, "interests")
    assert parse_choices(interests, "doc, 🌍", words) == ["docs", "translation"]
    assert parse_choices(interests, "documentaton", words) == Suggested("docs", ("docs",))


def test_any_reply_to_a_clarification_gets_an_answer(words: AnswerWords) -> None:
    asked = advance(FLOW, RunState("language", {}, waiting=True), Reply("espanyol"), context(words))
    for text in ("", "🚀", "x" * 5000, "0", "3", "~yes", "\u202e"):
        outcome = advance(FLOW, asked.state, Reply(text), context(words))
        assert outcome.prompts and all(isinstance(p, Prompt) for p in outcome.prompts), text
        assert outcome.state.waiting or outcome.state.step_id == "topics"


def test_onramp_check_knows_an_optional_answer_may_be_absent() -> None:
    arrival = arrivals(FLOW)["mentor"]
    assert "pronouns" in arrival.answered_maybe and "pronouns" not in arrival.answered_surely
    assert "topics" in arrival.answered_surely


@pytest.mark.parametrize(
    ("typed", "ids"),
    [
        ("ترجمة، توثيق", ["translation", "docs"]),  # Arabic comma; nouns without "ال"
        ("الترجمة والتوثيق", None),  # "and" joined to its noun: not split, not guessed
        ("ترجمة و توثيق", ["translation", "docs"]),
        ("tradução e documentação", ["translation", "docs"]),
        ("tafsiri na nyaraka", ["translation", "docs"]),
        ("翻訳、1", None),  # an ideographic comma splits; an unknown word is named
    ],
)
def test_multiple_answers_in_each_language(
    content: ContentTree, words: AnswerWords, typed: str, ids: list[str] | None
) -> None:
    interests = step(content, "interests")
    found = parse_choices(interests, typed, words)
    if ids is None:
        assert isinstance(found, Rejected | Suggested)
    else:
        assert found == ids
