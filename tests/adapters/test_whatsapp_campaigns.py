"""A campaign on WhatsApp, end to end: the real adapter against the Cloud API emulator. Inside
the 24-hour window the message goes as text, outside it the campaign's approved template;
Meta's later statuses, POSTed to the webhook, reach the recipient rows."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.campaigns import manage, planning
from bot.settings import Settings
from storage import campaigns as store
from storage.models import Consent, Member
from tests.adapters.test_whatsapp import ADA, GRACE, for_whatsapp, serving, unlimited_emulator
from tests.conftest import CONTENT, FakeClock
from tests.fakes.whatsapp import WhatsAppEmulator
from tests.support.waiting import until

CALL = """\
schema_version: 1
id: call
title: Call
segment:
  platform: whatsapp
message: "📣 Hello {{ member.name }}! Our community call is on **Thursday**."
whatsapp_template: {name: community_call_reminder, parameters: ["{{ member.name }}"]}
send_at: now
"""

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def emulator(clock: FakeClock) -> Iterator[WhatsAppEmulator]:
    with unlimited_emulator(clock=clock) as emulator:
        emulator.user(ADA, "Ada Lovelace")
        emulator.user(GRACE, "Grace Hopper")
        emulator.approve("community_call_reminder", "en", parameters=1)
        yield emulator


@pytest.fixture
def wa_settings(
    settings: Settings,
    emulator: WhatsAppEmulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database_url: str,
) -> Settings:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    (content / "campaigns" / "call.yaml").write_text(CALL, encoding="utf-8")
    settings.content.path = content
    return for_whatsapp(settings, emulator, monkeypatch, database_url)


async def test_text_inside_the_window_the_template_outside_and_statuses_recorded(
    wa_settings: Settings, emulator: WhatsAppEmulator, clock: FakeClock
) -> None:
    clock.now = START
    async with serving(wa_settings, emulator, clock) as served:
        assert await served.deliver(emulator.text(GRACE, "hi")) == 200  # three days ago
        clock.now = START + timedelta(days=3)
        assert await served.deliver(emulator.text(ADA, "hi")) == 200  # just now
        await served.outbox_idle()
        async with served.onramp.db.transaction() as session:
            for member in (await session.execute(select(Member))).scalars():
                session.add(Consent(member_id=member.id, purpose="announcements", granted=True))
        onramp = served.onramp
        campaign = onramp.content.campaigns["call"]
        result = await planning.request_send(
            onramp.db,
            onramp.content,
            campaign,
            clock.now,
            onramp.settings.campaigns,
            onramp.settings.clock,
            planning.reach(onramp.adapters),
            actor="test",
        )
        assert result.created
        clock.advance(seconds=1)
        while await onramp.timers.tick():
            pass
        await served.outbox_idle()
        to_ada = [m for m in emulator.messages_to(ADA) if "community call" in str(m.body)]
        to_grace = [m for m in emulator.messages_to(GRACE) if m.type == "template"]
        assert [m.type for m in to_ada] == ["text"]
        assert "*Thursday*" in to_ada[0].body["text"]["body"]  # WhatsApp's bold
        assert "stop announcements" in to_ada[0].body["text"]["body"]
        assert len(to_grace) == 1
        template = to_grace[0].body["template"]
        assert template["name"] == "community_call_reminder"
        assert template["components"][0]["parameters"][0]["text"] == "Grace Hopper"
        for notification in emulator.statuses_for(to_ada[0].id, "read", "delivered"):
            assert await served.deliver(notification) == 200
        failed = (131026, "Message undeliverable", "Unable to deliver")
        for notification in emulator.statuses_for(to_grace[0].id, "failed", error=failed):
            assert await served.deliver(notification) == 200

        async def recorded() -> bool:
            async with onramp.db.reading() as session:
                rows = await store.recipients(session, 1)
            return sorted(r.status for r in rows) == ["failed", "read"]

        await until(recorded, "the statuses on the recipient rows")
        state = await manage.status(onramp.db, onramp.content, "call")
        [(status, reason)] = state.reasons
        assert (status, reason) == (
            "failed",
            "whatsapp: 131026 Message undeliverable: Unable to deliver",
        )
