"""With several replicas on one PostgreSQL database, one of them sends (bot/sender.py): the
others commit their members' messages and tell it, so one throttle keeps each platform within
its rate limits. When it stops, another takes the sending over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.memory import Chat, MemoryAdapter
from bot import runtime
from bot.runtime import Onramp
from bot.settings import Settings
from tests.conftest import FakeClock
from tests.support.waiting import until


@pytest.fixture
async def replicas(
    settings: Settings, database_url: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[list[tuple[Onramp, MemoryAdapter]]]:
    """Two replicas on one PostgreSQL database, each with its own memory adapter (the same
    platform), started one after the other; stopped after, unless the test did."""
    if not database_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL database; one SQLite process sends")
    monkeypatch.setattr(runtime, "LEADERSHIP_RETRY_SECONDS", 0.1)
    settings.database.url = database_url
    started: list[tuple[Onramp, MemoryAdapter]] = []
    for _ in range(2):
        memory = MemoryAdapter()
        app = await Onramp.create(settings, {"memory": memory}, clock=clock)
        await app.start()
        started.append((app, memory))
    try:
        yield started
    finally:
        for app, _ in started:
            if app.db is not None:
                await app.stop()


async def test_the_replica_that_does_not_send_hands_its_messages_to_the_one_that_does(
    replicas: list[tuple[Onramp, MemoryAdapter]],
) -> None:
    (first, first_memory), (second, second_memory) = replicas
    assert first.sender.leading() and not second.sender.leading()
    chat = Chat(second_memory, user="ada", display_name="Ada")
    receipt = await chat.join()
    assert receipt.outbox_ids and receipt.settled is None  # nothing to wait for here
    await until(
        lambda: any(m.recipient == "ada" for m in first_memory.sent),
        "the sending replica to send the welcome the other committed",
    )
    # Her answers go the same way, well within a sweep's interval (told, not swept).
    assert second.settings.sender.sweep_seconds >= 10
    started = asyncio.get_running_loop().time()
    for answer in ("English", "UTC"):
        count = len(first_memory.sent)
        await chat.say(answer)
        await until(lambda: len(first_memory.sent) > count, f"the reply to {answer!r}", 5)  # noqa: B023
    assert asyncio.get_running_loop().time() - started < 5
    assert not second_memory.sent


async def test_when_the_sending_replica_stops_another_sends(
    replicas: list[tuple[Onramp, MemoryAdapter]],
) -> None:
    (first, _), (second, second_memory) = replicas
    await first.stop()
    await until(second.sender.leading, "the second replica to take the sending over", 10)
    await Chat(second_memory, user="bo", display_name="Bo").join()
    assert any(m.recipient == "bo" for m in second_memory.sent)
