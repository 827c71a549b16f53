"""Campaigns end to end through the memory adapter: preview, plan, send, cancel, retry."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.memory import Chat, MemoryAdapter
from bot.campaigns import manage, planning
from bot.runtime import Onramp
from bot.settings import Settings
from storage.models import Consent, Member
from tests.bot.test_mentorship import tick
from tests.conftest import CONTENT, FakeClock

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


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    (content / "campaigns" / "hello.yaml").write_text(HELLO, encoding="utf-8")
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
    shown = await planning.preview(onramp.db, content, campaign, clock.now, reach)
    assert shown.sending == {("memory", "en"): 1, ("memory", "fr"): 1}
    assert shown.excluded == {"no_consent": 1}
    result = await planning.request_send(
        onramp.db,
        content,
        campaign,
        clock.now,
        onramp.settings.campaigns,
        onramp.settings.clock,
        reach,
        actor="test",
    )
    assert result.created
    again = await planning.request_send(
        onramp.db,
        content,
        campaign,
        clock.now,
        onramp.settings.campaigns,
        onramp.settings.clock,
        reach,
        actor="test",
    )
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
