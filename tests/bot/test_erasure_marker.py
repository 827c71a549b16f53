"""An erasure tested the hard way (issue 20): a member whose name, platform id, answers and
kudos reasons all carry a marker uses the bot's features with others (onboarding, kudos both
ways, a mentor found and accepted, /privacy export), then erases herself in chat. Afterwards
no column of any table, no byte of the SQLite files, and no line the bot logged holds the
marker, her platform id or her member id, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel

from adapters.memory import Chat, MemoryAdapter
from bot.events import CommandInvoked, MemberJoined
from bot.runtime import Onramp
from bot.settings import Settings
from storage import redaction
from storage.models import Identity, Member
from storage.redaction import MEMBER_KEYS
from tests.bot.test_mentorship import person, sign_up

MARK = "Zqxmark"
HER_ID = f"{MARK.lower()}-ada"  # her platform id


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    settings.database.url = database_url
    return settings


async def _her_and_bea(onramp: Onramp, memory: MemoryAdapter) -> tuple[Chat, Chat, int]:
    bea = await person(onramp, memory, "bea", "Bea")
    await sign_up(bea)
    ada = Chat(memory, user=HER_ID, display_name=f"Ada {MARK}")
    await ada.say("hello")  # the onboarding, answered in her words where it asks for words
    for answer in ("English", "yes", "Nairobi", "docs", "yes", "some", "done", "no"):
        await ada.say(answer)
    ada.skip(len(ada.unread()))
    async with onramp.db.reading() as session:
        her = (
            await session.execute(select(Member).where(Member.display_name == f"Ada {MARK}"))
        ).scalar_one()
    assert her.id is not None
    bea.skip(len(bea.unread()))
    await ada.say(f"/kudos [Bea](member:bea) for reviewing the {MARK} glossary #docs")
    await bea.say(f"/kudos [Ada {MARK}](member:{HER_ID}) for the {MARK} translation #translation")
    await ada.say("/mentor")
    bea.expect(f"Ada {MARK}")  # the offer names her
    bea.skip(len(bea.unread()))
    await bea.press("accept")
    await ada.say("/privacy export")
    for chat in (ada, bea):
        chat.skip(len(chat.unread()))
    return ada, bea, her.id


async def _everything(onramp: Onramp) -> list[tuple[str, dict[str, object]]]:
    rows = []
    async with onramp.db.reading() as session:
        for table in SQLModel.metadata.sorted_tables:
            for row in (await session.execute(select(table))).mappings():
                rows.append((table.name, dict(row)))
    return rows


def _names_her(table: str, row: dict[str, object], member_id: int) -> list[str]:
    """Where `row` still names her: the marker or her platform id in any value, her member id
    in a column that refers to members, or under a key that names a member in a document."""
    found = []
    for column, value in row.items():
        text = json.dumps(value, default=str, ensure_ascii=False)
        if MARK.casefold() in text.casefold():
            found.append(f"{table}.{column}: {text[:120]}")
        fk = SQLModel.metadata.tables[table].c[column].foreign_keys
        if any(key.column.table.name == "member" for key in fk) and value == member_id:
            found.append(f"{table}.{column} = her id")
        if isinstance(value, dict) and any(value.get(k) == member_id for k in MEMBER_KEYS):
            found.append(f"{table}.{column}: {text[:120]}")
    return found


async def test_nothing_of_her_is_left_anywhere_after_she_erases_herself(
    onramp: Onramp, memory: MemoryAdapter, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    ada, bea, her = await _her_and_bea(onramp, memory)
    before = await _everything(onramp)
    assert sum(bool(_names_her(t, r, her)) for t, r in before) > 10  # she was everywhere
    tables = [table for table, _ in before]
    # both kudos, the mentorship, her onboarding's answers and Bea's mentor sign-up's
    assert (tables.count("kudos"), tables.count("mentorship"), tables.count("answer")) == (2, 1, 15)

    await ada.say("/privacy erase")
    ada.expect("cannot be undone")
    await ada.press("press")
    ada.expect("everything I kept about you is erased")
    await onramp.sender.deliver(None)
    bea.skip(len(bea.unread()))  # told that her mentee left, without her name

    left = [found for t, r in await _everything(onramp) for found in _names_her(t, r, her)]
    assert left == []
    logged = "\n".join(
        f"{record.getMessage()} {json.dumps(record.__dict__, default=str)}"
        for record in caplog.records
    )
    assert MARK.casefold() not in logged.casefold()
    if onramp.db.sqlite:
        folder = Path(str(onramp.db.engine.url.database)).parent
        for path in folder.glob("*.db*"):
            data = path.read_bytes().lower()
            assert MARK.lower().encode() not in data, path.name


async def test_her_kudos_stay_for_bea_and_a_join_does_not_bring_her_back(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    ada, bea, her = await _her_and_bea(onramp, memory)
    await bea.say("/badges")
    progress = bea.expect("Badges")
    await ada.say("/privacy erase")
    ada.skip()
    await ada.press("press")
    await onramp.sender.deliver(None)
    ada.skip(len(ada.unread()))
    bea.expect("A former member has left the community")  # her mentor is told, not her name
    await bea.say("/badges")
    assert bea.expect("Badges").text == progress.text  # the kudos she gave Bea still count

    assert memory.inbox is not None
    await memory.inbox(
        MemberJoined(platform="memory", actor=HER_ID, conversation=HER_ID, dedupe_key="j1")
    )
    await onramp.sender.deliver(None)
    ada.expect_nothing()  # no welcome: she asked to be erased
    async with onramp.db.reading() as session:
        assert (await session.execute(select(Member).where(Member.id == her))).first() is None
        assert len((await session.execute(select(Identity))).scalars().all()) == 1  # Bea's
    await ada.say("hello")  # but writing herself, she starts afresh
    ada.expect("Which language would you like me to use?")


class Crash(BaseException):
    """The process dying mid-erasure: nothing after it runs (as tests/bot/test_crashes.py)."""


async def test_an_erasure_cut_short_is_never_half_done_and_goes_through_when_redelivered(
    onramp: Onramp, memory: MemoryAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada, _, her = await _her_and_bea(onramp, memory)
    before = await _everything(onramp)
    erase = CommandInvoked(
        platform="memory",
        actor=HER_ID,
        conversation=HER_ID,
        dedupe_key="erase-1",
        name="privacy",
        args="erase ERASE",
    )
    redact = redaction.redact

    async def dying(*args: Any, **kwargs: Any) -> Any:
        await redact(*args, **kwargs)  # her rows deleted, others' copies rewritten, then…
        raise Crash

    monkeypatch.setattr(redaction, "redact", dying)
    with pytest.raises(Crash):
        await ada.send_event(erase)
    assert await _everything(onramp) == before  # …nothing of it was kept
    monkeypatch.setattr(redaction, "redact", redact)

    await ada.send_event(erase)  # the platform hands the command over again
    ada.expect("everything I kept about you is erased")
    await ada.send_event(erase)  # and once more: a duplicate, nothing happens
    ada.expect_nothing()
    rows = await _everything(onramp)
    assert [found for t, r in rows for found in _names_her(t, r, her)] == []
    forgotten = [r for t, r in rows if t == "audit_log" and r["action"] == "member.forgotten"]
    assert len(forgotten) == 1
