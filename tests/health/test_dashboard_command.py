"""/dashboard in chat: a manager gets a one-time sign-in link in a direct message (and the link
works); anyone else a polite refusal; in a group, the answer still goes privately."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from adapters.memory import Chat, MemoryAdapter
from bot.events import CommandInvoked
from bot.runtime import Onramp
from bot.settings import Settings
from bot.web import create_app
from storage.models import AuditLog, DashboardLink, Member
from tests.clock import FakeClock
from tests.health.test_access import SITE, press

LINK = re.compile(rf"<({re.escape(SITE)}/dashboard/sign-in/([A-Za-z0-9_.\-]+))>")


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    settings.database.url = database_url
    settings.web.public_url = SITE
    return settings


@pytest.fixture
async def web(onramp: Onramp, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    """The dashboard served (which is what lets /dashboard hand out links)."""
    monkeypatch.setenv("ONRAMP_SECRET_KEY", "a test secret")
    transport = httpx.ASGITransport(app=create_app(onramp))
    async with httpx.AsyncClient(transport=transport, base_url=SITE) as client:
        yield client


async def person(onramp: Onramp, memory: MemoryAdapter, name: str, *, manager: bool) -> Chat:
    chat = Chat(memory, user=name.casefold(), display_name=name)
    await chat.say("/help")
    chat.skip()
    async with onramp.db.transaction() as session:
        found = (
            await session.execute(select(Member).where(col(Member.display_name) == name))
        ).scalar_one()
        found.roles = ["manager"] if manager else []
    return chat


async def links(onramp: Onramp) -> list[DashboardLink]:
    async with onramp.db.reading() as session:
        return list((await session.execute(select(DashboardLink))).scalars())


async def test_a_manager_gets_a_link_that_signs_them_in(
    onramp: Onramp, memory: MemoryAdapter, web: httpx.AsyncClient, clock: FakeClock
) -> None:
    ada = await person(onramp, memory, "Ada", manager=True)
    await ada.say("/dashboard")
    message = ada.expect("sign-in link", "15 minutes")
    found = LINK.search(message.text)
    assert found is not None, message.text
    [link] = await links(onramp)
    assert link.expires_at == clock.now + onramp_minutes(15)

    confirm = await web.get(found[1].removeprefix(SITE))
    proof = re.search(r'name="proof" value="([0-9a-f]+)"', confirm.text)
    assert proof is not None
    assert (await press(web, found[2], proof[1])).status_code == 303
    async with onramp.db.reading() as session:
        sent = (
            await session.execute(
                select(AuditLog).where(col(AuditLog.action) == "dashboard.link_sent")
            )
        ).scalar_one()
    assert found[2] not in str(sent.detail)


def onramp_minutes(minutes: int) -> object:
    from datetime import timedelta

    return timedelta(minutes=minutes)


async def test_anyone_else_is_refused_politely_and_gets_no_link(
    onramp: Onramp, memory: MemoryAdapter, web: httpx.AsyncClient
) -> None:
    bob = await person(onramp, memory, "Bob", manager=False)
    await bob.say("/dashboard")
    refusal = bob.expect("community managers")
    assert "/dashboard/sign-in" not in refusal.text
    assert await links(onramp) == []


async def test_in_a_group_the_link_goes_privately_and_nothing_is_posted_there(
    onramp: Onramp, memory: MemoryAdapter, web: httpx.AsyncClient
) -> None:
    ada = await person(onramp, memory, "Ada", manager=True)
    await ada.send_event(
        CommandInvoked(
            platform="memory",
            dedupe_key="ada:group",
            actor="ada",
            conversation="G-general",
            private=False,
            display_name="Ada",
            name="dashboard",
            args="",
        )
    )
    ada.expect("sign-in link")
    assert [m for m in memory.sent if m.recipient == "G-general"] == []


async def test_a_bot_that_serves_no_dashboard_says_so(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    ada = await person(onramp, memory, "Ada", manager=True)
    await ada.say("/dashboard")
    ada.expect("onramp dashboard")
    assert await links(onramp) == []


async def test_help_lists_the_command(onramp: Onramp, memory: MemoryAdapter) -> None:
    bob = await person(onramp, memory, "Bob", manager=False)
    await bob.say("/help")
    bob.expect("/dashboard")
