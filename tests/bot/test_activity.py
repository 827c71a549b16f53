"""Member activity: a member's own events mark the UTC day they were active, once a day; the
bot's first message sent to them is remembered (for the community-health metrics)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from adapters.memory import Chat
from bot.runtime import Onramp
from storage import activity
from storage.members import create_member
from storage.models import Member, MemberActivity
from storage.session import Database
from tests.clock import START, FakeClock


async def _days(onramp: Onramp) -> list[tuple[date, str]]:
    async with onramp.db.reading() as session:
        rows = (await session.execute(select(MemberActivity))).scalars().all()
    return sorted((row.day, row.platform) for row in rows)


async def _member(onramp: Onramp) -> Member:
    async with onramp.db.reading() as session:
        return (await session.execute(select(Member))).scalars().one()


async def test_one_row_a_day_however_many_events(
    chat: Chat, onramp: Onramp, clock: FakeClock
) -> None:
    await chat.join()
    assert await _days(onramp) == []  # joining is not something they did
    clock.advance(minutes=5)
    await chat.say("English")
    clock.advance(hours=2)
    await chat.say("1")
    assert await _days(onramp) == [(START.date(), "memory")]
    clock.advance(days=1)
    await chat.say("Nairobi")
    clock.advance(minutes=3)
    await chat.say("/help")
    assert await _days(onramp) == [(date(2026, 3, 2), "memory"), (date(2026, 3, 3), "memory")]
    assert (await _member(onramp)).last_active_at == clock.now


async def test_the_first_message_sent_is_when_they_were_first_reached(
    chat: Chat, onramp: Onramp, clock: FakeClock
) -> None:
    await chat.join()
    chat.expect("Which language")
    assert (await _member(onramp)).first_reached_at == START
    clock.advance(hours=1)
    await chat.say("English")
    assert (await _member(onramp)).first_reached_at == START  # the first stays the first


async def test_the_storage_functions_on_every_database(db: Database) -> None:
    """What the dispatcher and the sender call, on SQLite and PostgreSQL alike."""
    async with db.transaction() as session:
        _, ada = await create_member(session, platform="slack", workspace="", external_id="ada")
        _, bob = await create_member(session, platform="slack", workspace="", external_id="bob")
        assert ada.id is not None and bob.id is not None
        dialect = db.engine.dialect.name
        for day, platform in ((START.date(), "slack"), (START.date(), "telegram")):
            await activity.record(session, dialect, ada.id, day, platform)
        await activity.first_reached(session, [ada.id, ada.id], START)
        await activity.first_reached(session, [ada.id, bob.id], START + timedelta(hours=1))
    async with db.reading() as session:
        days = (await session.execute(select(MemberActivity))).scalars().all()
        reached = {
            m.id: m.first_reached_at for m in (await session.execute(select(Member))).scalars()
        }
    assert [(row.member_id, row.day, row.platform) for row in days] == [
        (ada.id, START.date(), "slack")  # the day's first platform stays
    ]
    assert reached == {ada.id: START, bob.id: START + timedelta(hours=1)}
