"""The shipped onboarding flow, as a newcomer lives it, through the memory adapter."""

from __future__ import annotations

from sqlalchemy import select

from adapters.memory import Chat
from bot.runtime import Onramp
from storage.models import Answer, Member


async def test_a_newcomer_goes_through_the_whole_onboarding(chat: Chat, onramp: Onramp) -> None:
    await chat.join()
    chat.expect("welcome to **Open Health Commons**")
    consent = chat.expect("quick question about your data")
    assert [c.id for c in consent.choices] == ["yes", "no"]
    await chat.say("1")
    chat.expect("Which language")
    await chat.say("Français")
    chat.expect("fuseau horaire")
    await chat.say("nairobi")
    chat.expect("Sur quoi aimeriez-vous aider")
    await chat.say("1, 4")
    chat.expect("2 domaines")
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
    chat.expect("Merveilleux")
    chat.expect("Tout est prêt, Ada")
    chat.expect_nothing()

    async with onramp.db.reading() as session:
        member = (await session.execute(select(Member))).scalars().one()
        answers = {a.step_id: a.value for a in (await session.execute(select(Answer))).scalars()}
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
