"""The shipped onboarding flow, as a newcomer lives it, through the memory adapter."""

from __future__ import annotations

from sqlalchemy import select

from adapters.memory import Chat
from bot.runtime import Onramp
from storage.models import Answer, AuditLog, Consent, Member


async def test_a_newcomer_goes_through_the_whole_onboarding(chat: Chat, onramp: Onramp) -> None:
    await chat.join()
    # The language first, asked in every language, each option in its own.
    language = chat.expect("Which language", "Quelle langue", "Ungependa nitumie lugha gani?")
    assert [c.label for c in language.choices] == [
        "English",
        "Français",
        "Español",
        "Português",
        "العربية",
        "Kiswahili",
    ]
    await chat.say("Français")
    chat.expect("bienvenue dans **Open Health Commons**", "changer ma langue avec /language")
    consent = chat.expect("une petite question sur vos données")  # consent in her language
    assert [c.id for c in consent.choices] == ["yes", "no"]
    await chat.say("1")
    chat.expect("fuseau horaire")
    await chat.say("nairobi")
    chat.expect("Sur quoi aimeriez-vous aider")
    await chat.say("1, 4")
    chat.expect("2 domaines")
    announcements = chat.expect("annonces de la communauté", "*arrêter les annonces*")
    assert [c.id for c in announcements.choices] == ["yes", "no"]
    await chat.say("Oui, volontiers")
    chat.expect("déjà contribué")
    await chat.say("1")
    chat.expect("Bienvenue dans l'open source")
    chat.expect("Par où")
    await chat.say("2")
    chat.expect("guide de contribution", "https://example.org/community/contributing")
    chat.expect("Par où")
    await chat.press("done")
    chat.expect("mentor")
    await chat.say("Oui, volontiers")
    chat.expect("J'ai noté que vous aimeriez un mentor")  # no mentor signed up yet
    chat.expect("Tout est prêt, Ada")
    chat.expect("Vous avez gagné un badge : 🎒 À bord")  # content/badges.yaml's first
    chat.expect_nothing()

    async with onramp.db.reading() as session:
        member = (await session.execute(select(Member))).scalars().one()
        answers = {a.step_id: a.value for a in (await session.execute(select(Answer))).scalars()}
        consents = (await session.execute(select(Consent))).scalars().all()
        audits = [
            a.action
            for a in (await session.execute(select(AuditLog).order_by(AuditLog.id))).scalars()
        ]
    assert member.locale == "fr"
    assert member.timezone == "Africa/Nairobi"
    assert member.consent is True and member.consent_at is not None
    assert member.profile == {
        "interests": ["code", "translation"],
        "experience": "new",
        "wants_mentor": "yes",
    }
    assert answers["start_here"] == "done"
    assert answers["interests"] == ["code", "translation"]
    assert answers["announcements"] == "yes"
    [announcements_consent] = consents
    assert (
        announcements_consent.purpose,
        announcements_consent.granted,
        announcements_consent.source,
        announcements_consent.withdrawn_at,
    ) == ("announcements", True, "onboarding", None)
    assert announcements_consent.given_at is not None
    assert audits[:2] == ["consent.given", "consent.announcements.given"]


async def test_any_input_through_the_whole_stack_gets_an_answer(chat: Chat, onramp: Onramp) -> None:
    await chat.join()
    chat.skip()  # the language
    await chat.say("English")
    chat.skip(2)  # the welcome, consent
    await chat.say("1")
    chat.skip()  # the time zone question: free text
    for text in (
        "",
        "   ",
        "x" * 100_000,
        "🌍🚀" * 500,
        "مرحبا بالعالم",
        "\u202e\x00\x1b[31mred",
        "'; DROP TABLE member; --",
        "{{ 7 * 7 }}",
    ):
        await chat.say(text)
        reply = chat.expect()
        assert reply.text.strip(), f"no answer to {text[:20]!r}"
        assert "49" not in reply.text  # member input is never rendered as a template
    await chat.say("Lima")
    chat.expect("What would you like to help with?")
    async with onramp.db.reading() as session:
        answers = {a.step_id: a.value for a in (await session.execute(select(Answer))).scalars()}
    assert answers["timezone"] == "America/Lima"
