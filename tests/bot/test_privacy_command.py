"""/privacy in chat: the summary and its choices, export (a file on the console, a one-time
link elsewhere), erasure (confirmed, once, never of someone else) and consent, through the
memory adapter on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from adapters.memory import Chat, MemoryAdapter
from bot.adapter import Capabilities
from bot.events import ChoiceMade
from bot.privacy import TYPED, action_of
from bot.privacy_web import Served, serve
from bot.runtime import Onramp
from bot.settings import Settings
from bot.web import create_app
from storage.models import AuditLog, Consent, Identity, Member, Outbox
from tests.clock import FakeClock

SITE = "https://bot.example.org"
LINK = re.compile(rf"<({re.escape(SITE)}/privacy/export/([A-Za-z0-9_.\-]+))>")


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    settings.database.url = database_url
    settings.web.public_url = SITE
    return settings


@pytest.fixture
async def web(onramp: Onramp, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    """The web app served, which lets /privacy hand out download links."""
    monkeypatch.setenv("ONRAMP_SECRET_KEY", "a test secret")
    transport = httpx.ASGITransport(app=create_app(onramp))
    async with httpx.AsyncClient(transport=transport, base_url=SITE) as client:
        yield client


async def member(chat: Chat, locale: str = "en") -> None:
    """A member who has said something (and speaks `locale`)."""
    await chat.say(f"/language {locale}")
    chat.skip(len(chat.unread()))


async def members(onramp: Onramp) -> list[Member]:
    async with onramp.db.reading() as session:
        return list((await session.execute(select(Member))).scalars())


async def actions(onramp: Onramp) -> list[str]:
    async with onramp.db.reading() as session:
        rows = await session.execute(select(AuditLog).order_by(col(AuditLog.id)))
        return [row.action for row in rows.scalars()]


def test_typed_forms_and_what_they_ask_for() -> None:
    for text, action in (
        ("my data", None),
        ("export my data", "export"),
        ("Effacer mes données", "erase"),
        ("borrar mis datos", "erase"),
        ("apagar meus dados", "erase"),
        ("futa data zangu", "erase"),
        ("تصدير بياناتي", "export"),
    ):
        found = TYPED.fullmatch(text)
        assert found is not None, text
        assert action_of(found["args"])[0] == action, text
    for text in ("privacy", "data", "I love my data science work", "erase"):
        assert TYPED.fullmatch(text) is None, text
    assert action_of("erase EFFACER") == ("erase", ["EFFACER"])
    assert action_of("consent annonces off") == ("consent", ["annonces", "off"])


async def test_the_summary_says_what_is_kept_and_offers_three_buttons(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    chat = Chat(memory, user="ada", display_name="Ada")
    await member(chat)
    await chat.say("/privacy")
    summary = chat.expect(
        "What I keep about you", "90 days", "30 days", "memory", "what you agreed to"
    )
    assert "erase everything" in summary.text
    assert summary.step_id == "privacy.menu"
    assert [c.label for c in summary.choices] == ["Export my data", "My consents", "Erase my data"]
    chat.expect_nothing()  # one message, three buttons
    assert "privacy.shown" in await actions(onramp)
    await chat.press("consent")
    chat.expect("what you agreed to")
    chat.skip(len(chat.unread()))
    await chat.press("erase")  # on the last purpose's own button: not one of its choices
    chat.expect("whenever you need me")  # nothing was changed
    await chat.say("/privacy")
    chat.skip()
    await chat.press("erase")
    chat.expect("cannot be undone")


async def test_in_french_the_whole_thing_is_french(onramp: Onramp, memory: MemoryAdapter) -> None:
    chat = Chat(memory, user="ada", display_name="Ada")
    await member(chat, "fr")
    await chat.say("mes données")
    summary = chat.expect("Ce que je garde sur vous", "90 jours", "Pour", "effacer tout")
    assert summary.choices[0].label == "Exporter mes données"
    await chat.press("erase")  # Effacer mes données
    confirm = chat.expect("sans retour possible", "un ancien membre")
    assert confirm.choices[0].label == "Oui, tout effacer"
    await chat.say("/privacy consent")
    chat.expect("Ce que vous avez accepté")
    lines = chat.unread()
    chat.skip(len(lines))
    [line] = [m for m in lines if "Annonces" in m.text]
    assert "non" in line.text and line.choices[0].label == "Accepter"
    assert any("Conserver vos réponses d'accueil" in m.text for m in lines)
    await chat.send_event(
        ChoiceMade(
            platform="memory",
            dedupe_key="ada:fr-on",
            actor="ada",
            conversation="ada",
            step_id=line.step_id or "",
            choice_ids=("press",),
        )
    )
    chat.expect("C'est noté", "Annonces", "oui")
    await chat.press("press")  # Retirer
    chat.expect("C'est noté", "Annonces", "non")


async def test_export_on_the_console_writes_a_json_file(
    settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    console = MemoryAdapter(capabilities=Capabilities(max_buttons=0))  # as the console
    onramp = await Onramp.create(settings, {"console": console}, clock=clock)
    serve(onramp.registry, Served(onramp.settings, exports=tmp_path / "exports"))
    await onramp.start()
    try:
        chat = Chat(console, user="ada", display_name="Ada", platform="console")
        await member(chat)
        await chat.say("/privacy export")
        said = chat.expect("everything I keep about you is in this file")
        [written] = (tmp_path / "exports").iterdir()
        assert str(written) in said.text
        document = json.loads(written.read_text(encoding="utf-8"))
        assert document["member"]["display_name"] == "Ada"
        assert [i["external_id"] for i in document["identity"]] == ["ada"]
        assert written.stat().st_mode & 0o077 == 0  # theirs alone
        assert "privacy.exported" in await actions(onramp)
    finally:
        await onramp.stop()


async def test_an_export_link_works_once(
    onramp: Onramp, memory: MemoryAdapter, web: httpx.AsyncClient, clock: FakeClock
) -> None:
    chat = Chat(memory, user="ada", display_name="Ada")
    await member(chat)
    await chat.say("/privacy")
    chat.skip()
    await chat.send_event(
        ChoiceMade(
            platform="memory",
            dedupe_key="ada:export",
            actor="ada",
            conversation="ada",
            step_id="privacy.menu",
            choice_ids=("export",),
        )
    )
    message = chat.expect("download everything I keep about you", "works once")
    found = LINK.search(message.text)
    assert found is not None, message.text
    path = found[1].removeprefix(SITE)
    page = await web.get(path)  # a link preview: nothing used
    assert page.status_code == 200 and "Download my data" in page.text
    got = await web.post(path)
    assert got.status_code == 200
    assert got.headers["content-disposition"].startswith("attachment")
    assert got.json()["member"]["display_name"] == "Ada"
    again = await web.post(path)
    assert again.status_code == 410
    assert "used already" in again.text
    assert (await web.post("/privacy/export/forged")).status_code == 410
    done = await actions(onramp)
    assert "privacy.export_link_sent" in done and "privacy.exported" in done
    assert done.count("privacy.export_refused") == 2
    async with onramp.db.reading() as session:
        details = [str(a.detail) for a in (await session.execute(select(AuditLog))).scalars()]
    assert not any(found[2] in detail or "Ada" in detail for detail in details)


async def test_an_erasure_confirmed_removes_the_member_and_says_goodbye(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    chat = Chat(memory, user="ada", display_name="Ada")
    await member(chat)
    await chat.say("/privacy erase")
    chat.expect("cannot be undone", "a former member")
    assert len(await members(onramp)) == 1
    await chat.press("press")
    goodbye = chat.expect("everything I kept about you is erased", "a former member")
    assert goodbye.recipient == "ada"
    chat.expect_nothing()
    assert await members(onramp) == []
    async with onramp.db.reading() as session:
        rows = list((await session.execute(select(Outbox))).scalars())
        identities = list((await session.execute(select(Identity))).scalars())
    assert identities == []
    # The goodbye was queued about no member, and deleted once delivered: nothing holds
    # where to reach them any more.
    assert [row for row in rows if row.recipient == "ada"] == []
    assert "member.forgotten" in await actions(onramp)

    await chat.press("press")  # the same button again: nothing more is erased
    chat.expect("erased already")
    assert (await actions(onramp)).count("member.forgotten") == 1


async def test_erase_without_confirming_does_nothing(onramp: Onramp, memory: MemoryAdapter) -> None:
    chat = Chat(memory, user="ada", display_name="Ada")
    await member(chat)
    for asked in ("/privacy erase", "erase my data", "/privacy erase yes", "/privacy ERASE"):
        await chat.say(asked)
        chat.expect("cannot be undone")
        chat.skip(len(chat.unread()))
    assert len(await members(onramp)) == 1
    assert "member.forgotten" not in await actions(onramp)


async def test_typed_confirmation_where_there_are_no_buttons(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    memory.capabilities = Capabilities(max_buttons=0)
    chat = Chat(memory, user="ada", display_name="Ada")
    await member(chat, "fr")
    await chat.say("/mode text")
    chat.skip(len(chat.unread()))
    await chat.say("/privacy")
    chat.skip()
    chat.expect("/privacy export", "/privacy erase")
    await chat.say("/privacy erase")
    asked = chat.expect("sans retour possible", "/privacy erase EFFACER")
    assert not asked.choices
    assert len(await members(onramp)) == 1
    await chat.say("/privacy erase effacer")
    chat.expect("tout ce que je gardais sur vous est effacé")
    assert await members(onramp) == []


async def test_a_late_confirmation_erases_nothing(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    chat = Chat(memory, user="ada", display_name="Ada")
    await member(chat)
    await chat.say("/privacy erase")
    chat.skip()
    clock.advance(minutes=16)
    await chat.press("press")
    chat.expect("more than 15 minutes old")
    assert len(await members(onramp)) == 1


async def test_erasing_someone_else_in_chat_is_refused(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    bea = Chat(memory, user="bea", display_name="Bea")
    await member(bea)
    ada = Chat(memory, user="ada", display_name="Ada")
    await member(ada)
    async with onramp.db.transaction() as session:
        ada_row = (
            await session.execute(select(Member).where(col(Member.display_name) == "Ada"))
        ).scalar_one()
        ada_row.roles = ["manager"]
    await ada.say("/privacy erase @bea ERASE")
    ada.expect("only your own data", "onramp forget")
    assert len(await members(onramp)) == 2
    assert "privacy.erase_refused" in await actions(onramp)


async def test_a_consent_toggle_changes_its_state(onramp: Onramp, memory: MemoryAdapter) -> None:
    chat = Chat(memory, user="ada", display_name="Ada")
    await member(chat)
    await chat.say("/privacy consent")
    chat.expect("What you agreed to")
    lines = [chat.expect() for _ in onramp.content.community.purposes()]
    [announcements] = [m for m in lines if "Announcements" in m.text]
    assert (
        "no" in announcements.text and announcements.step_id == "privacy.consent.announcements.on"
    )
    chat.skip(len(chat.unread()))
    await chat.send_event(
        ChoiceMade(
            platform="memory",
            dedupe_key="ada:on",
            actor="ada",
            conversation="ada",
            step_id="privacy.consent.announcements.on",
            choice_ids=("press",),
        )
    )
    changed = chat.expect("Saved", "Announcements", "yes")
    assert changed.step_id == "privacy.consent.announcements.off"
    async with onramp.db.reading() as session:
        row = (await session.execute(select(Consent))).scalars().one()
    assert (row.purpose, row.granted, row.source) == ("announcements", True, "privacy")
    await chat.say("/privacy consent announcements off")
    chat.expect("Saved", "Announcements", "no")
    async with onramp.db.reading() as session:
        row = (await session.execute(select(Consent))).scalars().one()
    assert not row.granted
    done = await actions(onramp)
    assert "consent.announcements.given" in done and "consent.announcements.withdrawn" in done


async def test_a_purpose_is_named_as_the_member_reads_it(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    """In their own language, by a word of its name, with a typo, or by its id; an unknown
    one gets the list, each with its name in their language."""
    chat = Chat(memory, user="lucia", display_name="Lucía")
    await member(chat, "es")
    for typed, state in (
        ("/privacy consent clasificaciones off", "no"),
        ("/privacy consent off clasificasiones", "no"),
        ("/privacy consent Aparecer en las clasificaciones on", "sí"),
        ("/privacy consent leaderboards off", "no"),
        ("/privacy consent anuncios on", "sí"),
    ):
        await chat.say(typed)
        chat.expect(state)
        chat.skip(len(chat.unread()))
    await chat.say("/privacy consent tablas off")
    unknown = chat.expect("`leaderboards` (Aparecer en las clasificaciones)")
    assert "`announcements` (Anuncios)" in unknown.text
    async with onramp.db.reading() as session:
        rows = {r.purpose: r.granted for r in (await session.execute(select(Consent))).scalars()}
    assert rows == {"leaderboards": False, "announcements": True}


async def test_a_member_on_two_platforms_sees_what_the_record_covers(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    chat = Chat(memory, user="ada", display_name="Ada")
    await member(chat)
    async with onramp.db.transaction() as session:
        ada = (await session.execute(select(Member))).scalar_one()
        session.add(Identity(member_id=ada.id or 0, platform="telegram", external_id="777"))
    await chat.say("/privacy")
    chat.expect("your accounts on: memory, Telegram")
