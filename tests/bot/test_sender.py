"""The outbox sender: throttling, retries with backoff, final failures, order per member."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from adapters.memory import Chat, MemoryAdapter
from bot.adapter import DeliveryError
from bot.runtime import Onramp
from storage.models import Outbox
from tests.conftest import FakeClock


@pytest.fixture
async def chat(onramp: Onramp, memory: MemoryAdapter) -> Chat:
    """A member whose platform says her language (as Slack's and Telegram's do): joining, she
    gets two messages at once, the welcome and the first question."""
    return Chat(memory, user="ada", display_name="Ada", locale_hint="en")


async def _rows(onramp: Onramp) -> list[Outbox]:
    async with onramp.db.reading() as session:
        return list((await session.execute(select(Outbox).order_by(Outbox.id))).scalars())


async def test_throttling_waits_retry_after_and_keeps_order(
    chat: Chat, onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    memory.failures.append(DeliveryError("429 Too Many Requests", retry_after=30))
    await chat.join()
    assert chat.messages == []  # the first message was throttled; the second waits behind it
    rows = await _rows(onramp)
    assert [r.status for r in rows] == ["pending", "pending"]
    assert rows[0].attempts == 0  # throttling is not a failed attempt
    assert rows[0].last_error == "429 Too Many Requests"
    clock.advance(seconds=29)
    await onramp.sender.deliver(None)
    assert chat.messages == []
    clock.advance(seconds=2)
    await onramp.sender.deliver(None)
    chat.expect("Hello Ada")
    chat.expect("quick question")
    assert [r.status for r in await _rows(onramp)] == ["sent", "sent"]


async def test_transient_failures_back_off_then_succeed(
    chat: Chat, onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    memory.failures.extend([DeliveryError("503"), DeliveryError("timeout")])
    await chat.join()
    first = (await _rows(onramp))[0]
    assert first.status == "pending" and first.attempts == 1
    assert (first.not_before - clock.now).total_seconds() >= 1.5  # about 2 s, with jitter
    clock.advance(seconds=3)
    await onramp.sender.deliver(None)
    second = (await _rows(onramp))[0]
    assert second.attempts == 2 and second.last_error == "timeout"
    assert (second.not_before - clock.now).total_seconds() >= 3  # about 4 s: doubled
    clock.advance(seconds=5)
    await onramp.sender.deliver(None)
    chat.expect("Hello Ada")
    chat.expect("quick question")


async def test_a_permanent_failure_is_recorded_with_its_reason(
    chat: Chat, onramp: Onramp, memory: MemoryAdapter
) -> None:
    memory.failures.append(DeliveryError("user blocked the bot", permanent=True))
    await chat.join()
    rows = await _rows(onramp)
    assert rows[0].status == "failed" and rows[0].last_error == "user blocked the bot"
    await onramp.sender.deliver(None)
    chat.expect("quick question")  # later messages are not held hostage


async def test_attempts_are_bounded(
    chat: Chat, onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    limit = onramp.settings.sender.max_attempts
    memory.failures.extend(DeliveryError(f"down {n}") for n in range(limit))
    await chat.join()
    for _ in range(limit):
        clock.advance(hours=2)
        await onramp.sender.deliver(None)
    first = (await _rows(onramp))[0]
    assert first.status == "failed" and first.attempts == limit
    assert first.last_error == f"down {limit - 1}"


async def test_an_adapter_crash_is_a_failed_attempt_not_a_lost_message(
    chat: Chat, onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    original = memory.send
    calls = 0

    async def flaky(message: object) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")
        return await original(message)  # type: ignore[arg-type]

    memory.send = flaky  # type: ignore[method-assign]
    await chat.join()
    assert (await _rows(onramp))[0].last_error == "RuntimeError: boom"
    clock.advance(seconds=10)
    await onramp.sender.deliver(None)
    chat.expect("Hello Ada")
