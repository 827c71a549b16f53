"""Campaigns end to end through the memory adapter: preview, plan, send, cancel, retry."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.memory import Chat, MemoryAdapter
from bot.adapter import DeliveryError, RateLimit
from bot.campaigns import manage, planning, previewing
from bot.campaigns.planning import CampaignError
from bot.events import DeliveryUpdate
from bot.runtime import Onramp
from bot.settings import Settings
from flows.content import load_tree_or_raise
from flows.text import render
from storage import campaigns as store
from storage.models import Consent, Member, Outbox
from tests.bot.test_mentorship import tick
from tests.conftest import CONTENT, FakeClock
from tests.features import ACTIONS
from tests.support.waiting import until

HELLO = """\
schema_version: 1
id: hello
title: Hello
segment:
  locale: [en, fr]
message:
  en: "Hello {{ member.name }}, the call is on Thursday."
  fr: "Bonjour {{ member.name }}, l'appel a lieu jeudi."
  es: "Hola {{ member.name }}, la llamada es el jueves."
send_at: now
"""

LOCAL = """\
schema_version: 1
id: local
title: Local
segment:
  consent: announcements
message: "Good morning {{ member.name }}!"
send_at: { local_time: "10:00", date: 2026-12-02 }
expire_after: 1h
"""

SURVEY = """\
schema_version: 1
id: survey
title: Survey
segment:
  locale: [en, fr, es]
flow: onboarding_survey
send_at: now
"""


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    for name, text in (("hello", HELLO), ("local", LOCAL), ("survey", SURVEY)):
        (content / "campaigns" / f"{name}.yaml").write_text(text, encoding="utf-8")
    settings.content.path = content
    return settings


async def member(
    onramp: Onramp,
    memory: MemoryAdapter,
    user: str,
    name: str,
    *,
    consent: bool = True,
    **profile: Any,
) -> Chat:
    chat = Chat(memory, user=user, display_name=name)
    await chat.say("/help")
    chat.skip()
    async with onramp.db.transaction() as session:
        found = (
            await session.execute(select(Member).where(Member.display_name == name))
        ).scalar_one()
        found.locale = profile.get("locale", "en")
        found.timezone = profile.get("timezone", "Europe/Paris")
        if consent:
            session.add(Consent(member_id=found.id, purpose="announcements", granted=True))
    return chat


async def test_a_campaign_reaches_each_consenting_member_once_in_their_language(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    ada = await member(onramp, memory, "ada", "Ada")
    bea = await member(onramp, memory, "bea", "Bea", locale="fr")
    cy = await member(onramp, memory, "cy", "Cy", consent=False)
    content = onramp.content
    campaign = content.campaigns["hello"]
    reach = planning.reach(onramp.adapters)
    shown = await previewing.preview(onramp.db, content, campaign, clock.now, reach)
    assert shown.sending == {("memory", "en"): 1, ("memory", "fr"): 1}
    assert shown.excluded == {"no_consent": 1}
    result = await send(onramp, clock, "hello")
    assert result.created
    again = await send(onramp, clock, "hello")
    assert not again.created and "nothing changed" in again.message
    await tick(onramp, clock, seconds=1)
    ada.expect("Hello Ada, the call is on Thursday.")
    bea.expect("Bonjour Bea, l'appel a lieu jeudi.")
    cy.expect_nothing()
    await tick(onramp, clock, seconds=10)
    ada.expect_nothing()
    state = await manage.status(onramp.db, content, "hello")
    assert state.per_platform["memory"] == {"sent": 2, "excluded": 1}
    assert state.row.state == "done"


async def send(onramp: Onramp, clock: FakeClock, key: str, **options: Any) -> planning.SendResult:
    return await planning.request_send(
        onramp.db,
        onramp.content,
        onramp.content.campaigns[key],
        clock.now,
        onramp.settings.campaigns,
        onramp.settings.clock,
        planning.reach(onramp.adapters),
        actor="test",
        **options,
    )


async def test_each_member_gets_it_at_ten_in_their_own_time_zone(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    tokyo = await member(onramp, memory, "ken", "Ken", timezone="Asia/Tokyo")
    lima = await member(onramp, memory, "ana", "Ana", timezone="America/Lima")
    nowhere = await member(onramp, memory, "zed", "Zed", timezone=None)
    await send(onramp, clock, "local")
    async with onramp.db.reading() as session:
        rows = {r.name: r.send_at for r in await store.recipients(session, 1)}
    assert rows == {
        "Ken": datetime(2026, 12, 2, 1, 0, tzinfo=UTC),  # 10:00 in Tokyo (UTC+9)
        "Ana": datetime(2026, 12, 2, 15, 0, tzinfo=UTC),  # 10:00 in Lima (UTC-5)
        "Zed": datetime(2026, 12, 2, 10, 0, tzinfo=UTC),  # no zone given: UTC
    }
    await tick(onramp, clock, hours=13, minutes=1)  # 01:01 UTC
    tokyo.expect("Good morning Ken!")
    lima.expect_nothing()
    nowhere.expect_nothing()
    await tick(onramp, clock, hours=9)  # 10:01 UTC
    nowhere.expect("Good morning Zed!")
    lima.expect_nothing()
    # The bot is down from 11:00 to 16:30 UTC: Lima's 10:00 (15:00 UTC) has expired by then.
    await tick(onramp, clock, hours=6, minutes=29)
    lima.expect_nothing()
    state = await manage.status(onramp.db, onramp.content, "local")
    assert state.per_platform["memory"] == {"sent": 2, "expired": 1}
    assert state.row.state == "done"


async def test_now_never_falls_in_a_members_night(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 12, 1, 13, 30, tzinfo=UTC)  # 22:30 in Tokyo
    tokyo = await member(onramp, memory, "ken", "Ken", timezone="Asia/Tokyo")
    paris = await member(onramp, memory, "ada", "Ada", timezone="Europe/Paris")
    await send(onramp, clock, "hello")
    await tick(onramp, clock, seconds=1)
    paris.expect("Hello Ada")
    tokyo.expect_nothing()
    await tick(onramp, clock, hours=9, minutes=29)  # 07:59 in Tokyo
    tokyo.expect_nothing()
    await tick(onramp, clock, minutes=1)  # 08:00 in Tokyo: the end of quiet hours
    tokyo.expect("Hello Ken")


async def test_a_time_in_the_past_is_refused_and_a_double_send_changes_nothing(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    await member(onramp, memory, "ada", "Ada")
    with pytest.raises(CampaignError, match="in the past"):
        await send(onramp, clock, "hello", at=datetime(2026, 11, 30, tzinfo=UTC))
    first = await send(onramp, clock, "hello", at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    assert first.created and first.row.state == "scheduled"
    second = await send(onramp, clock, "hello")
    assert not second.created and second.message == "already scheduled; nothing changed"


async def test_cancel_stops_everything_not_yet_sent(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    ken = await member(onramp, memory, "ken", "Ken", timezone="Asia/Tokyo")
    ana = await member(onramp, memory, "ana", "Ana", timezone="America/Lima")
    await send(onramp, clock, "local")
    await tick(onramp, clock, hours=13, minutes=1)
    ken.expect("Good morning Ken!")
    assert await manage.cancel(onramp.db, "local", clock.now, actor="test") == 1
    await tick(onramp, clock, hours=4)
    ana.expect_nothing()
    state = await manage.status(onramp.db, onramp.content, "local")
    assert state.row.state == "cancelled"
    assert state.per_platform["memory"] == {"sent": 1, "cancelled": 1}
    with pytest.raises(CampaignError, match="already cancelled"):
        await manage.cancel(onramp.db, "local", clock.now, actor="test")
    again = await send(onramp, clock, "local")
    assert not again.created and "nothing is sent twice" in again.message


async def test_retry_sends_again_only_what_another_attempt_may_cure(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    onramp.sender.settings.max_attempts = 1
    clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    ada = await member(onramp, memory, "ada", "Ada")
    bea = await member(onramp, memory, "bea", "Bea")
    memory.failures.extend(
        [DeliveryError("memory: timed out"), DeliveryError("memory: blocked", permanent=True)]
    )
    await send(onramp, clock, "hello")
    await tick(onramp, clock, seconds=1)
    ada.expect_nothing()
    bea.expect_nothing()
    state = await manage.status(onramp.db, onramp.content, "hello")
    assert state.per_platform["memory"] == {"failed": 2}
    assert set(state.reasons) == {("failed", "memory: timed out"), ("failed", "memory: blocked")}
    await tick(onramp, clock, seconds=5)  # the send's work comes back, finds nothing open
    state = await manage.status(onramp.db, onramp.content, "hello")
    assert state.row.state == "done"
    assert await manage.retry_failed(onramp.db, "hello", clock.now, actor="test") == 1
    await tick(onramp, clock, seconds=1)
    sent = [c for c in (ada, bea) if c.unread()]
    assert len(sent) == 1 and "Hello" in sent[0].unread()[0].text
    with pytest.raises(CampaignError, match="nothing to retry"):
        await manage.retry_failed(onramp.db, "hello", clock.now, actor="test")


async def test_a_member_who_opts_out_after_the_plan_is_not_sent_it(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    ana = await member(onramp, memory, "ana", "Ana", timezone="America/Lima")
    zoe = await member(onramp, memory, "zoe", "Zoe", timezone="America/Lima")
    await send(onramp, clock, "local")
    async with onramp.db.transaction() as session:
        consent = (
            await session.execute(select(Consent).where(Consent.member_id == 1))
        ).scalar_one()
        consent.granted = False
    await tick(onramp, clock, hours=27, minutes=1)  # 10:01 in Lima the next day
    ana.expect_nothing()
    zoe.expect("Good morning Zoe!")
    state = await manage.status(onramp.db, onramp.content, "local")
    assert state.reasons == {("excluded", "no_consent"): 1}


async def test_the_frozen_plan_wins_when_the_file_changes(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock, settings: Settings
) -> None:
    clock.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    ana = await member(onramp, memory, "ana", "Ana", timezone="America/Lima")
    await send(onramp, clock, "local")
    path = settings.content.path / "campaigns" / "local.yaml"
    path.write_text(LOCAL.replace("Good morning", "Good evening"), encoding="utf-8")
    edited = load_tree_or_raise(settings.content.path, actions=ACTIONS)
    state = await manage.status(onramp.db, edited, "local")
    assert state.file_changed is True
    await tick(onramp, clock, hours=27, minutes=1)
    ana.expect("Good morning Ana!")


async def test_platform_statuses_reach_the_recipient_row(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    await member(onramp, memory, "ada", "Ada")
    await send(onramp, clock, "hello")
    await tick(onramp, clock, seconds=1)
    async with onramp.db.reading() as session:
        (row,) = await store.recipients(session, 1)
    assert row.status == "sent" and row.delivery_id
    for n, status in enumerate(("read", "delivered")):  # out of order: read stays
        await onramp.receive(
            DeliveryUpdate(
                platform="memory",
                dedupe_key=f"status-{n}",
                actor="ada",
                conversation="ada",
                delivery_id=row.delivery_id,
                status=status,
            )
        )
    state = await manage.status(onramp.db, onramp.content, "hello")
    assert state.per_platform["memory"] == {"read": 1}


async def test_a_survey_starts_its_flow_and_its_answers_come_out_in_the_results(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    ada = await member(onramp, memory, "ada", "Ada")
    bea = await member(onramp, memory, "bea", "Bea", locale="fr")
    await send(onramp, clock, "survey")
    await tick(onramp, clock, seconds=1)
    first = ada.expect("How is it going so far?")
    hint = render(onramp.content.system["campaign_opt_out"], "en", "en", {})
    assert hint and first.text.endswith(f"\n\n{hint}")  # how to opt out, once, at the end
    bea.expect("Comment cela se passe-t-il")
    await ada.press("stuck")
    ada.expect("What got in the way most?")
    await ada.press("time", "people")
    ada.expect("what one thing would have helped you?")
    await ada.say("A map of the repositories")
    ada.expect("Thank you")
    columns, rows = await manage.results(onramp.db, "survey")
    assert columns[-3:] == ["going", "obstacle", "suggestion"]
    by_member = {row["member"]: row for row in rows}
    assert by_member[1]["going"] == "stuck"
    assert by_member[1]["obstacle"] == "time;people"
    assert by_member[1]["suggestion"] == "A map of the repositories"
    assert by_member[2]["status"] == "sent" and by_member[2]["going"] is None


async def test_a_plan_cut_short_is_finished_by_the_bot(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    onramp.settings.campaigns.planning_batch = 1
    clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    chats = [await member(onramp, memory, f"m{n}", f"M{n}") for n in range(3)]
    real = planning._schedule_sends

    async def dies(*args: Any) -> None:
        raise RuntimeError("killed while planning")

    monkeypatch.setattr(planning, "_schedule_sends", dies)
    with pytest.raises(RuntimeError):
        await send(onramp, clock, "hello")
    monkeypatch.setattr(planning, "_schedule_sends", real)
    async with onramp.db.reading() as session:
        assert len(await store.recipients(session, 1)) == 3  # planned, one batch at a time
    await tick(onramp, clock, seconds=1)
    assert not any(chat.unread() for chat in chats)  # the plan is not finished: nothing goes
    again = await send(onramp, clock, "hello")
    assert not again.created and again.message == "already planning; nothing changed"
    await tick(onramp, clock, minutes=2)  # the bot takes the plan over
    await asyncio.sleep(0.1)
    await tick(onramp, clock, seconds=1)
    for n, chat in enumerate(chats):
        chat.expect(f"Hello M{n}")
        chat.expect_nothing()


async def test_throttling_delays_a_campaign_message_and_never_fails_it(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    ada = await member(onramp, memory, "ada", "Ada")
    memory.failures.append(DeliveryError("memory: 429", retry_after=30))
    await send(onramp, clock, "hello")
    await tick(onramp, clock, seconds=1)
    ada.expect_nothing()
    state = await manage.status(onramp.db, onramp.content, "hello")
    assert state.per_platform["memory"] == {"queued": 1}
    await tick(onramp, clock, seconds=31)
    ada.expect("Hello Ada")


async def test_cancel_stops_messages_already_waiting_for_the_rate_limit(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    chats = [await member(onramp, memory, f"m{n}", f"M{n}") for n in range(6)]
    memory.rate_limits = lambda message: [RateLimit("all", 1, 0.4)]  # type: ignore[attr-defined]
    await send(onramp, clock, "hello")
    clock.advance(seconds=1)
    while await onramp.timers.tick():
        pass  # all six are queued; the sender lets one go every 0.4 s
    await until(lambda: any(chat.unread() for chat in chats), "the first message")
    await manage.cancel(onramp.db, "hello", clock.now, actor="test")
    await asyncio.sleep(2.5)  # long enough for all six, had the campaign gone on
    went = sum(bool(chat.unread()) for chat in chats)
    assert 1 <= went <= 4  # what went before the cancel, and within a second of it
    state = await manage.status(onramp.db, onramp.content, "hello")
    assert state.per_platform["memory"] == {"sent": went, "cancelled": 6 - went}
    async with onramp.db.reading() as session:
        statuses = (await session.execute(select(Outbox.status))).scalars().all()
    assert "pending" not in statuses and "sending" not in statuses


async def test_a_member_in_lite_mode_gets_the_campaign_without_link_previews(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    """/mode lite holds for campaigns too: the message goes in lite mode (the adapters then
    turn link previews off), its links kept in the text; the others' go as they are."""
    clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    ada = await member(onramp, memory, "ada", "Ada")
    bea = await member(onramp, memory, "bea", "Bea")
    await ada.say("/mode lite")
    ada.skip()
    assert (await send(onramp, clock, "hello")).created
    await tick(onramp, clock, seconds=1)
    lite = ada.expect("Hello Ada, the call is on Thursday.")
    rich = bea.expect("Hello Bea, the call is on Thursday.")
    assert (lite.mode, lite.lite) == ("lite", True)
    assert (rich.mode, rich.lite) == ("rich", False)
