"""Forgiving answers through the memory adapter: the shipped onboarding as people really
answer it (in their own words, with typos), and an optional question skipped."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select

from adapters.memory import Chat, MemoryAdapter
from bot.runtime import Onramp
from bot.settings import Settings, load_settings
from storage.models import Answer, Member
from tests.clock import FakeClock

ROOT = Path(__file__).resolve().parents[2]


async def _answers(onramp: Onramp) -> dict[str, object]:
    async with onramp.db.reading() as session:
        return {a.step_id: a.value for a in (await session.execute(select(Answer))).scalars()}


async def _member(onramp: Onramp) -> Member:
    async with onramp.db.reading() as session:
        return (await session.execute(select(Member))).scalars().one()


async def test_oui_answers_the_consent_question_for_a_french_member(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    chat = Chat(memory, user="zoe", display_name="Zoé", locale_hint="fr")
    await chat.join()
    chat.expect("bienvenue")
    chat.expect("vos données")
    await chat.say("oui")
    chat.expect("fuseau horaire")
    assert (await _answers(onramp))["consent"] == "yes"


async def test_naam_answers_the_consent_question_for_an_arabic_member(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    chat = Chat(memory, user="layla", display_name="Layla", locale_hint="ar")
    await chat.join()
    chat.skip()  # the welcome
    consent = chat.expect()
    assert [c.id for c in consent.choices] == ["yes", "no"]
    await chat.say("نعم")
    timezone = chat.expect()
    assert timezone.step_id == "timezone" and not timezone.choices
    assert (await _answers(onramp))["consent"] == "yes"


async def test_a_typo_gets_did_you_mean_and_a_time_zone_is_confirmed(
    chat: Chat, onramp: Onramp
) -> None:
    await chat.join()
    chat.expect("Which language")
    await chat.say("espanyol")
    did_you_mean = chat.expect("Did you mean *Español*?")
    assert [c.label for c in did_you_mean.choices] == ["Yes", "No"]
    assert did_you_mean.step_id == "language"
    await chat.say("1")
    chat.expect("te damos la bienvenida")
    chat.expect("tus datos")
    await chat.say("vale")
    chat.expect("zona horaria")
    await chat.say("Mumbai")
    confirmed = chat.expect("Entendido:", "UTC+5:30", "¿En qué te gustaría ayudar?")
    assert confirmed.step_id == "interests"  # one message: the confirmation, then the question
    member = await _member(onramp)
    assert (member.locale, member.timezone) == ("es", "Asia/Kolkata")


async def test_an_ambiguous_time_zone_is_picked_from_a_list(chat: Chat, onramp: Onramp) -> None:
    chat.locale_hint = "en"
    await chat.join()
    chat.skip(2)
    await chat.say("yes")
    chat.expect("time zone")
    await chat.say("CST")
    which = chat.expect("Which one do you mean?")
    labels = [c.label for c in which.choices]
    assert 3 <= len(labels) <= 7 and labels[-1] == "None of these"
    assert any("Chicago" in label for label in labels)
    await chat.say("2")
    chat.expect("Got it:", labels[1].split(" (")[0].rstrip("…"), "help with")
    member = await _member(onramp)
    assert member.timezone is not None and member.timezone != "Asia/Shanghai"
    assert (await _answers(onramp))["timezone"] == member.timezone


async def test_a_pending_did_you_mean_survives_a_restart_and_a_reminder_asks_the_question(
    settings: Settings, memory: MemoryAdapter, clock: FakeClock
) -> None:
    first = await Onramp.create(settings, {"memory": memory}, clock=clock)
    await first.start()
    chat = Chat(memory)
    try:
        await chat.join()
        chat.expect("Which language")
        await chat.say("portugese")
        chat.expect("Did you mean *Português*?")
    finally:
        await first.stop()
    second = await Onramp.create(settings, {"memory": memory}, clock=clock)
    await second.start()
    try:
        await chat.say("1")  # yes, Português
        chat.skip()  # the welcome
        assert (await _member(second)).locale == "pt"
        assert chat.expect().step_id == "consent"
        await chat.say("sim")
        assert chat.expect().step_id == "timezone"
        await chat.say("Lima")
        interests = chat.expect()
        assert interests.step_id == "interests" and "UTC" in interests.text
        await chat.say("1, traducion")
        assert chat.expect().step_id == "interests"  # did you mean the translation?
        await chat.say("/help")
        chat.skip()  # the help
        again = chat.expect()  # the question itself, with its own options
        assert again.step_id == "interests" and len(again.choices) == len(interests.choices)
        await chat.say("1")  # now option 1 of the question, not "yes"
        chat.skip(len(chat.unread()))
        assert (await _answers(second))["interests"] == ["code"]
    finally:
        await second.stop()


def _content_with_an_optional_question(tmp_path: Path) -> Path:
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    community = content / "community.yaml"
    declared = community.read_text(encoding="utf-8").replace(
        "profile_fields: [", "profile_fields: [pronouns, ", 1
    )
    community.write_text(declared, encoding="utf-8")
    (content / "flows" / "about_you.yaml").write_text(
        """\
schema_version: 1
id: about_you
title: { en: About you }
trigger: { command: aboutyou }
steps:
  - id: pronouns
    ask: { en: Which pronouns do you use?, fr: Quels pronoms utilisez-vous ? }
    input: text
    optional: true
  - id: save_pronouns
    set: { pronouns: "{{ answers.pronouns }}" }
  - id: role
    ask: { en: What do you do?, fr: Que faites-vous ? }
    choices:
      - { id: dev, label: { en: Developer, fr: Développeuse ou développeur } }
      - { id: other, label: { en: Something else, fr: Autre chose } }
  - id: done
    end: { en: Thanks!, fr: Merci ! }
""",
        encoding="utf-8",
    )
    return content


async def test_skip_leaves_an_optional_question_unanswered(
    tmp_path: Path, memory: MemoryAdapter, clock: FakeClock
) -> None:
    settings = load_settings(
        ROOT / "bot.toml",
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'onramp.db'}"},
        content={"path": _content_with_an_optional_question(tmp_path)},
        clock={"tick_seconds": 3600},
    )
    onramp = await Onramp.create(settings, {"memory": memory}, clock=clock)
    await onramp.start()
    chat = Chat(memory, locale_hint="en")
    try:
        await chat.join()
        chat.skip(2)
        await chat.say("yes")
        chat.skip(len(chat.unread()))
        await chat.say("/aboutyou")  # the onboarding waits meanwhile
        chat.expect("Which pronouns", "write *skip* to leave it out")
        await chat.say("skip")
        role = chat.expect("What do you do?")
        assert "skip" not in role.text  # that one is not optional
        await chat.say("passer")
        chat.expect("can't be skipped")
        await chat.say("dev")
        chat.expect("Thanks!")
        assert "pronouns" not in await _answers(onramp)
        assert (await _member(onramp)).profile.get("pronouns") is None
    finally:
        await onramp.stop()
