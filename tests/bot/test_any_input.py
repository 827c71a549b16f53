"""Whatever a member types, the bot answers and nothing raises: arbitrary Unicode text as the
arguments of every registered command, and as the answer to every question of the shipped
flows, through the memory adapter (hypothesis).

A handling error would not surface as an exception here: the core records it as a failed event
and apologises (bot/failed_events.py). So every example also checks that nothing was recorded
as failed, and that the member's answer is not that apology.

One runtime serves every example of a test (starting one per example would take minutes), on
its own event loop, with a fresh member per example; the clock is the tests' fixed clock.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlmodel import col

from adapters.memory import Chat, MemoryAdapter
from bot.events import CommandInvoked, MessageReceived
from bot.features import build_registry
from bot.runtime import Onramp
from bot.settings import load_settings
from flows.content import load_tree_or_raise
from flows.schema import AskStep, Flow
from storage import members, runs
from storage.models import FailedEvent, FlowRun
from tests.conftest import CONTENT, ROOT, FakeClock
from tests.features import ACTIONS

EXAMPLES = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
APOLOGY = "something went wrong on my side"
# What members type: any Unicode (surrogates excluded: no platform delivers them), with the
# characters that have meaning to a parser well represented.
TYPED = st.text(
    st.one_of(
        st.characters(exclude_categories=["Cs"]),
        st.sampled_from("0123456789²³¹٣３①#@/*_`[]()<>!-.,:; \n\t"),
    ),
    max_size=80,
)
# Numbers as members may write them: digits of other scripts, superscripts, circled ones.
DIGITS = st.text(st.sampled_from("0123456789²³¹٣३３①⑩½-+#"), min_size=1, max_size=6)
# Answers to the questions before the one being asked, by kind of input: whatever is valid.
VALID_INPUT: dict[str, Any] = {
    "text": "Hello",
    "email": "ada@example.org",
    "url": "https://example.org/",
    "number": 3,
    "timezone": "Europe/Paris",
    "language": "en",
    "regex": "x",
}
# What the features that start flows give them as `{{ context.* }}` (ids of nothing: actions
# that look them up find nothing, as for a check-in answered after its mentorship ended).
CONTEXT_IDS = {"mentorship": 0, "checkin": 0, "offer": 0, "day": 3, "mentor": False}


@dataclass
class World:
    runner: asyncio.Runner
    onramp: Onramp
    memory: MemoryAdapter
    members: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def run(self, awaitable: Any) -> Any:
        return self.runner.run(awaitable)

    def chat(self) -> Chat:
        n = next(self.members)
        return Chat(self.memory, user=f"m{n}", display_name=f"Member {n}")

    async def failed(self) -> int:
        async with self.onramp.db.reading() as session:
            return int((await session.execute(select(func.count(col(FailedEvent.id))))).scalar())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    database = tmp_path_factory.mktemp("any-input") / "onramp.db"
    configured = load_settings(
        ROOT / "bot.toml",
        database={"url": f"sqlite+aiosqlite:///{database}"},
        content={"path": CONTENT},
        clock={"tick_seconds": 3600},
    )
    runner = asyncio.Runner()
    memory = MemoryAdapter()
    onramp = runner.run(Onramp.create(configured, {"memory": memory}, clock=FakeClock()))
    runner.run(onramp.start())
    try:
        yield World(runner, onramp, memory)
    finally:
        runner.run(onramp.stop())
        runner.close()


async def _answered(world: World, chat: Chat, event: Any) -> None:
    failed = await world.failed()
    receipt = await chat.send_event(event)
    assert not receipt.duplicate
    assert await world.failed() == failed, "handling raised: it was recorded as failed"
    replies = chat.unread()
    assert replies, "the bot said nothing"
    assert not any(APOLOGY in reply.text for reply in replies)
    chat.skip(len(replies))


async def _member(world: World, chat: Chat, roles: list[str]) -> None:
    async with world.onramp.db.transaction() as session:
        _, member = await members.create_member(
            session,
            platform="memory",
            workspace="",
            external_id=chat.user,
            display_name=chat.display_name or "",
            conversation=chat.user,
            now=world.onramp.clock(),
        )
        member.roles = roles
        member.consent = True


COMMANDS = sorted(build_registry().commands)


def _subcommands() -> dict[str, list[str]]:
    """The words each command takes first (`/mentor accept 12`, `/kudos revoke 7`), as the
    system texts tell members about them: so that what follows reaches the parsers behind."""
    found: dict[str, set[str]] = {name: set() for name in COMMANDS}
    for text in load_tree_or_raise(CONTENT, actions=ACTIONS).system.values():
        for name, word in re.findall(r"/(\w+) ([a-z][\w-]*)", repr(text)):
            if name in found:
                found[name].add(word)
    return {name: sorted(words) for name, words in found.items()}


SUBCOMMANDS = _subcommands()


@st.composite
def arguments(draw: st.DrawFn, name: str) -> str:
    words = SUBCOMMANDS[name]
    if not words or draw(st.booleans()):
        return draw(TYPED)
    return f"{draw(st.sampled_from(words))} {draw(st.one_of(TYPED, DIGITS))}"


@EXAMPLES
@given(name=st.sampled_from(COMMANDS), manager=st.booleans(), data=st.data())
@example(name="mentor", manager=False, data=["accept ²"])  # each once failed for ever
@example(name="mentor", manager=False, data=["decline ³"])
@example(name="mentor", manager=False, data=["end ²"])
@example(name="kudos", manager=True, data=["revoke ¹"])
def test_any_arguments_to_any_command_are_answered(
    world: World, name: str, manager: bool, data: st.DataObject | list[str]
) -> None:
    args = data[0] if isinstance(data, list) else data.draw(arguments(name), label="args")

    async def example() -> None:
        chat = world.chat()
        await _member(world, chat, ["manager"] if manager else [])
        event = chat._event(CommandInvoked, name=name, args=args)
        await _answered(world, chat, event)

    world.run(example())


def _questions() -> list[tuple[str, str]]:
    tree = load_tree_or_raise(CONTENT, actions=ACTIONS)
    return [
        (flow.id, step.id)
        for flow in tree.flows.values()
        for step in flow.steps
        if isinstance(step, AskStep)
    ]


QUESTIONS = _questions()


def _context(flow_id: str, world: World) -> dict[str, Any]:
    source = Path(world.onramp.content.flow_files.get(flow_id, ""))
    text = source.read_text() if source.is_file() else ""
    names = set(re.findall(r"context\.(\w+)", text))
    return {name: CONTEXT_IDS.get(name, "Bea") for name in names}


def _valid(step: AskStep) -> Any:
    if step.choices:
        first = step.choices[0].id
        return [first] if step.multiple else first
    return VALID_INPUT[step.input or "text"]


async def _waiting_at(world: World, chat: Chat, flow: Flow, step_id: str) -> None:
    """Put the member at question `step_id` of `flow`, the questions before it answered."""
    await _member(world, chat, [])
    async with world.onramp.db.transaction() as session:
        found = await members.find_identity_and_run(session, "memory", "", chat.user)
        assert found is not None
        now = world.onramp.clock()
        run = FlowRun(
            member_id=found[1].id or 0,
            flow_id=flow.id,
            step_id=step_id,
            state={"waiting": True, "context": _context(flow.id, world)},
            started_at=now,
            updated_at=now,
        )
        session.add(run)
        await session.flush()
        for step in flow.steps:
            if step.id == step_id:
                break
            if isinstance(step, AskStep):
                await runs.save_answer(session, run, step.id, _valid(step), now)


@EXAMPLES
@given(question=st.sampled_from(QUESTIONS), text=TYPED)
def test_any_answer_to_any_question_is_answered(
    world: World, question: tuple[str, str], text: str
) -> None:
    flow_id, step_id = question

    async def example() -> None:
        chat = world.chat()
        await _waiting_at(world, chat, world.onramp.content.flows[flow_id], step_id)
        await _answered(world, chat, chat._event(MessageReceived, text=text))

    world.run(example())


def test_every_command_and_question_is_covered() -> None:
    """The strategies draw from the registry and the shipped content, not from a list here."""
    assert {"mentor", "kudos", "campaign", "start", "stop", "language"} <= set(COMMANDS)
    assert {flow for flow, _ in QUESTIONS} >= {"onboarding", "mentor_signup", "mentor_checkin"}
