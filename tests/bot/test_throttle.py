"""Staying within each platform's rate limits before it has to answer 429."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from adapters.memory import Chat, MemoryAdapter
from bot.adapter import RateLimit
from bot.events import MessageReceived
from bot.messages import OutgoingMessage
from bot.runtime import Onramp
from bot.settings import Settings
from bot.throttle import Sent, Throttle, bulk_limits
from storage.models import Outbox
from tests.conftest import FakeClock
from tests.onboarding import COMPLETED_ANSWERS
from tests.support.waiting import until


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
    throttle.take("telegram", per_chat).arrived()
    wait = throttle.wait_for("telegram", per_chat)
    assert 1.0 < wait <= 1.02  # the window, with a small margin for the network's jitter
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
        throttle.take("telegram", per_group).arrived()
        clock.now += 1
    # The 21st must wait until the first of the 20 leaves the window (60.6 s after it).
    assert throttle.wait_for("telegram", per_group) == pytest.approx(60.6 - 20)
    clock.now += 60.6 - 20
    assert throttle.wait_for("telegram", per_group) == 0


def test_a_send_counts_from_when_the_platform_answered() -> None:
    """Requests can overtake each other on the way: the window runs from the answer."""
    clock = Clock()
    throttle = Throttle(clock)
    per_chat = [RateLimit("chat:1", 1, 1.0)]
    sent = throttle.take("slack", per_chat)
    clock.now += 0.3  # the platform took a while to answer
    sent.arrived()
    assert throttle.wait_for("slack", per_chat) == pytest.approx(1.01)  # from the answer
    clock.now += 1.01
    assert throttle.wait_for("slack", per_chat) == 0


def test_a_send_not_yet_answered_may_land_any_moment() -> None:
    clock = Clock()
    throttle = Throttle(clock)
    per_chat = [RateLimit("chat:1", 1, 1.0)]
    sent = throttle.take("slack", per_chat)
    clock.now += 5  # still no answer: it may reach the platform now
    assert throttle.wait_for("slack", per_chat) == pytest.approx(1.01)
    sent.arrived()
    assert throttle.wait_for("slack", per_chat) == pytest.approx(1.01)
    clock.now += 1.01
    assert throttle.wait_for("slack", per_chat) == 0


def test_answers_that_come_back_out_of_order_are_all_counted() -> None:
    """The first of three sends is answered last: it is in the window longest, though it
    left first (a window that only looked at the last `count` sends would let one through)."""
    clock = Clock()
    throttle = Throttle(clock)
    overall = [RateLimit("overall", 2, 1.0)]
    slow = throttle.take("whatsapp", overall)
    throttle.take("whatsapp", overall).arrived()  # answered at 1000.0
    clock.now += 0.6
    slow.arrived()  # answered at 1000.6
    clock.now += 0.5  # 1001.1: the quick one has left the window, the slow one has not
    assert throttle.wait_for("whatsapp", overall) == 0
    throttle.take("whatsapp", overall).arrived()
    # Two in the window (the slow one, 1000.6, and this one): the next waits for the slow one.
    assert throttle.wait_for("whatsapp", overall) == pytest.approx(1000.6 + 1.01 - 1001.1)


def test_every_limit_a_message_counts_against_must_allow_it() -> None:
    clock = Clock()
    throttle = Throttle(clock)
    overall = RateLimit("overall", 2, 1.0)
    throttle.take("telegram", [overall, RateLimit("chat:1", 1, 1.0)]).arrived()
    throttle.take("telegram", [overall, RateLimit("chat:2", 1, 1.0)]).arrived()
    assert throttle.wait_for("telegram", [overall, RateLimit("chat:3", 1, 1.0)]) > 1.0


async def test_a_long_wait_is_reported_and_counts_nothing() -> None:
    throttle = Throttle()
    slow = [RateLimit("chat:1", 1, 600.0)]
    assert isinstance(await throttle.acquire("telegram", slow, max_wait=1.0), Sent)
    held = await throttle.acquire("telegram", slow, max_wait=1.0)
    assert isinstance(held, float) and held > 600
    assert throttle.wait_for("telegram", [RateLimit("chat:1", 2, 600.0)]) == 0  # one counted


async def test_the_chat_served_longest_ago_goes_first() -> None:
    """Round robin under a shared limit: a newcomer's first message does not queue behind
    another member's backlog."""
    throttle = Throttle()
    overall = RateLimit("overall", 1, 0.2)
    first = await throttle.acquire("slack", [overall, RateLimit("chat:A", 5, 1.0)], max_wait=5)
    assert isinstance(first, Sent)
    first.arrived()
    order: list[str] = []

    async def send(chat: str) -> None:
        taken = await throttle.acquire("slack", [overall, RateLimit(f"chat:{chat}", 5, 1.0)], 5)
        assert isinstance(taken, Sent)
        order.append(chat)
        taken.arrived()

    waiting = [asyncio.create_task(send(chat)) for chat in ("A", "A", "B", "C")]
    await asyncio.gather(*waiting)
    # A was served just now; B and C never: they go first, in the order they came.
    assert order == ["B", "C", "A", "A"]


async def test_a_waiter_given_up_on_takes_no_turn() -> None:
    throttle = Throttle()
    overall = [RateLimit("overall", 1, 0.2)]
    taken = await throttle.acquire("slack", overall, max_wait=5)
    assert isinstance(taken, Sent)
    taken.arrived()
    abandoned = asyncio.create_task(throttle.acquire("slack", overall, max_wait=5))
    await asyncio.sleep(0)
    abandoned.cancel()
    after = await throttle.acquire("slack", overall, max_wait=5)
    assert isinstance(after, Sent)
    after.arrived()
    assert throttle.wait_for("slack", overall) > 0.15  # the cancelled one counted nothing


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
    count, seconds, lease, *sweep = request.param
    settings.sender.lease_seconds = lease
    if sweep:
        settings.sender.sweep_seconds = sweep[0]
    adapter = LimitedAdapter(count, seconds)
    app = await Onramp.create(settings, {"memory": adapter}, clock=clock)
    await app.start()
    try:
        yield app, adapter
    finally:
        await app.stop()


def _told_her_language(adapter: LimitedAdapter) -> Chat:
    """A member whose platform says her language (as Slack's and Telegram's do): joining,
    she gets two messages at once, the welcome and the first question."""
    return Chat(adapter, locale_hint="en")


@pytest.mark.parametrize("limited_onramp", [(1, 0.1, 60.0)], indirect=True)
async def test_the_sender_spaces_one_members_messages_by_the_limit(
    limited_onramp: tuple[Onramp, LimitedAdapter],
) -> None:
    _, adapter = limited_onramp
    chat = _told_her_language(adapter)
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
    chat = _told_her_language(adapter)
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


@pytest.mark.parametrize("limited_onramp", [(1, 2.0, 60.0)], indirect=True)
async def test_a_message_waiting_its_turn_keeps_its_lease(
    limited_onramp: tuple[Onramp, LimitedAdapter], clock: FakeClock
) -> None:
    """The sender renews the leases of the messages it holds: one that waits for its turn
    past its first lease is still sent, once, by the process that held it."""
    onramp, adapter = limited_onramp
    chat = _told_her_language(adapter)
    receipt = await chat.join(wait=False)
    await until(lambda: len(adapter.times) == 1, "the welcome sent")  # the question waits 2 s
    clock.advance(seconds=50)  # the question's lease (60 s) has 10 s left: too few to send
    await onramp.sender.renew()
    async with onramp.db.reading() as session:
        question = (await session.execute(select(Outbox).order_by(Outbox.id.desc()))).scalar()
    assert question is not None and question.status == "sending"
    assert (question.lease_until - clock.now).total_seconds() == pytest.approx(60)
    assert receipt.settled is not None
    await asyncio.wait_for(receipt.settled, 10)
    chat.expect("Hello Ada")
    chat.expect("quick question")
    async with onramp.db.reading() as session:
        statuses = list((await session.execute(select(Outbox.status))).scalars())
    assert statuses == ["sent", "sent"]


@pytest.mark.parametrize("limited_onramp", [(1, 0.3, 60.0, 3600.0)], indirect=True)
async def test_messages_behind_an_earlier_one_go_once_it_is_recorded(
    limited_onramp: tuple[Onramp, LimitedAdapter],
) -> None:
    """A reply written while the member's earlier messages are still on their way waits for
    them, and goes as soon as they are recorded: not at the next sweep (an hour here)."""
    _, adapter = limited_onramp
    chat = _told_her_language(adapter)
    await chat.join(wait=False)  # the welcome goes; the question waits 0.3 s for its turn
    answer = await chat.send_event(
        chat._event(MessageReceived, text=COMPLETED_ANSWERS["consent"]), wait=False
    )
    assert answer.settled is not None
    await asyncio.wait_for(answer.settled, 10)
    chat.expect("Hello Ada")
    chat.expect("quick question")
    assert len(chat.messages) > 2  # and the answer's reply, after them
    gaps = [b - a for a, b in zip(adapter.times, adapter.times[1:], strict=False)]
    assert all(gap >= 0.3 for gap in gaps)


def test_campaigns_use_the_whole_limit_while_nobody_is_chatting() -> None:
    clock = Clock()
    throttle = Throttle(clock)
    workspace = [RateLimit("workspace", 10, 1.0)]
    bulk = bulk_limits(workspace, 0.2)
    assert [limit.count for limit in bulk] == [10, 8]  # the platform's, and campaigns' share
    for _ in range(10):
        assert throttle.wait_for("slack", bulk) == 0
        throttle.take("slack", bulk, bulk=True).arrived()
    assert throttle.wait_for("slack", bulk) > 0  # the platform's own limit, reached


def test_campaigns_leave_the_reserve_to_conversations_while_members_chat() -> None:
    clock = Clock()
    throttle = Throttle(clock)
    workspace = [RateLimit("workspace", 10, 1.0)]
    bulk = bulk_limits(workspace, 0.2)
    throttle.take("slack", workspace).arrived()  # a conversation's message
    for _ in range(7):
        assert throttle.wait_for("slack", bulk) == 0
        throttle.take("slack", bulk, bulk=True).arrived()
    assert throttle.wait_for("slack", bulk) == 0  # the 8th campaign message: the share's last
    throttle.take("slack", bulk, bulk=True).arrived()
    assert throttle.wait_for("slack", bulk) > 0  # campaigns have had their 80%
    assert throttle.wait_for("slack", workspace) == 0  # a conversation still goes at once
    clock.now += 11  # nobody has chatted for a while: the reserve is lent again
    assert throttle.wait_for("slack", bulk) == 0


async def test_a_conversation_goes_before_waiting_campaign_messages() -> None:
    throttle = Throttle()
    overall = RateLimit("overall", 1, 0.2)
    first = await throttle.acquire("slack", [overall], max_wait=5)
    assert isinstance(first, Sent)
    first.arrived()
    order: list[str] = []

    async def send(name: str, bulk: bool) -> None:
        limits = [overall, RateLimit(f"chat:{name}", 5, 1.0)]
        if bulk:
            limits = bulk_limits(limits, 0.2)
        taken = await throttle.acquire("slack", limits, 5, bulk=bulk)
        assert isinstance(taken, Sent)
        order.append(name)
        taken.arrived()

    tasks = [asyncio.create_task(send(f"campaign-{n}", True)) for n in range(3)]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(send("conversation", False)))
    await asyncio.gather(*tasks)
    # The conversation came last and never chatted before, like the campaign's chats: it
    # still goes first, the campaign's after it.
    assert order[0] == "conversation"
    assert sorted(order[1:]) == ["campaign-0", "campaign-1", "campaign-2"]
