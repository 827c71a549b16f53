"""A command sent while a question waits: it is answered, then the question is asked again,
unless the command itself started, resumed or ended a flow."""

from __future__ import annotations

from sqlalchemy import select

from adapters.memory import Chat, MemoryAdapter
from bot.events import CommandInvoked
from bot.runtime import Onramp
from bot.turn import Turn
from storage.models import Answer, FlowRun, Member
from tests.clock import FakeClock


async def _at_the_language_question(chat: Chat) -> None:
    await chat.join()  # the memory platform does not say the member's language: it is asked
    chat.expect("Which language")


async def _at_the_consent_question(chat: Chat) -> None:
    await _at_the_language_question(chat)
    await chat.say("English")
    chat.expect("Hello Ada")
    chat.expect("quick question about your data")


async def _answers(onramp: Onramp) -> dict[str, object]:
    async with onramp.db.reading() as session:
        return {a.step_id: a.value for a in (await session.execute(select(Answer))).scalars()}


async def test_help_then_the_waiting_question_again(chat: Chat) -> None:
    await _at_the_language_question(chat)
    await chat.say("/help")
    chat.expect("/start", "/language")
    question = chat.expect("Which language")
    assert [c.id for c in question.choices] == ["en", "fr", "es", "pt", "ar", "sw"]  # its buttons
    chat.expect_nothing()
    await chat.say("2")  # and it is answered as before
    chat.expect("Bonjour Ada")
    chat.expect("Tout d'abord", "données")


async def test_every_reply_only_command_asks_again(chat: Chat) -> None:
    await _at_the_language_question(chat)
    for command in ("/mentor accept 2", "/mentor status", "/kudos", "/badges", "/dance"):
        await chat.say(command)
        chat.skip()  # what the command says
        chat.expect("Which language")
        chat.expect_nothing()


async def test_a_typed_command_asks_again_too(chat: Chat) -> None:
    await _at_the_language_question(chat)
    await chat.say("stop announcements")  # typed without a slash (Zulip, WhatsApp)
    chat.skip()
    chat.expect("Which language")
    chat.expect_nothing()


async def test_language_mid_flow_asks_again_in_the_new_language(chat: Chat) -> None:
    await _at_the_consent_question(chat)
    await chat.say("/language fr")
    chat.expect("C'est fait")
    chat.expect("Tout d'abord", "données")  # the consent question, now in French
    chat.expect_nothing()
    await chat.say("1")
    chat.expect("Parfait", "fuseau horaire")  # and the rest in French
    chat.expect_nothing()


async def test_language_at_the_language_question_answers_it(chat: Chat, onramp: Onramp) -> None:
    await _at_the_language_question(chat)
    await chat.say("/language es")
    chat.expect("¡Listo!")
    chat.expect("¡Hola Ada")  # on past the question: the welcome, in Spanish
    chat.expect("Antes de nada", "datos")  # and the next question
    chat.expect_nothing()
    await chat.say("1")
    chat.expect("zona horaria")
    assert (await _answers(onramp))["language"] == "es"
    async with onramp.db.reading() as session:
        member = (await session.execute(select(Member))).scalars().one()
    assert member.locale == "es"


async def test_language_in_a_paused_onboarding_is_remembered(chat: Chat) -> None:
    await _at_the_language_question(chat)
    await chat.say("/feedback")  # onboarding pauses
    chat.expect("How easy was it")
    await chat.say("/language fr")
    chat.expect("C'est fait")
    chat.expect("facile de trouver vos repères")  # the survey's question again, in French
    chat.expect_nothing()
    await chat.say("5")
    chat.skip()
    await chat.say("Rien")
    chat.skip(2)  # badge, thanks
    chat.expect("Bonjour Ada")  # onboarding resumes past its language question, in French
    chat.expect("Tout d'abord", "données")
    chat.expect_nothing()


async def test_an_unknown_language_leaves_the_question_to_answer(chat: Chat) -> None:
    await _at_the_language_question(chat)
    await chat.say("/language klingon")
    chat.expect("en (English)")
    chat.expect("Which language")
    chat.expect_nothing()


async def test_commands_that_move_a_flow_ask_nothing_twice(chat: Chat) -> None:
    await _at_the_language_question(chat)
    await chat.say("/start")
    chat.expect("Welcome back")
    chat.expect("Which language")
    chat.expect_nothing()
    await chat.say("/feedback")
    chat.expect("How easy was it")
    chat.expect_nothing()
    await chat.say("/restart")
    chat.expect("Which language")  # a new run: her language is still to be asked
    chat.expect_nothing()
    await chat.say("English")
    chat.expect("Hello Ada")
    chat.expect("quick question about your data")
    chat.expect_nothing()
    await chat.say("/stop")
    chat.expect("you won't hear from me again")
    chat.expect_nothing()


async def test_restart_keeps_the_language_set_in_the_run_before(chat: Chat) -> None:
    await _at_the_consent_question(chat)
    await chat.say("/language fr")
    chat.skip(2)
    await chat.say("/restart")
    # A new run knows her language: not asked again; the welcome says how to change it.
    chat.expect("Bonjour Ada", "changer ma langue avec /language")
    chat.expect("Tout d'abord", "données")
    chat.expect_nothing()
    await chat.say("1")
    chat.expect("fuseau horaire")


async def test_no_question_again_once_the_run_has_expired(
    chat: Chat, onramp: Onramp, clock: FakeClock
) -> None:
    await _at_the_language_question(chat)
    clock.advance(days=61)
    await chat.say("/help")
    chat.expect("/start")
    chat.expect_nothing()
    async with onramp.db.reading() as session:
        run = (await session.execute(select(FlowRun))).scalars().one()
    assert run.flow_id == "onboarding"


async def test_a_command_answered_only_in_a_group_leaves_the_chat_as_it_was(
    chat: Chat, memory: MemoryAdapter, onramp: Onramp
) -> None:
    async def wave(turn: Turn, args: str) -> None:
        turn.reply("👋", to=turn.group)

    onramp.registry.command("wave")(wave)  # this test's bot only
    await _at_the_language_question(chat)
    event = CommandInvoked(
        platform="memory",
        dedupe_key="wave-1",
        actor="ada",
        conversation="general",
        private=False,
        name="wave",
    )
    await chat.send_event(event)
    assert [m.text for m in memory.sent if m.recipient == "general"] == ["👋"]
    chat.expect_nothing()  # her private chat still ends with the question
