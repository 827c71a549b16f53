"""Consent per purpose: storage on SQLite and PostgreSQL, `/announcements` and its typed
forms through the memory adapter, the onboarding's question, and WhatsApp's STOP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from adapters.memory import Chat, MemoryAdapter
from bot.adapter import opt_out_keywords
from bot.consent import TYPED, wanted
from bot.runtime import Onramp
from bot.settings import Settings
from flows.text import render
from storage import consent as store
from storage.members import create_member
from storage.models import AuditLog, Consent, DueWork, FlowRun, Member, Mentorship
from storage.session import Database
from tests.bot.test_mentorship import person, sign_up
from tests.conftest import FakeClock

NOW = FakeClock().now


async def _member(db: Database, name: str) -> int:
    async with db.transaction() as session:
        _, member = await create_member(
            session, platform="console", workspace="", external_id=name, display_name=name
        )
    assert member.id is not None
    return member.id


async def test_set_consent_records_each_change_once_and_keeps_when_it_was_given(
    db: Database,
) -> None:
    ada, bea = await _member(db, "ada"), await _member(db, "bea")
    later, latest = NOW + timedelta(days=3), NOW + timedelta(days=9)
    steps = [
        (True, NOW, "onboarding", True),
        (True, later, "command", False),  # the same choice again changes nothing
        (False, later, "command", True),
        (False, latest, "command", False),
        (True, latest, "command", True),
    ]
    seen = []
    for granted, at, source, changed in steps:
        async with db.transaction() as session:
            assert await store.set_consent(session, ada, "announcements", granted, at, source) == (
                changed
            )
        async with db.reading() as session:
            row = (await store.consents(session, ada))["announcements"]
            seen.append((row.granted, row.given_at, row.withdrawn_at, row.source))
    assert seen == [
        (True, NOW, None, "onboarding"),
        (True, NOW, None, "onboarding"),
        (False, NOW, later, "command"),  # withdrawn: when it was given stays
        (False, NOW, later, "command"),
        (True, latest, None, "command"),  # given again: a new date, no withdrawal
    ]
    async with db.transaction() as session:
        # Saying no before ever saying yes: a row that says so, never given.
        assert await store.set_consent(session, bea, "announcements", False, NOW, "whatsapp")
        assert await store.set_consent(session, bea, "newsletter", True, NOW, "survey")
    async with db.reading() as session:
        assert await store.granted(session, ada, "announcements")
        assert not await store.granted(session, bea, "announcements")
        assert await store.granted(session, bea, "newsletter")
        assert not await store.granted(session, ada, "newsletter")  # never asked: no
        beas = await store.consents(session, bea)
        rows = (await session.execute(select(Consent))).scalars().all()
    assert sorted(beas) == ["announcements", "newsletter"]
    assert (beas["announcements"].given_at, beas["announcements"].withdrawn_at) == (None, NOW)
    assert len(rows) == 3  # one row per member and purpose


async def test_consents_reads_what_an_upsert_in_the_same_transaction_wrote(db: Database) -> None:
    ada = await _member(db, "ada")
    async with db.transaction() as session:
        await store.set_consent(session, ada, "announcements", True, NOW, "onboarding")
        assert (await store.consents(session, ada))["announcements"].granted
        await store.set_consent(session, ada, "announcements", False, NOW, "command")
        assert not (await store.consents(session, ada))["announcements"].granted
        assert not await store.granted(session, ada, "announcements")


def test_typed_forms_in_every_language_and_what_they_ask_for() -> None:
    def typed(text: str) -> bool | None:
        found = TYPED.fullmatch(text)
        assert found is not None, text
        return wanted(found["args"])

    for text in ("stop announcements", "Stop Announcements!", "announcements off"):
        assert typed(text) is False
    for text in ("arrêter les annonces", "arreter les annonces", "désactiver les annonces"):
        assert typed(text) is False
    for text in ("parar anuncios", "parar los anuncios", "desactivar anuncios"):
        assert typed(text) is False
    for text in ("start announcements", "announcements on", "recevoir les annonces"):
        assert typed(text) is True
    for text in ("reprendre les annonces", "recibir anuncios", "activar los anuncios"):
        assert typed(text) is True
    # A word that may well be an answer to a question stays one.
    for text in ("announcements", "annonces", "stop", "I love the announcements", "stop it"):
        assert TYPED.fullmatch(text) is None, text
    assert (wanted("off"), wanted("ON"), wanted(""), wanted("maybe")) == (False, True, None, None)


async def _audits(onramp: Onramp) -> list[tuple[str, dict[str, object]]]:
    async with onramp.db.reading() as session:
        rows = (await session.execute(select(AuditLog).order_by(AuditLog.id))).scalars()
        return [(a.action, a.detail) for a in rows if a.action.startswith("consent.announce")]


async def _consent(onramp: Onramp) -> Consent | None:
    async with onramp.db.reading() as session:
        return (await session.execute(select(Consent))).scalars().one_or_none()


async def test_announcements_on_off_and_status(chat: Chat, onramp: Onramp) -> None:
    await chat.join()
    chat.skip()  # the language
    await chat.say("English")
    chat.skip(2)  # the welcome, and the data consent question
    await chat.say("/announcements")
    chat.expect("You don't get the community's announcements", "*start announcements*")
    chat.expect("quick question about your data")  # the question waiting, asked again
    chat.expect_nothing()
    await chat.say("/announcements on")
    chat.expect("you'll get the community's occasional announcements")
    chat.expect("quick question about your data")
    await chat.say("/announcements")
    chat.expect("You get the community's announcements", "*stop announcements*")
    chat.expect("quick question about your data")
    await chat.say("/announcements OFF")
    chat.expect("no more announcements from me", "your onboarding and your mentorship")
    chat.expect("quick question about your data")
    await chat.say("/announcements off")  # again: the same answer, nothing more recorded
    chat.expect("no more announcements from me")
    chat.expect("quick question about your data")
    chat.expect_nothing()
    await chat.say("yes")  # the onboarding's question was waiting all along
    chat.expect("Which time zone")
    row = await _consent(onramp)
    assert row is not None and (row.granted, row.source) == (False, "command")
    assert row.given_at is not None and row.withdrawn_at is not None
    assert await _audits(onramp) == [
        ("consent.announcements.given", {"source": "command"}),
        ("consent.announcements.withdrawn", {"source": "command"}),
    ]


async def test_typed_mid_onboarding_it_changes_nothing_else(chat: Chat, onramp: Onramp) -> None:
    await chat.join()
    chat.expect("Which language")
    await chat.say("Français")
    chat.skip()  # the welcome
    chat.expect("une petite question sur vos données")
    await chat.say("1")
    chat.expect("fuseau horaire")  # a question with a nudge timer
    await chat.say("arrêter les annonces")
    chat.expect("vous ne recevrez plus d'annonces", "votre parcours d'accueil")
    chat.expect("fuseau horaire")  # the question waiting, asked again
    await chat.say("Lima")  # and the onboarding carries on
    chat.expect("Sur quoi aimeriez-vous aider")
    await chat.say("parar anuncios")  # any of the community's languages
    chat.expect("vous ne recevrez plus d'annonces")
    chat.expect("Sur quoi aimeriez-vous aider")
    async with onramp.db.reading() as session:
        member = (await session.execute(select(Member))).scalars().one()
        run = (await session.execute(select(FlowRun))).scalars().one()
        nudges = (await session.execute(select(DueWork.status))).scalars().all()
    assert not member.opted_out and member.consent is True
    assert (run.status, run.step_id) == ("active", "interests")
    assert "pending" in nudges  # the interests question's nudge is still on its way
    assert await _audits(onramp) == [("consent.announcements.withdrawn", {"source": "command"})]
    await chat.say("recibir anuncios")
    chat.expect("vous recevrez les annonces occasionnelles")
    chat.expect("Sur quoi aimeriez-vous aider")


async def test_the_onboarding_answer_is_the_consent_and_a_no_is_recorded(
    chat: Chat, onramp: Onramp
) -> None:
    await chat.join()
    chat.skip()  # the language
    await chat.say("English")
    chat.skip(2)  # the welcome, and the data consent question
    for answer, next_question in (
        ("yes", "time zone"),
        ("Lima", "What would you like to help with"),
        ("2", "Thank you, that's a great place to start"),
    ):
        await chat.say(answer)
        chat.expect(next_question)
    chat.expect("occasional announcements", "*stop announcements*")
    await chat.say("No, thanks")
    chat.expect("How much have you contributed")
    row = await _consent(onramp)
    assert row is not None
    assert (row.purpose, row.granted, row.given_at, row.source) == (
        "announcements",
        False,
        None,
        "onboarding",
    )
    assert await _audits(onramp) == [
        ("consent.announcements.withdrawn", {"source": "onboarding"}),
    ]
    await chat.say("/announcements")
    chat.expect("You don't get the community's announcements")


async def test_declining_data_consent_never_reaches_the_question(
    chat: Chat, onramp: Onramp
) -> None:
    await chat.join()
    chat.skip()  # the language
    await chat.say("English")
    chat.skip(2)  # the welcome, and the data consent question
    await chat.say("No, thank you")
    chat.expect("I won't keep any of your answers")
    chat.expect_nothing()
    assert await _consent(onramp) is None


async def test_opting_out_of_announcements_leaves_a_mentorship_going(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    bea = await person(onramp, memory, "bea", "Bea")
    await sign_up(bea)
    ada = await person(onramp, memory, "ada", "Ada", interests=["docs"])
    await ada.say("/mentor")
    ada.expect("I've asked a mentor")
    bea.expect("would like a mentor")
    await bea.press("accept")
    bea.expect("Meet Ada")
    ada.expect("Bea will be your mentor")
    async with onramp.db.reading() as session:
        before = (await session.execute(select(DueWork.key, DueWork.status))).all()
    await ada.say("stop announcements")
    ada.expect("no more announcements from me")
    ada.expect_nothing()
    await bea.say("Stop announcements.")
    bea.expect("no more announcements from me")
    async with onramp.db.reading() as session:
        after = (await session.execute(select(DueWork.key, DueWork.status))).all()
        mentorship = (await session.execute(select(Mentorship))).scalar_one()
        opted_out = (await session.execute(select(Member.opted_out))).scalars().all()
    assert sorted(after) == sorted(before)  # every check-in still on its way
    assert mentorship.status == "active"
    assert not any(opted_out)
    await ada.say("/mentor status")
    ada.expect("Your mentor is Bea")


async def test_after_stop_it_is_not_answered(chat: Chat, onramp: Onramp) -> None:
    await chat.join()
    chat.skip()  # the language question
    await chat.say("/stop")
    chat.expect("you won't hear from me again")
    await chat.say("/announcements on")
    await chat.say("stop announcements")
    chat.expect_nothing()
    assert await _consent(onramp) is None


def test_help_lists_it_and_the_campaign_hint_is_in_every_language(onramp: Onramp) -> None:
    content = onramp.content
    assert "announcements" in content.system["command_announcements"]["en"]
    hint = content.system["campaign_opt_out"]
    locales = {"en", "fr", "es", "pt", "ar", "sw"}
    assert set(hint) == set(content.community.locales) == locales
    rendered = {locale: render(hint, locale, "en", {}) for locale in sorted(locales)}
    assert rendered["en"] == "*Reply **stop announcements** to stop these messages.*"
    assert rendered["fr"] == (
        "*Répondez **arrêter les annonces** pour ne plus recevoir ces messages.*"
    )
    assert rendered["es"] == "*Responde **parar anuncios** para dejar de recibir estos mensajes.*"
    for locale, text in rendered.items():  # what it tells members to write works
        typed = text.split("**")[1]
        found = TYPED.fullmatch(typed)
        assert found is not None and wanted(found["args"]) is False, locale


async def test_help_shows_the_command(chat: Chat) -> None:
    await chat.say("/help")
    chat.expect("/badges", "/announcements on|off")


# WhatsApp's STOP, through the memory adapter standing in for WhatsApp: the core reads the
# installed WhatsApp adapter's capabilities, as it would in production.


@pytest.fixture
async def whatsapp(
    settings: Settings, clock: FakeClock, memory: MemoryAdapter
) -> AsyncIterator[tuple[Onramp, MemoryAdapter]]:
    """Onramp with a memory adapter as WhatsApp (and `memory` as itself)."""
    as_whatsapp = MemoryAdapter()
    app = await Onramp.create(settings, {"whatsapp": as_whatsapp, "memory": memory}, clock=clock)
    await app.start()
    try:
        yield app, as_whatsapp
    finally:
        await app.stop()


def test_the_whatsapp_adapter_declares_its_opt_out_words() -> None:
    assert opt_out_keywords("whatsapp") == {"stop", "unsubscribe"}
    assert opt_out_keywords("slack") == opt_out_keywords("memory") == frozenset()


async def test_stop_alone_on_whatsapp_opts_out_of_announcements_only(
    whatsapp: tuple[Onramp, MemoryAdapter],
) -> None:
    onramp, memory = whatsapp
    ada = Chat(memory, user="16505551234", display_name="Ada", platform="whatsapp")
    await ada.say("hi")
    ada.expect("Which language")  # WhatsApp does not say the member's language: asked first
    for typed in ("STOP", "stop.", " Stop! ", "UNSUBSCRIBE"):
        await ada.say(typed)
        ada.expect("no more announcements from me")
        ada.expect("Which language")  # the question waiting, asked again
    await ada.say("stop please")  # not the keyword alone: an answer like any other
    ada.expect("Sorry, I didn't catch that")
    async with onramp.db.reading() as session:
        member = (await session.execute(select(Member))).scalars().one()
        run = (await session.execute(select(FlowRun))).scalars().one()
    assert not member.opted_out and (run.status, run.step_id) == ("active", "language")
    assert await _audits(onramp) == [("consent.announcements.withdrawn", {"source": "command"})]


async def test_stop_elsewhere_is_an_answer_like_any_other(
    whatsapp: tuple[Onramp, MemoryAdapter], memory: MemoryAdapter
) -> None:
    onramp, _ = whatsapp
    bea = Chat(memory, user="bea", display_name="Bea", platform="memory")
    await bea.say("hi")
    bea.skip()  # the language question
    await bea.say("STOP")
    bea.expect("Sorry, I didn't catch that")
    assert await _consent(onramp) is None
