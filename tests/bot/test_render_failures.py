"""A text that fails to render at run time (content `onramp check` only warned about) is logged
with the flow, the step, the locale and the variable, and never with what a member wrote."""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from adapters.memory import Chat, MemoryAdapter
from bot.runtime import Onramp
from bot.settings import load_settings
from flows.content import load_tree
from flows.engine import Context, RunState, Start, StepFailed, advance
from tests.conftest import CONTENT, ROOT, FakeClock
from tests.features import ACTIONS

# Asks for the member's name in their own words, then reads a profile field no flow has set
# for them yet: `onramp check` warns, and the text fails for this member.
HELLO = """\
schema_version: 1
id: hello
title: Hello
trigger:
  command: hello
steps:
  - id: nickname
    ask: 'What should I call you?'
    input: text
  - id: greet
    say:
      en: 'Hello {{ answers.nickname }}, you said {{ member.experience }}'
      fr: 'Bonjour {{ answers.nickname }}, vous avez dit {{ member.experience }}'
      es: 'Hola {{ answers.nickname }}, dijiste {{ member.experience }}'
"""
SECRET = "Zebulon-Quixote-7731"  # what the member writes: it must never reach the log


@pytest.fixture
def content(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    (root / "flows" / "hello.yaml").write_text(HELLO, encoding="utf-8")
    return root


def test_check_warns_about_it(content: Path) -> None:
    tree, problems = load_tree(content, actions=ACTIONS)
    assert tree is not None, "only a warning: the bot starts on this content"
    untranslated = " covers 0 of "  # the test flow is in en, fr and es: pt, ar, sw fall back
    assert [str(p) for p in problems if "hello.yaml" in p.file and untranslated not in str(p)] == [
        f"content/flows/hello.yaml:{line} step 'greet': warning: {{{{ member.experience }}}}: "
        "members have no 'experience' until a flow sets it, and then this text fails for "
        "them; write {{ member.experience | default('') }}, or test "
        "{% if member.experience is defined %}"
        for line in (12, 13, 14)
    ]


def test_the_engine_names_the_flow_step_locale_and_variable(content: Path) -> None:
    tree, _ = load_tree(content, actions=ACTIONS)
    assert tree is not None
    flow = tree.flows["hello"]
    context = Context({"display_name": SECRET, "locale": "fr"}, "en")
    asked = advance(flow, RunState(), Start(), context)
    from flows.engine import Reply

    with pytest.raises(StepFailed) as failed:
        advance(flow, asked.state, Reply(SECRET), context)
    error = failed.value
    assert (error.flow, error.step, error.locale, error.variable) == (
        "hello",
        "greet",
        "fr",
        "experience",
    )
    assert str(error) == (
        "flow 'hello' step 'greet' (locale fr): 'experience' is undefined; `onramp check` "
        "names the problem in the content"
    )
    assert error.__cause__ is None and error.__suppress_context__


@pytest.fixture
async def onramp(content: Path, tmp_path: Path) -> AsyncIterator[tuple[Onramp, MemoryAdapter]]:
    settings = load_settings(
        ROOT / "bot.toml",
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'onramp.db'}"},
        content={"path": content},
        clock={"tick_seconds": 3600},
    )
    memory = MemoryAdapter()
    app = await Onramp.create(settings, {"memory": memory}, clock=FakeClock())
    await app.start()
    try:
        yield app, memory
    finally:
        await app.stop()


async def test_the_log_says_where_and_the_member_hears_sorry(
    onramp: tuple[Onramp, MemoryAdapter], caplog: pytest.LogCaptureFixture
) -> None:
    _, memory = onramp
    chat = Chat(memory, user="zeb", display_name=SECRET)
    await chat.say("/hello")
    chat.expect("What should I call you?")
    with caplog.at_level(logging.DEBUG):
        await chat.say(SECRET)
    chat.expect("Sorry, something went wrong on my side")
    failures = [r for r in caplog.records if r.getMessage() == "a flow step failed"]
    assert failures, "the failure was not logged where it happened"
    record = failures[0]
    assert record.levelno == logging.ERROR
    assert (record.flow, record.step, record.locale, record.variable) == (  # type: ignore[attr-defined]
        "hello",
        "greet",
        "en",
        "experience",
    )
    logged = "\n".join(f"{r.getMessage()} {vars(r)} {caplog.text}" for r in caplog.records)
    assert SECRET not in logged


def test_a_system_text_that_fails_is_named_in_the_log(
    content: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import UTC, datetime

    from bot.registry import Registry
    from bot.turn import Turn
    from storage.models import Identity, Member

    tree, _ = load_tree(content, actions=ACTIONS)
    assert tree is not None
    member = Member(id=1, display_name=SECRET, locale="es", profile={})
    identity = Identity(member_id=1, platform="memory", external_id="zeb")
    when = datetime(2026, 3, 2, tzinfo=UTC)
    turn = Turn(None, None, tree, member, identity, when, key="k", registry=Registry())  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR), pytest.raises(UndefinedError):
        turn.system_text("kudos_thanks")  # said without the context it reads
    record = next(r for r in caplog.records if r.getMessage() == "a system text failed")
    assert (record.text, record.locale) == ("kudos_thanks", "es")  # type: ignore[attr-defined]
    assert SECRET not in caplog.text
