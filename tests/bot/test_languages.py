"""A whole onboarding in each of the six languages, through the memory adapter: after the
language is chosen at the first question, every message is the content's own text in that
language, and none is the English one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.memory import Chat, MemoryAdapter
from bot.messages import OutgoingMessage
from bot.runtime import Onramp
from bot.settings import Settings
from bot.turn import community_variables
from flows.content import ContentTree
from flows.schema import AskStep
from flows.text import render
from storage.models import Member
from tests.clock import FakeClock
from tests.six_languages import LANGUAGES, content_in_six_languages, skip_until_translated

# Each option of the first question, in its own language.
LABELS = {
    "en": "English",
    "fr": "Français",
    "es": "Español",
    "pt": "Português",
    "ar": "العربية",
    "sw": "Kiswahili",
}
INTERESTS = ["docs", "translation"]


@pytest.fixture
async def onramp(
    settings: Settings, memory: MemoryAdapter, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Onramp]:
    settings.content.path = content_in_six_languages(tmp_path)
    app = await Onramp.create(settings, {"memory": memory}, clock=clock)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


def _yes_word(content: ContentTree, locale: str) -> str | None:
    """The language's own first word for yes (content/system.yaml yes_words), if it has one."""
    words = content.system.get("yes_words", {}).get(locale)
    return words.split(",")[0].strip() if isinstance(words, str) else None


async def _onboard(chat: Chat, content: ContentTree, language: str) -> list[OutgoingMessage]:
    """The whole journey, answered the same way in every language; the bot's messages after
    the language question."""
    await chat.join()
    [question] = chat.unread()
    assert [c.label for c in question.choices] == list(LABELS.values())
    await chat.say(LABELS[language])  # picked by its label, in its own language
    yes = _yes_word(content, language)
    if yes is None:
        await chat.press("yes")
    else:
        await chat.say(yes)  # consent in the member's own words
    await chat.say("Nairobi")
    await chat.press(*INTERESTS)
    await chat.press("yes")  # announcements
    await chat.press("new")  # experience: a first-timer's tip follows
    await chat.press("first_tasks")
    await chat.press("done")
    await chat.press("no")  # no mentor
    return chat.messages[1:]


def _expected(content: ContentTree, locale: str) -> dict[str, str]:
    """Each onboarding step's text in `locale`, rendered as the bot renders it for this
    journey (the member's name, the community, her interests)."""
    variables: dict[str, Any] = {
        "member": {"name": "Ada"},
        "answers": {"interests": INTERESTS},
        "community": community_variables(content),
        "context": {},
        "count": len(INTERESTS),
    }
    texts = {}
    for step in content.onboarding.steps:
        text = next(
            (
                t
                for kind in ("ask", "say", "end")
                if isinstance(t := getattr(step, kind, None), dict)
            ),
            None,
        )
        if text is not None:
            texts[step.id] = render(text, locale, "en", variables).strip()
    return texts


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_whole_onboarding_in_the_language_chosen_first(
    onramp: Onramp, memory: MemoryAdapter, language: str
) -> None:
    skip_until_translated(language)
    content = onramp.content
    assert language in content.community.locales
    chat = Chat(memory, user="ada", display_name="Ada")
    transcript = await _onboard(chat, content, language)
    in_english = await _onboard(Chat(memory, user="eve", display_name="Ada"), content, "en")

    # Every message in her language, and the same journey as in English, message for message.
    assert [m.locale for m in transcript] == [language] * len(transcript)
    assert [m.step_id for m in transcript] == [m.step_id for m in in_english]
    expected = _expected(content, language)
    said = [
        step_id
        for step_id, text in expected.items()
        if any(text in message.text for message in transcript)
    ]
    assert said == [  # each step's own text, whole, in the order of the journey
        "welcome",
        "consent",
        "timezone",
        "interests",
        "interests_thanks",
        "announcements",
        "experience",
        "first_timer_tip",
        "start_here",
        "show_first_tasks",
        "mentor",
        "finish",
    ]
    steps = {step.id: step for step in content.onboarding.steps}
    for message in transcript:
        if message.step_id in steps and message.choices:
            step = steps[message.step_id]
            assert isinstance(step, AskStep) and step.choices is not None
            labels = [render(choice.label, language, "en", {}) for choice in step.choices]
            assert [c.label for c in message.choices] == labels, message.step_id

    if language != "en":  # no English left: no message is its English rendering
        english = _expected(content, "en")
        for message, counterpart in zip(transcript, in_english, strict=True):
            assert message.text != counterpart.text
            assert not any(text in message.text for text in english.values()), message.text
    async with onramp.db.reading() as session:
        members = (await session.execute(select(Member))).scalars().all()
    assert sorted((m.locale or "") for m in members) == sorted([language, "en"])
