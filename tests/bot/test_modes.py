"""/mode rich|text|lite and /links, through the memory adapter on a real SQLite database,
with tests/modes_content.py's content: an onboarding whose texts show what each mode changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.memory import Chat, MemoryAdapter
from bot.messages import Choice, OutgoingMessage
from bot.modes import as_text, without_links
from bot.runtime import Onramp
from bot.settings import Settings, load_settings
from flows.content import load_tree
from storage.models import Member
from tests.clock import FakeClock
from tests.features import ACTIONS
from tests.modes_content import (
    CODE_OF_CONDUCT,
    FIRST_TASKS,
    GUIDE,
    ONBOARDING,
    ROOT,
    content_with,
)


async def running(tmp_path: Path, content: Path, clock: FakeClock) -> Onramp:
    settings: Settings = load_settings(
        ROOT / "bot.toml",
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'onramp.db'}"},
        content={"path": content},
        clock={"tick_seconds": 3600},
    )
    memory = MemoryAdapter()
    app = await Onramp.create(settings, {"memory": memory}, clock=clock)
    await app.start()
    return app


@pytest.fixture
async def onramp(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Onramp]:
    app = await running(tmp_path, content_with(tmp_path), clock)
    try:
        yield app
    finally:
        await app.stop()


def chat_on(app: Onramp, locale: str = "en") -> Chat:
    adapter = app.adapters["memory"]
    assert isinstance(adapter, MemoryAdapter)
    return Chat(adapter, user="ada", display_name="Ada", locale_hint=locale)


async def stored_member(app: Onramp) -> Member:
    async with app.db.reading() as session:
        return (await session.execute(select(Member))).scalars().one()


async def test_rich_is_the_default_with_buttons_and_links(onramp: Onramp) -> None:
    chat = chat_on(onramp)
    await chat.join()
    chat.expect("Hello Ada", GUIDE, f"({CODE_OF_CONDUCT})")
    chat.expect("A tip: the first tasks", FIRST_TASKS)
    question = chat.expect("Have you contributed")
    assert [c.id for c in question.choices] == ["new", "some", "experienced"]
    assert question.mode == "rich"


async def test_mode_alone_says_the_current_one_and_the_three_in_the_members_language(
    onramp: Onramp,
) -> None:
    chat = chat_on(onramp, "fr")
    await chat.join()
    chat.skip(3)
    await chat.say("/mode")
    listing = chat.expect("mode **rich**", "/mode rich: boutons", "/mode text: ", "/mode lite: ")
    assert len(listing.text.splitlines()) == 4
    chat.expect("Avez-vous déjà contribué")  # the question waiting, asked again


async def test_text_mode_numbers_the_options_and_takes_a_number_or_a_name(
    onramp: Onramp,
) -> None:
    chat = chat_on(onramp)
    await chat.join()
    chat.skip(3)
    await chat.say("/mode text")
    chat.expect("Done: you now get messages in **text** mode.")
    question = chat.expect("Have you contributed", "1. Not yet\n2. A little\n3. Often")
    assert question.choices == () and question.mode == "text"
    assert (await stored_member(onramp)).mode == "text"  # durable: on the member row
    await chat.say("2")
    chat.expect("All set, Ada. See you around!")
    chat.expect("badge")  # content/badges.yaml's first, for finishing the onboarding
    await chat.say("/restart")
    chat.expect("Hello Ada", GUIDE)  # text mode keeps the whole text and its links
    chat.expect("A tip", FIRST_TASKS)
    chat.expect("3. Often")
    await chat.say("often")
    chat.expect("All set, Ada.")  # "often" named the third option


async def test_lite_mode_says_short_variants_and_gives_links_on_request(
    onramp: Onramp,
) -> None:
    chat = chat_on(onramp)
    await chat.join()
    chat.skip(3)
    await chat.say("/mode lite")
    chat.expect("**lite** mode")
    question = chat.expect("Contributed before?", "1. Not yet")
    assert "Have you" not in question.text and question.choices == ()
    await chat.say("/restart")
    # No short variant: the whole text, each link a marker; then the tip's short variant,
    # its link numbered on from the first message's.
    welcome = chat.expect("Hello Ada! The guide: 🔗1, and the code of conduct 🔗2.")
    assert welcome.text.endswith("\n\n🔗 /links: the links")
    tip = chat.expect("Tip: 🔗3")
    assert tip.text == "Tip: 🔗3"  # the turn's first message said how to get the links
    assert "https://" not in welcome.text + tip.text and welcome.mode == "lite"
    chat.expect("Contributed before?")
    await chat.say("/links")
    links = chat.expect(GUIDE)
    assert links.text.splitlines() == [
        f"🔗1 {GUIDE}",
        f"🔗2 {CODE_OF_CONDUCT}",
        f"🔗3 {FIRST_TASKS}",
    ]
    assert (await stored_member(onramp)).links == [GUIDE, CODE_OF_CONDUCT, FIRST_TASKS]
    chat.expect("Contributed before?")
    await chat.say("1")
    chat.expect("All set.")  # the end step's short variant
    chat.expect("badge")


async def test_links_with_none_kept_says_so(onramp: Onramp) -> None:
    chat = chat_on(onramp)
    await chat.join()
    chat.skip(3)
    await chat.say("/links")
    chat.expect("There are no links in your last messages.")


async def test_the_platform_default_comes_from_community_yaml(
    tmp_path: Path, clock: FakeClock
) -> None:
    app = await running(tmp_path, content_with(tmp_path, default_mode={"memory": "lite"}), clock)
    try:
        chat = chat_on(app)
        await chat.join()
        chat.expect("The guide: 🔗1")
        chat.expect("Tip: 🔗3")
        chat.expect("Contributed before?", "3. Often")
        await chat.say("/mode")
        chat.expect("**lite** mode")
        chat.skip(1)
        await chat.say("/mode rich")  # the member's choice wins over the platform's default
        chat.skip(1)
        question = chat.expect("Have you contributed")
        assert len(question.choices) == 3
        assert (await stored_member(app)).mode == "rich"
    finally:
        await app.stop()


def test_onramp_check_reads_short_like_the_text_it_stands_for(tmp_path: Path) -> None:
    flow = ONBOARDING.read_text(encoding="utf-8").replace(
        '"Contributed before?"', '"Contributed before, {{ member.nmae }}?"'
    )
    line = next(n for n, text in enumerate(flow.splitlines(), 1) if "nmae" in text)
    tree, problems = load_tree(content_with(tmp_path, onboarding=flow), actions=ACTIONS)
    errors = [p for p in problems if p.severity == "error"]
    assert tree is None
    assert [(p.file, p.line, p.step) for p in errors] == [
        ("content/flows/onboarding.yaml", line, "experience")
    ], errors
    assert "nmae" in str(errors[0])


def test_lite_mode_takes_out_links_but_leaves_mentions_and_member_text_alone() -> None:
    text = (
        "See [the guide](https://example.org/guide), <https://example.org/auto> and "
        "https://example.org/a_b. Ask [Bea](member:U42); \\[not a link\\](x)."
    )
    marked, links = without_links(text, first=4)
    assert marked == ("See the guide 🔗4, 🔗5 and 🔗6. Ask [Bea](member:U42); \\[not a link\\](x).")
    assert links == [
        "https://example.org/guide",
        "https://example.org/auto",
        "https://example.org/a_b",
    ]
    assert without_links("no links here") == ("no links here", [])


def test_text_mode_numbers_choices_and_drops_buttons() -> None:
    question = OutgoingMessage(
        platform="slack",
        recipient="U1",
        text="Pick one",
        choices=(Choice("a", "Apples"), Choice("b", "Pears")),
        step_id="fruit",
        answer_hint="Reply with a number",
        submit_label="OK",
        mode="text",
    )
    shown = as_text(question)
    assert shown.text == "Pick one\n\n1. Apples\n2. Pears\n\n_Reply with a number_"
    assert shown.choices == () and shown.answer_hint is None and shown.step_id == "fruit"
    assert as_text(shown) == shown
