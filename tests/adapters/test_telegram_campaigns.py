"""`/campaign` on Telegram end to end: python-telegram-bot against the Bot API emulator, the
slash command, its confirm button (tapped twice), and the campaign reaching the members."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.settings import Settings
from storage import campaigns as store
from storage.models import Consent, Member
from tests.adapters.test_telegram import (
    Person,
    Served,
    _keyboard,
    for_telegram,
    serving,
    unlimited_emulator,
    until,
)
from tests.bot.test_campaign_commands import HELLO
from tests.conftest import CONTENT
from tests.fakes.telegram import TelegramEmulator

CONFIRM = "c:campaign.send.hello:confirm"


@pytest.fixture
def emulator() -> Iterator[TelegramEmulator]:
    with unlimited_emulator() as emulator:
        yield emulator


@pytest.fixture
async def served(
    settings: Settings,
    emulator: TelegramEmulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> AsyncIterator[Served]:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    (content / "campaigns" / "hello.yaml").write_text(HELLO, encoding="utf-8")
    settings.content.path = content
    async with serving(for_telegram(settings, emulator, monkeypatch), emulator) as running:
        yield running


async def run_due_work(served: Served) -> None:
    """What the bot's clock does (tests tick it by hand): the confirmed send, then its plan
    (in a task of its own), then the sends."""
    onramp = served.onramp
    while await onramp.timers.tick():
        pass

    async def planned() -> bool:
        async with onramp.db.reading() as session:
            row = await store.by_key(session, "hello")
        return row is not None and row.state != "planning"

    await until(planned, "the campaign's plan")
    while await onramp.timers.tick():
        pass
    await served.outbox_idle()


async def test_a_manager_sends_a_campaign_with_the_slash_command_and_its_button(
    served: Served,
) -> None:
    emulator = served.emulator
    zoe = Person(served, emulator.user(7_010, "Zoe"))
    ada = Person(served, emulator.user(7_011, "Ada"))
    bea = Person(served, emulator.user(7_012, "Bea", language_code="fr"))
    for person in (zoe, ada, bea):
        await person.say("/help")
    async with served.onramp.db.transaction() as session:
        for member in (await session.execute(select(Member))).scalars():
            if member.display_name == "Zoe":
                member.roles = ["manager"]
            else:
                session.add(Consent(member_id=member.id, purpose="announcements", granted=True))

    await ada.say("/campaign send hello")
    assert "only community managers can use /campaign" in ada.inbox()[-1]["text"]

    await zoe.say("/campaign send hello")
    asked = zoe.inbox()[-1]
    assert "Send campaign <code>hello</code> (Hello) to <b>2 members</b>" in asked["text"]
    assert _keyboard(asked) == [("Yes, send it", CONFIRM)]

    await zoe.tap(CONFIRM)
    assert "reply_markup" not in zoe.inbox()[-2]  # the button gave way to the answer
    assert "Preparing campaign <code>hello</code>" in zoe.inbox()[-1]["text"]
    # The same button tapped again before the keyboard went (a double tap): nothing twice.
    again = emulator.callback_query(zoe.user, asked, CONFIRM)
    assert await served.deliver(again) == 200
    await served.outbox_idle()
    assert "already being prepared" in zoe.inbox()[-1]["text"]

    await run_due_work(served)
    assert "Campaign <code>hello</code> is on its way" in zoe.inbox()[-1]["text"]
    [to_ada] = [m["text"] for m in ada.inbox() if "Thursday" in m["text"]]  # once
    assert to_ada.startswith("Hello Ada, the call is on <b>Thursday</b>.")
    [to_bea] = [m["text"] for m in bea.inbox() if "jeudi" in m["text"]]
    assert to_bea.startswith("Bonjour Bea, l'appel a lieu <b>jeudi</b>.")
