"""`/campaign` in chat, through the memory adapter: only managers, preview, a confirmed send
(once, however often it is confirmed), a second manager's approval, status, cancel, audit."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from adapters.memory import Chat, MemoryAdapter
from bot.campaigns import chat_views
from bot.runtime import Onramp
from bot.settings import Settings
from storage import campaigns as store
from storage.models import AuditLog, Campaign, Consent, Member, Outbox
from tests.bot.test_mentorship import tick
from tests.conftest import CONTENT, FakeClock
from tests.support.waiting import until

HELLO = """\
schema_version: 1
id: hello
title: Hello
segment:
  locale: [en, fr]
message:
  en: "Hello {{ member.name }}, the call is on **Thursday**."
  fr: "Bonjour {{ member.name }}, l'appel a lieu **jeudi**."
  es: "Hola {{ member.name }}, la llamada es el **jueves**."
send_at: now
"""


@pytest.fixture
def settings(settings: Settings, database_url: str, tmp_path: Path) -> Settings:
    """A test campaign `hello`, on SQLite and on PostgreSQL."""
    settings.database.url = database_url
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    (content / "campaigns" / "hello.yaml").write_text(HELLO, encoding="utf-8")
    settings.content.path = content
    return settings


@pytest.fixture
def approval(settings: Settings) -> Settings:
    """`[campaigns] require_approval = true`."""
    settings.campaigns.require_approval = True
    return settings


async def person(
    onramp: Onramp,
    memory: MemoryAdapter,
    name: str,
    *,
    locale: str = "en",
    consent: bool = True,
    manager: bool = False,
) -> Chat:
    """A member who has written to the bot (`/help`), in `locale`, with or without consent
    to announcements, and perhaps a community manager (who then takes no announcements)."""
    chat = Chat(memory, user=name.casefold(), display_name=name)
    await chat.say("/help")
    chat.skip()
    async with onramp.db.transaction() as session:
        found = (
            await session.execute(select(Member).where(Member.display_name == name))
        ).scalar_one()
        found.locale, found.timezone = locale, "Europe/Paris"
        if manager:
            found.roles = ["manager"]
        elif consent:
            session.add(Consent(member_id=found.id, purpose="announcements", granted=True))
    return chat


async def settle(onramp: Onramp, clock: FakeClock, **delta: float) -> None:
    """Run the bot's due work, wait for any plan it started (in a task of its own), and run
    what that plan scheduled."""
    await tick(onramp, clock, **delta)

    async def planned() -> bool:
        async with onramp.db.reading() as session:
            rows = await store.all_campaigns(session)
        return all(row.state != "planning" for row in rows)

    async def delivered() -> bool:
        waiting = select(func.count()).where(col(Outbox.status).in_(("pending", "sending")))
        async with onramp.db.reading() as session:
            return int((await session.execute(waiting)).scalar()) == 0

    await until(planned, "the campaign's plan")
    await tick(onramp, clock)
    await until(delivered, "the outbox to empty")  # PostgreSQL: the sender's own task sends


async def campaigns(onramp: Onramp) -> int:
    async with onramp.db.reading() as session:
        return int((await session.execute(select(func.count()).select_from(Campaign))).scalar())


async def audited(onramp: Onramp) -> list[str]:
    async with onramp.db.reading() as session:
        rows = (await session.execute(select(AuditLog).order_by(AuditLog.id))).scalars()
        return [row.action for row in rows if row.action.startswith("campaign.")]


@pytest.fixture
async def members(onramp: Onramp, memory: MemoryAdapter, clock: FakeClock) -> list[Chat]:
    """Ada (English) and Bea (French) agreed to announcements; Cy did not."""
    clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    return [
        await person(onramp, memory, "Ada"),
        await person(onramp, memory, "Bea", locale="fr"),
        await person(onramp, memory, "Cy", consent=False),
    ]


async def test_only_managers_may_use_it_and_a_refusal_is_audited(
    onramp: Onramp, memory: MemoryAdapter, members: list[Chat]
) -> None:
    ada = members[0]
    await ada.say("/campaign send hello")
    ada.expect("only community managers can use /campaign")
    assert not ada.unread()
    await ada.say("/campaign")
    ada.expect("only community managers")
    await ada.say("campaign send hello confirm")  # typed, as on Zulip: refused all the same
    ada.expect("only community managers")
    assert await campaigns(onramp) == 0
    assert await audited(onramp) == ["campaign.refused"] * 3


async def test_help_lists_the_subcommands_and_the_campaigns(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    zoe = await person(onramp, memory, "Zoe", manager=True)
    await zoe.say("/campaign")
    zoe.expect("/campaign preview ID", "/campaign send ID", "`hello`: Hello", "`community_call`")
    await zoe.say("/campaign preview nope")
    zoe.expect("There is no campaign `nope`", "`hello`")


async def test_preview_counts_who_would_get_it_and_shows_the_message(
    onramp: Onramp, memory: MemoryAdapter, members: list[Chat]
) -> None:
    zoe = await person(onramp, memory, "Zoe", manager=True)
    await zoe.say("/campaign preview hello")
    summary = zoe.expect(
        "Campaign `hello` (Hello): **2 members** would get it, as soon as it is sent.",
        "• memory · English: 1",
        "• memory · French: 1",
        "Left out (2):",  # Cy, and Zoe herself: neither agreed to announcements
        "• did not agree to these messages: 2",
    )
    assert not summary.choices
    zoe.expect("Hello Ada, the call is on **Thursday**.")
    assert await campaigns(onramp) == 0  # a preview sends nothing
    assert await audited(onramp) == ["campaign.previewed"]


async def test_preview_in_the_managers_language(onramp: Onramp, memory: MemoryAdapter) -> None:
    eva = await person(onramp, memory, "Eva", locale="es", manager=True)
    await eva.say("/campaign preview hello")
    eva.expect("Campaña `hello` (Hello): la recibirían **0 miembros**, en cuanto se envíe.")
    eva.expect("Hola Ada, la llamada es el **jueves**.")


async def test_a_send_is_confirmed_once_however_often_it_is_pressed(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock, members: list[Chat]
) -> None:
    ada, bea, cy = members
    zoe = await person(onramp, memory, "Zoe", manager=True)
    yan = await person(onramp, memory, "Yan", manager=True)
    await zoe.say("/campaign send hello")
    asked = zoe.expect("Send campaign `hello` (Hello) to **2 members**, as soon as it is sent?")
    assert [c.label for c in asked.choices] == ["Yes, send it"]
    assert asked.step_id == "campaign.send.hello"
    assert await campaigns(onramp) == 0  # nothing yet: the button sends

    await zoe.press("confirm")
    zoe.expect("Preparing campaign `hello`")
    await zoe.press("confirm")  # a double click
    zoe.expect("already being prepared; nothing is sent twice")
    await yan.say("/campaign send hello confirm")  # and another manager at the same moment
    yan.expect("already being prepared")

    await settle(onramp, clock, seconds=1)
    zoe.expect("Campaign `hello` is on its way")
    ada.expect("Hello Ada, the call is on **Thursday**.")
    bea.expect("Bonjour Bea, l'appel a lieu **jeudi**.")
    await zoe.press("confirm")  # the old button, later still
    zoe.expect("already on its way (sending)")
    await settle(onramp, clock, seconds=10)
    await yan.say("/campaign send hello")
    yan.expect("Campaign `hello` was sent already; nothing is sent twice")
    for chat in (ada, bea, cy, zoe, yan):
        chat.expect_nothing()
    assert await campaigns(onramp) == 1
    assert (await audited(onramp)).count("campaign.requested") == 1


async def test_where_there_are_no_buttons_the_confirmation_is_typed(
    onramp: Onramp,
    memory: MemoryAdapter,
    clock: FakeClock,
    members: list[Chat],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(chat_views, "_has_buttons", lambda platform: False)
    zoe = await person(onramp, memory, "Zoe", manager=True)
    await zoe.say("campaign send hello")  # typed without a slash, as on Zulip and WhatsApp
    asked = zoe.expect("to **2 members**", "To go ahead, type: `/campaign send hello confirm`")
    assert not asked.choices
    await zoe.say("campaign send hello confirm")
    zoe.expect("Preparing campaign `hello`")
    await settle(onramp, clock, seconds=1)
    zoe.expect("on its way")
    await settle(onramp, clock, seconds=10)
    await zoe.say("campaign status hello")
    zoe.expect("Campaign `hello` (Hello): done", "• memory: 2 sent, 2 left out")
    members[0].expect("Hello Ada")


async def test_a_second_manager_approves_and_the_requester_cannot(
    approval: Settings,
    onramp: Onramp,
    memory: MemoryAdapter,
    clock: FakeClock,
    members: list[Chat],
) -> None:
    ada, bea, _ = members
    zoe = await person(onramp, memory, "Zoe", manager=True)
    yan = await person(onramp, memory, "Yan", manager=True)
    await zoe.say("/campaign send hello")
    zoe.expect("to **2 members**")
    await zoe.press("confirm")
    zoe.expect("Preparing")
    await settle(onramp, clock, seconds=1)
    zoe.expect("now waits for a second manager's approval. I've asked Yan.")
    asked = yan.expect("Zoe asks to send campaign `hello` (Hello) to **2 members**")
    assert [c.label for c in asked.choices] == ["Approve"]
    ada.expect_nothing()

    await zoe.say("/campaign approve hello")
    zoe.expect("You asked for this send, so another manager must approve it")
    await zoe.press("confirm")  # her old send button, pressed again
    zoe.expect("already waits for a second manager's approval")
    await settle(onramp, clock, seconds=1)
    ada.expect_nothing()

    await yan.press("confirm")
    yan.expect("Approved: campaign `hello` is on its way")
    zoe.expect("Yan approved campaign `hello`: it is on its way.")
    await yan.press("confirm")  # twice
    yan.expect("already on its way")
    await settle(onramp, clock, seconds=1)
    ada.expect("Hello Ada")
    bea.expect("Bonjour Bea")
    await settle(onramp, clock, seconds=10)
    ada.expect_nothing()
    async with onramp.db.reading() as session:
        row = await store.by_key(session, "hello")
    assert row is not None and row.state == "done"
    assert row.requested_by != row.approved_by
    actions = await audited(onramp)
    assert actions.count("campaign.requested") == actions.count("campaign.approved") == 1


async def test_no_other_manager_to_ask(
    approval: Settings,
    onramp: Onramp,
    memory: MemoryAdapter,
    clock: FakeClock,
    members: list[Chat],
) -> None:
    zoe = await person(onramp, memory, "Zoe", manager=True)
    await zoe.say("/campaign send hello confirm")
    zoe.expect("Preparing")
    await settle(onramp, clock, seconds=1)
    zoe.expect("I can't reach any other manager: ask one to send /campaign approve hello")


async def test_status_counts_per_platform_with_the_time_left_and_a_changed_file(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock, members: list[Chat]
) -> None:
    dan = await person(onramp, memory, "Dan")
    eli = await person(onramp, memory, "Eli")
    zoe = await person(onramp, memory, "Zoe", manager=True)
    await zoe.say("/campaign status hello")
    zoe.expect("Campaign `hello` has not been sent")
    onramp.timers.platform_rates["memory"] = 1 / 30  # one message a feed (every 5 s)
    await zoe.say("/campaign send hello confirm")
    zoe.skip()
    await settle(onramp, clock, seconds=1)
    zoe.expect("on its way")
    await settle(onramp, clock, seconds=5)
    await zoe.say("/campaign status hello")
    zoe.expect(
        "Campaign `hello` (Hello): sending",
        "• memory: 2 to send, 2 sent, 2 left out",
        "Why some were not sent it:\n• did not agree to these messages: 2",
        "About 5 seconds to go at the current pace.",
    )
    document = next(d for n, d in onramp.content.documents.items() if n.endswith("hello.yaml"))
    document.data["message"]["en"] = "Hello again"  # the file, edited after the plan
    await zoe.say("/campaign status hello")
    zoe.expect("Its file has changed since it was planned")
    for chat in (*members, dan, eli):
        chat.skip(len(chat.unread()))


async def test_cancel_asks_first_stops_what_is_left_and_says_when_it_is_over(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock, members: list[Chat]
) -> None:
    zoe = await person(onramp, memory, "Zoe", manager=True)
    await zoe.say("/campaign cancel hello")
    zoe.expect("has not been sent")
    onramp.timers.platform_rates["memory"] = 1 / 30
    await zoe.say("/campaign send hello confirm")
    zoe.skip()
    await settle(onramp, clock, seconds=1)
    zoe.expect("on its way")
    assert len([m for m in memory.sent if m.campaign]) == 1

    await zoe.say("/campaign cancel hello")
    asked = zoe.expect("Cancel campaign `hello` (Hello)? The **1 message** not sent yet")
    assert [c.label for c in asked.choices] == ["Yes, cancel it"]
    await zoe.press("confirm")
    zoe.expect("Campaign `hello` is cancelled: 1 message stopped.")
    await zoe.press("confirm")
    zoe.expect("Campaign `hello` has already finished (cancelled): there is nothing left")
    await settle(onramp, clock, seconds=30)
    assert len([m for m in memory.sent if m.campaign]) == 1  # the other one never went
    assert sorted(len(chat.unread()) for chat in members) == [0, 0, 1]
    await zoe.say("/campaign send hello")
    zoe.expect("Campaign `hello` was cancelled; it is not sent again.")
    assert await audited(onramp) == [
        "campaign.requested",
        "campaign.planned",
        "campaign.cancelled",
    ]
