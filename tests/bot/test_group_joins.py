"""Joins the bot hears about in a group, and `/start SOURCE` from a deep link.

On Telegram a bot may not write to someone who has never started it: a join in the community
group gets a welcome in the group with a button that opens a private chat, and onboarding
begins there with `/start SOURCE`.
"""

from __future__ import annotations

from sqlalchemy import select

from adapters.memory import Chat, MemoryAdapter
from bot.events import CommandInvoked, MemberJoined, MessageReceived
from bot.messages import Invite
from bot.runtime import Onramp
from storage.models import FlowRun, Identity, Member

GROUP = "-1001234567890"


def _group_join(chat: Chat, source: str | None = "group_1234567890") -> MemberJoined:
    return MemberJoined(
        platform=chat.platform,
        dedupe_key=f"{chat.user}:join",
        actor=chat.user,
        conversation=GROUP,
        private=False,
        can_dm=False,
        display_name=chat.display_name,
        source=source,
    )


def _in_group(memory: MemoryAdapter) -> list:
    return [m for m in memory.sent if m.recipient == GROUP]


async def test_a_join_in_a_group_is_welcomed_there_with_a_button_to_a_private_chat(
    chat: Chat, memory: MemoryAdapter, onramp: Onramp
) -> None:
    await chat.send_event(_group_join(chat))
    [welcome] = _in_group(memory)
    assert "Welcome to Open Health Commons, Ada!" in welcome.text
    assert welcome.invite == Invite("Get started", "group_1234567890")
    chat.expect_nothing()  # nothing privately: the bot may not write first
    async with onramp.db.reading() as session:
        identity = (await session.execute(select(Identity))).scalars().one()
        runs = (await session.execute(select(FlowRun))).scalars().all()
    assert identity.dm_conversation is None  # the group is nobody's private chat
    assert runs == []


async def test_start_from_the_button_begins_onboarding_and_keeps_the_first_source(
    chat: Chat, memory: MemoryAdapter, onramp: Onramp
) -> None:
    await chat.send_event(_group_join(chat))
    await chat.say("/start group_1234567890")
    chat.expect("Which language")
    await chat.say("English")
    chat.expect("Welcome")
    chat.expect("keep your answers")
    await chat.say("/start conference2026")  # a later link does not rewrite where they came from
    async with onramp.db.reading() as session:
        member = (await session.execute(select(Member))).scalars().one()
        identity = (await session.execute(select(Identity))).scalars().one()
    assert member.source == "group_1234567890"
    assert identity.dm_conversation == chat.user
    assert len(_in_group(memory)) == 1


async def test_start_with_a_payload_records_the_source_of_a_new_member(
    chat: Chat, onramp: Onramp
) -> None:
    await chat.say("/start conference2026")
    chat.expect("Which language")  # the onboarding's first question
    async with onramp.db.reading() as session:
        member = (await session.execute(select(Member))).scalars().one()
    assert member.source == "conference2026"


async def test_a_member_already_in_a_private_chat_is_onboarded_there_not_in_the_group(
    chat: Chat, memory: MemoryAdapter
) -> None:
    await chat.say("hello")  # they wrote to the bot first: it may write back
    chat.expect("Which language")
    await chat.say("English")
    chat.expect("Welcome")
    chat.expect("keep your answers")
    await chat.send_event(_group_join(chat))
    assert _in_group(memory) == []
    chat.expect("Welcome back")


async def test_a_message_in_a_group_never_becomes_the_members_private_chat(
    chat: Chat, memory: MemoryAdapter, onramp: Onramp
) -> None:
    event = MessageReceived(
        platform=chat.platform,
        dedupe_key="g1",
        actor=chat.user,
        conversation=GROUP,
        private=False,
        text="hi all",
    )
    await chat.send_event(event)
    await chat.send_event(
        CommandInvoked(
            platform=chat.platform,
            dedupe_key="g2",
            actor=chat.user,
            conversation=chat.user,
            name="help",
        )
    )
    async with onramp.db.reading() as session:
        identity = (await session.execute(select(Identity))).scalars().one()
    assert identity.dm_conversation == chat.user
    assert _in_group(memory) == []
