"""Nudges after a question's timeout (never at night), and expiry of abandoned runs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from adapters.memory import Chat
from bot.messages import TemplateRef
from bot.runtime import Onramp
from storage.models import DueWork, FlowRun
from tests.conftest import FakeClock


async def _tick(onramp: Onramp) -> None:
    await onramp.timers.tick()
    await onramp.sender.deliver(None)


async def _at_the_consent_question(chat: Chat) -> None:
    await chat.join()
    chat.skip()  # the language
    await chat.say("English")
    chat.skip(2)  # the welcome, and the consent question


async def test_a_quiet_member_is_nudged_once(chat: Chat, onramp: Onramp, clock: FakeClock) -> None:
    await _at_the_consent_question(chat)
    clock.advance(days=1, hours=23)
    await _tick(onramp)
    chat.expect_nothing()
    clock.advance(hours=2)
    await _tick(onramp)
    nudge = chat.expect("gentle reminder", "let me know whether I may keep your answers")
    assert [c.id for c in nudge.choices] == ["yes", "no"]
    # For WhatsApp, which lets only an approved template through after 24 hours:
    assert nudge.template == TemplateRef("onboarding_reminder", "en", ("Ada",))
    clock.advance(days=3)
    await _tick(onramp)
    chat.expect_nothing()
    await chat.say("yes")
    chat.expect("Which time zone")


async def test_nudges_wait_for_the_members_morning(
    chat: Chat, onramp: Onramp, clock: FakeClock
) -> None:
    await _at_the_consent_question(chat)
    await chat.say("yes")
    chat.skip()
    await chat.say("Pacific/Auckland")  # UTC+13 in March
    chat.expect("help with")
    clock.advance(days=2)  # 10:00 UTC is 23:00 in Auckland
    await _tick(onramp)
    chat.expect_nothing()
    async with onramp.db.reading() as session:
        work = (
            (await session.execute(select(DueWork).where(DueWork.kind == "flow.nudge")))
            .scalars()
            .one()
        )
    assert work.status == "pending"
    assert work.due_at.hour == 19  # 08:00 the next morning in Auckland
    clock.advance(hours=9)
    await _tick(onramp)
    chat.expect("gentle reminder", "what you'd like to help with")


async def test_an_abandoned_run_expires_and_starts_afresh(
    chat: Chat, onramp: Onramp, clock: FakeClock
) -> None:
    await _at_the_consent_question(chat)
    clock.advance(days=31)  # the consent question expires after 30 days
    await _tick(onramp)
    chat.expect_nothing()  # no reminder for a question that has expired
    async with onramp.db.reading() as session:
        run = (await session.execute(select(FlowRun))).scalars().one()
    assert run.status == "expired"
    await chat.say("hello again")
    chat.expect("It's been a while")
    chat.expect("Hello Ada")  # never onboarded: a new welcome, in the language she chose


async def test_timers_survive_a_restart(settings: object, memory: object, clock: FakeClock) -> None:
    from adapters.memory import MemoryAdapter
    from bot.settings import Settings

    assert isinstance(settings, Settings) and isinstance(memory, MemoryAdapter)
    first = await Onramp.create(settings, {"memory": memory}, clock=clock)
    await first.start()
    chat = Chat(memory)
    await _at_the_consent_question(chat)
    await first.stop()
    clock.advance(days=2, hours=1)
    second = await Onramp.create(settings, {"memory": memory}, clock=clock)
    await second.start()
    try:
        await _tick(second)
        chat.expect("gentle reminder")
    finally:
        await second.stop()


async def test_a_short_question_limit_gives_way_to_the_flow_limit(
    chat: Chat, onramp: Onramp, clock: FakeClock
) -> None:
    await chat.join()
    await chat.say("English")  # the language question has no limit of its own
    async with onramp.db.reading() as session:
        run = (await session.execute(select(FlowRun))).scalars().one()
    assert run.expires_at == clock.now + timedelta(days=30)  # the consent question's own limit
    await chat.say("yes")
    async with onramp.db.reading() as session:
        run = (await session.execute(select(FlowRun))).scalars().one()
    assert run.expires_at == run.started_at + timedelta(days=60)  # the flow's
