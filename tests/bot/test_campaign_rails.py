"""Campaign rails: a campaign whose send time or expiry has passed says so in its preview and
its send, in the core and in chat, and an expired one is refused without using up its id."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.memory import MemoryAdapter
from bot.campaigns import planning, previewing
from bot.campaigns.planning import CampaignError
from bot.runtime import Onramp
from bot.settings import Settings
from flows.campaigns import Campaign, Lateness, lateness
from flows.content import ContentTree, load_tree_or_raise
from storage import campaigns as store
from tests.bot.test_campaign_commands import audited, campaigns, person, settle
from tests.bot.test_campaigns import member
from tests.bot.test_mentorship import tick
from tests.conftest import CONTENT, FakeClock
from tests.features import ACTIONS

# The case: its date and its expiry have both passed by the 6th.
STALE = """\
schema_version: 1
id: stale
title: Stale
segment:
  locale: [en, fr]
message: "Hello {{ member.name }}, the call is on Thursday."
send_at: 2026-12-01T10:00:00Z
expires_at: 2026-12-03T15:00:00Z
"""

# Its date has passed, and it never expires: it would go at once.
LATE = """\
schema_version: 1
id: late
title: Late
segment:
  locale: [en, fr]
message: "Hello {{ member.name }}, the call is on Thursday."
send_at: 2026-12-01T10:00:00Z
"""

# At noon UTC on the 6th, 10:00 has passed east of UTC+2 and not yet west of it; and the
# expiry comes before 10:00 in the zones west of UTC-5.
LOCAL_TODAY = """\
schema_version: 1
id: today
title: Today
segment:
  locale: [en, fr]
message: "Good morning {{ member.name }}!"
send_at: { local_time: "10:00", date: 2026-12-06 }
expires_at: 2026-12-06T15:00:00Z
"""

SIXTH = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(settings: Settings, database_url: str, tmp_path: Path) -> Settings:
    settings.database.url = database_url
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    for name, text in (("stale", STALE), ("late", LATE), ("today", LOCAL_TODAY)):
        (content / "campaigns" / f"{name}.yaml").write_text(text, encoding="utf-8")
    settings.content.path = content
    return settings


async def send(
    onramp: Onramp, clock: FakeClock, content: ContentTree, key: str, **options: Any
) -> planning.SendResult:
    return await planning.request_send(
        onramp.db,
        content,
        content.campaigns[key],
        clock.now,
        onramp.settings.campaigns,
        onramp.settings.clock,
        planning.reach(onramp.adapters),
        actor="test",
        **options,
    )


# The core: preview and send.


async def test_an_expired_campaign_reaches_nobody_and_is_refused_without_using_its_id(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock, settings: Settings
) -> None:
    clock.now = SIXTH
    ada = await member(onramp, memory, "ada", "Ada")
    reach = planning.reach(onramp.adapters)
    stale = onramp.content.campaigns["stale"]
    shown = await previewing.preview(onramp.db, onramp.content, stale, clock.now, reach)
    assert shown.late.expired
    assert (shown.recipients, shown.excluded) == (0, {"expired": 1})

    with pytest.raises(CampaignError) as refused:
        await send(onramp, clock, onramp.content, "stale")
    assert refused.value.code == "expired"
    assert str(refused.value) == (
        "campaign 'stale' cannot be sent: its expires_at (2026-12-03 15:00 UTC) has passed (it "
        "is 2026-12-06 12:00 UTC), so nobody would get it; nothing was planned. Set a later "
        "send_at and expires_at in its file, then send it again"
    )
    assert await campaigns(onramp) == 0
    await tick(onramp, clock, seconds=1)
    ada.expect_nothing()

    # The manager fixes the dates: the same id sends.
    path = settings.content.path / "campaigns" / "stale.yaml"
    fixed = STALE.replace("2026-12-01T10", "2026-12-06T13").replace(
        "2026-12-03T15", "2026-12-08T15"
    )
    path.write_text(fixed, encoding="utf-8")
    content = load_tree_or_raise(settings.content.path, actions=ACTIONS)
    result = await send(onramp, clock, content, "stale")
    assert result.created and result.row.state == "scheduled"
    await settle(onramp, clock, hours=1)
    ada.expect("Hello Ada, the call is on Thursday.")


async def test_an_expiry_before_a_managers_start_time_is_refused(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    await member(onramp, memory, "ada", "Ada")
    with pytest.raises(CampaignError) as refused:
        await send(onramp, clock, onramp.content, "stale", at=datetime(2026, 12, 4, tzinfo=UTC))
    assert refused.value.code == "expired"
    assert "its expires_at (2026-12-03 15:00 UTC) comes before --at 2026-12-04 00:00 UTC" in str(
        refused.value
    )
    assert await campaigns(onramp) == 0
    result = await send(onramp, clock, onramp.content, "stale")  # its own time is still ahead
    assert result.created and result.row.state == "scheduled"


async def test_a_send_time_that_has_passed_goes_at_once_and_says_so(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    clock.now = SIXTH
    ada = await member(onramp, memory, "ada", "Ada")
    late = onramp.content.campaigns["late"]
    reach = planning.reach(onramp.adapters)
    shown = await previewing.preview(onramp.db, onramp.content, late, clock.now, reach)
    assert shown.late == Lateness(send_passed=True)
    assert shown.recipients == 1 and shown.first_send == SIXTH
    result = await send(onramp, clock, onramp.content, "late")
    assert result.created and result.row.state == "sending"
    await settle(onramp, clock, seconds=1)
    ada.expect("Hello Ada, the call is on Thursday.")


# When a campaign's times have passed, worked out from the clock passed in.


def _campaign(**times: Any) -> Campaign:
    return Campaign.model_validate(
        {"id": "call", "title": "Call", "segment": {"locale": "en"}, "message": "Hi", **times}
    )


LOCAL = {"send_at": {"local_time": "10:00", "date": "2026-12-06"}}


@pytest.mark.parametrize(
    ("times", "now", "expected"),
    [
        ({"send_at": "now", "expires_at": "2026-12-06T12:00:00Z"}, SIXTH, Lateness(expired=True)),
        ({"send_at": "now", "expire_after": "1h"}, SIXTH, Lateness()),
        # expire_after counts from each member's own send time, never in the past.
        ({"send_at": "2026-12-01T10:00:00Z", "expire_after": "1h"}, SIXTH, Lateness(True)),
        ({"send_at": "2026-12-06T12:00:00Z"}, SIXTH, Lateness()),
        ({"send_at": "2026-12-06T11:59:00Z"}, SIXTH, Lateness(send_passed=True)),
        # 10:00 on the 6th comes first at 20:00 UTC on the 5th (UTC+14), last at 22:00 on the
        # 6th (UTC-12).
        (LOCAL, datetime(2026, 12, 5, 20, 0, tzinfo=UTC), Lateness()),
        (LOCAL, SIXTH, Lateness(send_passed_somewhere=True)),
        (LOCAL, datetime(2026, 12, 6, 22, 1, tzinfo=UTC), Lateness(send_passed=True)),
        (
            {**LOCAL, "expires_at": "2026-12-06T15:00:00Z"},
            SIXTH,
            Lateness(send_passed_somewhere=True, expires_early=True),
        ),
        (
            {**LOCAL, "expires_at": "2026-12-05T20:00:00Z"},
            datetime(2026, 12, 1, tzinfo=UTC),
            Lateness(expired=True),
        ),
        (
            {**LOCAL, "expires_at": "2026-12-06T11:00:00Z"},
            SIXTH,
            Lateness(send_passed_somewhere=True, expired=True),
        ),
    ],
)
def test_lateness(times: dict[str, Any], now: datetime, expected: Lateness) -> None:
    assert lateness(_campaign(**times), now) == expected


def test_a_managers_start_time_stands_in_for_the_files() -> None:
    campaign = _campaign(send_at="2026-12-01T10:00:00Z", expires_at="2026-12-08T00:00:00Z")
    assert lateness(campaign, SIXTH, SIXTH + timedelta(days=1)) == Lateness()
    assert lateness(campaign, SIXTH, SIXTH + timedelta(days=2)) == Lateness(expired=True)


# In chat.


async def test_in_chat_an_expired_campaign_is_previewed_as_such_and_refused(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    clock.now = SIXTH
    ada = await person(onramp, memory, "Ada")
    zoe = await person(onramp, memory, "Zoe", manager=True)
    await zoe.say("/campaign preview stale")
    zoe.expect(
        "**0 members** would get it, on 2026-12-01 10:00 UTC.",
        "• the campaign has expired: 1",
        "⚠️ It expired on 2026-12-03 15:00 UTC: nobody can be sent it, so it cannot be sent.",
    )
    zoe.expect("Hello Ada")  # the message itself, as ever
    refusal = (
        "I can't send campaign `stale`: it expired on 2026-12-03 15:00 UTC, so nobody would get "
        "it. Nothing was planned"
    )
    await zoe.say("/campaign send stale")
    asked = zoe.expect(refusal)
    assert not asked.choices
    await zoe.say("/campaign send stale confirm")  # typed, as where there are no buttons
    zoe.expect(refusal)
    await settle(onramp, clock, seconds=1)
    assert await campaigns(onramp) == 0
    assert "campaign.requested" not in await audited(onramp)
    ada.expect_nothing()
    zoe.expect_nothing()


async def test_in_chat_a_send_time_that_has_passed_is_said_before_the_button(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    clock.now = SIXTH
    ada = await person(onramp, memory, "Ada")
    zoe = await person(onramp, memory, "Zoe", manager=True)
    await zoe.say("/campaign preview late")
    zoe.expect(
        "**1 member** would get it", "⚠️ That time has passed: sent now, it goes out at once."
    )
    zoe.skip()
    await zoe.say("/campaign send late")
    asked = zoe.expect(
        "Send campaign `late` (Late) to **1 member**, on 2026-12-01 10:00 UTC?",
        "⚠️ That time has passed: sent now, it goes out at once.",
    )
    assert [c.label for c in asked.choices] == ["Yes, send it"]
    await zoe.press("confirm")
    zoe.expect("Preparing campaign `late`")
    await settle(onramp, clock, seconds=1)
    zoe.expect("on its way")
    ada.expect("Hello Ada, the call is on Thursday.")


async def test_in_chat_a_campaign_that_expires_after_it_is_confirmed_is_refused_then(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 12, 3, 14, 59, tzinfo=UTC)
    ada = await person(onramp, memory, "Ada")
    zoe = await person(onramp, memory, "Zoe", manager=True)
    await zoe.say("/campaign send stale confirm")
    zoe.expect("Preparing campaign `stale`")
    await settle(onramp, clock, minutes=2)  # the bot takes the request after its expiry
    zoe.expect("I can't send campaign `stale`: it expired on 2026-12-03 15:00 UTC")
    assert await campaigns(onramp) == 0
    ada.expect_nothing()


async def test_in_chat_an_approval_after_the_expiry_is_refused(
    settings: Settings, onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    onramp.settings.campaigns.require_approval = True
    clock.now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    ada = await person(onramp, memory, "Ada")
    zoe = await person(onramp, memory, "Zoe", manager=True)
    yan = await person(onramp, memory, "Yan", manager=True)
    await zoe.say("/campaign send stale confirm")
    zoe.expect("Preparing")
    await settle(onramp, clock, seconds=1)
    zoe.expect("waits for a second manager's approval")
    yan.expect("Zoe asks to send campaign `stale`")
    clock.now = SIXTH
    await yan.press("confirm")
    yan.expect(
        "Campaign `stale` expired while it waited for approval: nobody would get it, so I "
        "haven't approved it. Cancel it with /campaign cancel stale."
    )
    await settle(onramp, clock, seconds=1)
    async with onramp.db.reading() as session:
        row = await store.by_key(session, "stale")
    assert row is not None and row.state == "awaiting_approval" and row.approved_by is None
    ada.expect_nothing()


async def test_in_chat_a_local_time_passed_in_some_zones_and_an_early_expiry_are_said(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    clock.now = SIXTH
    await person(onramp, memory, "Ada")
    zoe = await person(onramp, memory, "Zoe", manager=True)
    await zoe.say("/campaign preview today")
    zoe.expect(
        "**1 member** would get it, at 10:00 in each member's own time zone on 2026-12-06.",
        "⚠️ That time has already passed in some time zones: members there would get it at once.",
        "⚠️ It expires on 2026-12-06 15:00 UTC, before that time comes in the time zones "
        "furthest west: members there would not get it.",
    )


async def test_in_chat_the_refusal_is_in_the_managers_language(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    clock.now = SIXTH
    eva = await person(onramp, memory, "Eva", locale="es", manager=True)
    leo = await person(onramp, memory, "Leo", locale="fr", manager=True)
    await eva.say("/campaign send stale")
    eva.expect("No puedo enviar la campaña `stale`: caducó el 2026-12-03 15:00 UTC")
    await leo.say("/campaign preview late")
    leo.expect("⚠️ Ce moment est passé : envoyée maintenant, elle part tout de suite.")
    assert await campaigns(onramp) == 0
