"""A crash at any point loses no answer and sends no message twice.

Each phase of a turn is interrupted in-process (deterministically), then a fresh runtime is
started on the same database, as after a restart. `test_kill_9_*` does the same to a real
`onramp run` process at random moments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from adapters.memory import Chat, MemoryAdapter
from bot.events import MessageReceived
from bot.metrics import REGISTRY
from bot.runtime import Onramp
from bot.settings import Settings
from storage import outbox, runs
from storage.models import Answer, Outbox
from tests.conftest import FakeClock


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs, no cleanup happens."""


async def _restart(settings: Settings, memory: MemoryAdapter, clock: FakeClock) -> Onramp:
    app = await Onramp.create(settings, {"memory": memory}, clock=clock)
    await app.start()
    return app


async def _stall_sender(app: Onramp) -> None:
    """Nothing is delivered in the background: the test decides when the sender works."""
    assert app._sender_task is not None
    app._sender_task.cancel()
    app.sender.kick = lambda ids: None  # type: ignore[method-assign]


async def _rows(app: Onramp) -> list[Outbox]:
    async with app.db.reading() as session:
        return list((await session.execute(select(Outbox).order_by(Outbox.id))).scalars())


def _told_her_language(memory: MemoryAdapter) -> Chat:
    """A member whose platform says her language (as Slack's and Telegram's do): joining, she
    gets two messages at once, the welcome and the first question."""
    return Chat(memory, locale_hint="en")


def _crash_once(
    target: Any, name: str, monkeypatch: pytest.MonkeyPatch, after: Callable[..., Any] | None = None
) -> None:
    original = getattr(target, name)

    async def crashing(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(target, name, original)
        if after is not None:
            await original(*args, **kwargs)
        raise Crash(name)

    monkeypatch.setattr(target, name, crashing)


async def test_crash_before_commit_then_platform_retry(
    onramp: Onramp, chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    await chat.join()
    chat.skip()  # the language
    event = MessageReceived(
        platform="memory", dedupe_key="upd-7", actor="ada", conversation="ada", text="English"
    )
    _crash_once(runs, "save_answer", monkeypatch)
    with pytest.raises(Crash):
        await chat.send_event(event)
    chat.expect_nothing()
    receipt = await chat.send_event(event)  # the platform delivers it again
    assert not receipt.duplicate
    chat.expect("Hello Ada")
    chat.expect("quick question")
    chat.expect_nothing()
    async with onramp.db.reading() as session:
        answers = (await session.execute(select(Answer))).scalars().all()
    assert [(a.step_id, a.value) for a in answers] == [("language", "en")]


async def test_crash_after_commit_before_delivery(
    settings: Settings, memory: MemoryAdapter, clock: FakeClock
) -> None:
    first = await _restart(settings, memory, clock)
    await _stall_sender(first)  # it dies before sending
    chat = _told_her_language(memory)
    await chat.join(wait=False)
    assert chat.messages == []
    await first.stop()  # the process is gone; what it committed is all that remains
    second = await _restart(settings, memory, clock)
    try:
        await second.sender.deliver(None)
        chat.expect("Hello Ada")
        chat.expect("quick question")
        chat.expect_nothing()
        assert [r.status for r in await _rows(second)] == ["sent", "sent"]
    finally:
        await second.stop()


async def test_crash_after_claim_before_send(
    settings: Settings,
    memory: MemoryAdapter,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = await _restart(settings, memory, clock)
    chat = _told_her_language(memory)
    _crash_once(memory, "send", monkeypatch)
    await _stall_sender(first)
    await chat.join(wait=False)  # the replies are leased for delivery as they are committed
    with pytest.raises(Crash):
        await first.sender.deliver_claimed_now()
    assert [r.status for r in await _rows(first)] == ["sending", "sending"]
    await first.stop()
    second = await _restart(settings, memory, clock)  # SQLite: the only process reclaims
    try:
        await second.sender.deliver(None)
        chat.expect("Hello Ada")
        chat.expect("quick question")
        chat.expect_nothing()
    finally:
        await second.stop()


async def _crash_between_send_and_record(
    settings: Settings, memory: MemoryAdapter, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> tuple[Chat, Onramp]:
    """A newcomer's welcome reaches the platform, then the bot dies before recording it; the
    bot is started again and its sender sweeps. Returns the chat and the restarted bot."""
    first = await _restart(settings, memory, clock)
    chat = _told_her_language(memory)
    await _stall_sender(first)
    await chat.join(wait=False)
    _crash_once(outbox, "mark_sent", monkeypatch)
    with pytest.raises(Crash):
        await first.sender.deliver_claimed_now()
    assert len(chat.messages) == 1  # each message is recorded before the next one goes
    await first.stop()
    second = await _restart(settings, memory, clock)
    await second.sender.deliver(None)
    return chat, second


async def test_crash_between_send_and_record_resends_rather_than_loses(
    settings: Settings,
    memory: MemoryAdapter,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The window no outbox can close alone: the platform took the message, we died before
    recording it. On a platform that cannot say what it has, Onramp resends it
    (at-least-once) rather than risk losing it."""
    chat, second = await _crash_between_send_and_record(settings, memory, clock, monkeypatch)
    try:
        texts = [m.text for m in chat.messages]
        assert texts[0].startswith("👋 Hello Ada")
        assert texts[1] == texts[0]  # only the message in flight is repeated
        assert texts[2].startswith("First, a quick question")
        assert len(texts) == 3
        assert [r.status for r in await _rows(second)] == ["sent", "sent"]
    finally:
        await second.stop()


def _not_resent() -> float:
    value = REGISTRY.get_sample_value("onramp_messages_not_resent_total", {"platform": "memory"})
    return value or 0.0


async def test_crash_between_send_and_record_sends_nothing_twice_where_the_platform_can_tell(
    settings: Settings,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same window, on a platform that can say whether it has a message (Slack, by the
    metadata every message carries): after the restart the sender asks before it sends the
    message whose outcome was lost, finds it, and records it as sent with the platform's id."""
    not_resent_before = _not_resent()
    memory = MemoryAdapter(remembers=True)
    chat, second = await _crash_between_send_and_record(settings, memory, clock, monkeypatch)
    try:
        texts = [m.text for m in chat.messages]
        assert texts[0].startswith("👋 Hello Ada")
        assert texts[1].startswith("First, a quick question")
        assert len(texts) == 2
        rows = await _rows(second)
        assert [r.status for r in rows] == ["sent", "sent"]
        assert rows[0].delivery_id == "memory-1"  # the first attempt's, found on the platform
        assert _not_resent() == not_resent_before + 1
    finally:
        await second.stop()


async def test_crash_while_due_work_runs_nudges_once(
    settings: Settings,
    memory: MemoryAdapter,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from storage import due

    first = await _restart(settings, memory, clock)
    chat = _told_her_language(memory)
    await chat.join()
    chat.skip(2)
    clock.advance(days=2, hours=1)
    _crash_once(due, "finish", monkeypatch)
    with pytest.raises(Crash):
        await first.timers.tick()
    await first.stop()
    clock.advance(minutes=5)  # the claim's lease runs out
    second = await _restart(settings, memory, clock)
    try:
        await second.timers.tick()
        await second.sender.deliver(None)
        chat.expect("gentle reminder")
        chat.expect_nothing()
        await second.timers.tick()
        chat.expect_nothing()
    finally:
        await second.stop()


async def test_a_message_whose_lease_ran_out_is_left_to_the_sweep_and_sent_once(
    settings: Settings, memory: MemoryAdapter, clock: FakeClock
) -> None:
    """A message that waited in memory past its lease (behind a rate limit, say) may have
    been leased by another worker since: it must not go from here too."""
    app = await _restart(settings, memory, clock)
    chat = _told_her_language(memory)
    try:
        await _stall_sender(app)
        await chat.join(wait=False)  # the replies are leased as they are committed
        clock.advance(seconds=settings.sender.lease_seconds + 1)
        await app.sender.deliver_claimed_now()
        assert chat.messages == []  # not sent on an expired lease
        assert [r.status for r in await _rows(app)] == ["sending", "sending"]
        await app.sender.deliver(None)  # the sweep takes them, as another worker would
        chat.expect("Hello Ada")
        chat.expect("quick question")
        chat.expect_nothing()
    finally:
        await app.stop()
