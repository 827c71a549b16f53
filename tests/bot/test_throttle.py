"""Staying within each platform's rate limits before it has to answer 429."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from adapters.memory import Chat, MemoryAdapter
from bot.adapter import RateLimit
from bot.messages import OutgoingMessage
from bot.runtime import Onramp
from bot.settings import Settings
from bot.throttle import Sent, Throttle
from storage.models import Outbox
from tests.conftest import FakeClock


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_a_second_per_chat() -> None:
    clock = Clock()
    throttle = Throttle(clock)
    per_chat = [RateLimit("chat:1", 1, 1.0)]
    assert throttle.wait_for("telegram", per_chat) == 0
    throttle.take("telegram", per_chat)
    wait = throttle.wait_for("telegram", per_chat)
    assert 1.0 < wait <= 1.03  # the window, with a small margin for the network's jitter
    assert throttle.wait_for("telegram", [RateLimit("chat:2", 1, 1.0)]) == 0  # another chat
    assert throttle.wait_for("slack", per_chat) == 0  # another platform
    clock.now += wait
    assert throttle.wait_for("telegram", per_chat) == 0


def test_a_sliding_window_counts_like_the_platform() -> None:
    clock = Clock()
    throttle = Throttle(clock)
    per_group = [RateLimit("group:-100", 20, 60.0)]
    for _ in range(20):
        assert throttle.wait_for("telegram", per_group) == 0
        throttle.take("telegram", per_group)
        clock.now += 1
    # The 21st must wait until the first of the 20 leaves the window (61.2 s after it).
    assert throttle.wait_for("telegram", per_group) == pytest.approx(61.2 - 20)
    clock.now += 61.2 - 20
    assert throttle.wait_for("telegram", per_group) == 0


def test_a_send_counts_from_when_the_platform_answered() -> None:
    """Requests can overtake each other on the way: the window runs from the answer."""
    clock = Clock()
    throttle = Throttle(clock)
    per_chat = [RateLimit("chat:1", 1, 1.0)]
    sent = throttle.take("slack", per_chat)
    clock.now += 0.3  # the platform took a while to answer
    sent.arrived()
    assert throttle.wait_for("slack", per_chat) == pytest.approx(1.02)  # from the answer
    clock.now += 1.02
    assert throttle.wait_for("slack", per_chat) == 0


def test_every_limit_a_message_counts_against_must_allow_it() -> None:
    clock = Clock()
    throttle = Throttle(clock)
    overall = RateLimit("overall", 2, 1.0)
    throttle.take("telegram", [overall, RateLimit("chat:1", 1, 1.0)])
    throttle.take("telegram", [overall, RateLimit("chat:2", 1, 1.0)])
    assert throttle.wait_for("telegram", [overall, RateLimit("chat:3", 1, 1.0)]) > 1.0


async def test_a_long_wait_is_reported_and_counts_nothing() -> None:
    throttle = Throttle()
    slow = [RateLimit("chat:1", 1, 600.0)]
    assert isinstance(await throttle.acquire("telegram", slow, max_wait=1.0), Sent)
    held = await throttle.acquire("telegram", slow, max_wait=1.0)
    assert isinstance(held, float) and held > 600
    assert throttle.wait_for("telegram", [RateLimit("chat:1", 2, 600.0)]) == 0  # one counted


class LimitedAdapter(MemoryAdapter):
    """The memory adapter with a platform's limit: `count` messages per `seconds` a chat."""

    def __init__(self, count: int, seconds: float) -> None:
        super().__init__()
        self.limit = (count, seconds)
        self.times: list[float] = []

    def rate_limits(self, message: OutgoingMessage) -> list[RateLimit]:
        return [RateLimit(f"chat:{message.recipient}", *self.limit)]

    async def send(self, message: OutgoingMessage) -> str:
        self.times.append(time.monotonic())
        return await super().send(message)


@pytest.fixture
async def limited_onramp(
    settings: Settings, clock: FakeClock, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Onramp, LimitedAdapter]]:
    count, seconds, lease = request.param
    settings.sender.lease_seconds = lease
    adapter = LimitedAdapter(count, seconds)
    app = await Onramp.create(settings, {"memory": adapter}, clock=clock)
    await app.start()
    try:
        yield app, adapter
    finally:
        await app.stop()


@pytest.mark.parametrize("limited_onramp", [(1, 0.1, 60.0)], indirect=True)
async def test_the_sender_spaces_one_members_messages_by_the_limit(
    limited_onramp: tuple[Onramp, LimitedAdapter],
) -> None:
    _, adapter = limited_onramp
    chat = Chat(adapter)
    await chat.join()  # a welcome and the first question: two messages to one chat
    chat.expect("Hello Ada")
    chat.expect("quick question")
    gaps = [b - a for a, b in zip(adapter.times, adapter.times[1:], strict=False)]
    assert len(adapter.times) == 2 and all(gap >= 0.1 for gap in gaps)


@pytest.mark.parametrize("limited_onramp", [(1, 3600.0, 10.0)], indirect=True)
async def test_a_message_that_would_wait_too_long_goes_back_to_the_outbox(
    limited_onramp: tuple[Onramp, LimitedAdapter], clock: FakeClock
) -> None:
    onramp, adapter = limited_onramp
    chat = Chat(adapter)
    await chat.join()
    chat.expect("Hello Ada")
    chat.expect_nothing()  # the question would have to wait an hour: not while leased
    async with onramp.db.reading() as session:
        rows: list[Any] = list(
            (await session.execute(select(Outbox).order_by(Outbox.id))).scalars()
        )
    assert [r.status for r in rows] == ["sent", "pending"]
    assert rows[1].attempts == 0  # held back is not a failed attempt
    assert (rows[1].not_before - clock.now).total_seconds() > 3500
