"""Built-in commands every platform gets: start, restart, help, language, stop."""

from __future__ import annotations

from sqlalchemy import select

from adapters.memory import Chat
from bot.commands import command_menu
from bot.conversation import start_flow
from bot.events import ChoiceMade
from bot.runtime import Onramp
from bot.turn import member_turn
from storage import runs
from storage.models import AuditLog, FlowRun, Member, Outbox


async def _language_and_consent(chat: Chat) -> None:
    """Through the first two questions, to the time zone."""
    await chat.join()
    chat.expect("Which language")
    await chat.say("English")
    chat.skip()  # the welcome
    chat.expect("quick question about your data")
    await chat.say("yes")
    chat.expect("Which time zone")


async def test_help_lists_built_in_and_flow_commands(chat: Chat) -> None:
    await chat.say("/help")
    reply = chat.expect("/start", "/restart", "/help", "/language", "/stop")
    assert "/feedback: How was your welcome?" in reply.text


async def test_language_switches_and_refuses_unknown_ones(chat: Chat) -> None:
    await chat.say("/language es")
    chat.expect("español")
    await chat.say("/language klingon")
    reply = chat.expect("en (English)", "fr (français)", "es (español)")
    assert reply.locale == "es"
    await chat.say("/language French")
    chat.expect("français")


async def test_stop_silences_everything_until_start(chat: Chat, onramp: Onramp) -> None:
    await _language_and_consent(chat)
    await chat.say("/stop")
    chat.expect("you won't hear from me again")
    await chat.say("Lima")
    await chat.say("/help")
    await chat.say("/feedback")
    await chat.join()
    chat.expect("I'm the Open Health Commons welcome bot")  # /help still answers
    chat.expect_nothing()
    async with onramp.db.reading() as session:
        member = (await session.execute(select(Member))).scalars().one()
    assert member.opted_out
    async with onramp.db.reading() as session:
        actions = [
            a.action
            for a in (await session.execute(select(AuditLog).order_by(AuditLog.id))).scalars()
        ]
    assert actions == ["consent.given", "member.stopped"]
    await chat.say("/start")
    chat.expect("Welcome back")
    chat.expect("Which time zone")  # exactly where they stopped


async def test_restart_begins_again(chat: Chat, onramp: Onramp) -> None:
    await _language_and_consent(chat)
    await chat.say("/restart")
    chat.expect("Hello Ada")  # in the language she chose: not asked again
    chat.expect("quick question about your data")
    async with onramp.db.reading() as session:
        statuses = [
            r.status
            for r in (await session.execute(select(FlowRun).order_by(FlowRun.id))).scalars()
        ]
    assert statuses == ["cancelled", "active"]


async def test_another_flow_pauses_onboarding_and_resumes_it(chat: Chat) -> None:
    await _language_and_consent(chat)
    await chat.say("/feedback")
    chat.expect("How easy was it")
    await chat.say("5")
    chat.expect("anything we could do better")
    await chat.say("All good!")
    chat.expect("You've earned a badge: 🛟 Helper")  # the survey's award_badge action
    chat.expect("Thank you for helping us")
    chat.expect("Which time zone")  # onboarding picks up again


async def test_unknown_command(chat: Chat) -> None:
    await chat.say("/dance")
    chat.expect("I don't know that command")


async def test_stale_button_re_asks_the_current_question(chat: Chat, onramp: Onramp) -> None:
    await _language_and_consent(chat)
    # The language buttons, tapped again later.
    await chat.send_event(chat._event(ChoiceMade, step_id="language", choice_ids=("fr",)))
    chat.expect("time zone")
    async with onramp.db.reading() as session:
        member = (await session.execute(select(Member))).scalars().one()
    assert member.locale == "en"


async def test_declining_consent_keeps_nothing(chat: Chat, onramp: Onramp) -> None:
    await chat.join()
    chat.skip()  # the language
    await chat.say("English")
    chat.skip(2)  # the welcome, consent
    await chat.say("No, thank you")
    chat.expect("I won't keep any of your answers")
    await chat.say("hello?")
    chat.expect("Type /help")
    async with onramp.db.reading() as session:
        member = (await session.execute(select(Member))).scalars().one()
        from storage.models import Answer

        answers = (await session.execute(select(Answer))).scalars().all()
    assert member.consent is False and member.profile == {} and answers == []


async def test_duplicate_events_are_applied_once(onramp: Onramp, chat: Chat) -> None:
    from bot.events import MessageReceived

    await chat.join()
    event = MessageReceived(
        platform="memory", dedupe_key="retry-1", actor="ada", conversation="ada", text="1"
    )
    first = await chat.send_event(event)
    second = await chat.send_event(event)
    assert not first.duplicate and second.duplicate and second.outbox_ids == ()
    async with onramp.db.reading() as session:
        rows = (await session.execute(select(Outbox))).scalars().all()
    assert len(rows) == 3  # the language question, then (1: English) the welcome and consent


async def test_a_member_who_writes_first_is_welcomed(chat: Chat) -> None:
    await chat.say("hi there")
    chat.expect("Which language")
    await chat.say("English")
    chat.expect("Hello Ada")
    chat.expect("quick question about your data")


async def test_locale_hint_from_the_platform(onramp: Onramp, memory: object) -> None:
    from adapters.memory import MemoryAdapter

    assert isinstance(memory, MemoryAdapter)
    chat = Chat(memory, user="amina", display_name="Amina", locale_hint="fr-CA")
    await chat.join()
    chat.expect("Bonjour Amina")


def test_the_command_menu_describes_every_command_in_every_language(onramp: Onramp) -> None:
    menu = {info.name: info.descriptions for info in command_menu(onramp.content, onramp.registry)}
    assert list(menu) == [
        "start",
        "restart",
        "help",
        "language",
        "stop",
        "mode",
        "links",
        "mentor",
        "kudos",
        "badges",
        "announcements",
        "privacy",
        "campaign",
        "dashboard",
        "digest",
        "feedback",
        "onboard",
    ]
    assert menu["start"]["en"] == "begin (or resume) your onboarding"  # "/start:" left out
    assert menu["language"]["fr"].startswith("changer la langue")  # "/language CODE :" too
    assert menu["feedback"]["es"] == "¿Qué tal fue tu bienvenida?"  # a flow's title
    assert all(set(d) == {"en", "fr", "es", "pt", "ar", "sw"} for d in menu.values())


async def test_a_paused_run_is_written_before_the_flow_that_paused_it_goes_on(
    chat: Chat, onramp: Onramp
) -> None:
    """A flow that ends within the turn that started it looks for the run it paused
    (`last_paused_run`) before the turn writes its changes back: the pause must be written
    already (a member who declined consent has nothing else written mid-turn)."""
    await _language_and_consent(chat)
    async with onramp.db.transaction() as session:
        member = (await session.execute(select(Member))).scalars().one()
        assert member.id is not None
        turn = await member_turn(
            session, onramp.db, onramp.content, member.id, onramp.clock(), "t", onramp.registry
        )
        assert turn is not None
        await start_flow(turn, onramp.content.flows["feedback"])
        paused = await runs.last_paused_run(session, member.id)
        assert paused is not None and paused.flow_id == "onboarding"
