"""Slack display names: a member whose profile could not be read on first contact gets their
name on a later event (users.info asked again, but not on every event), and a rename in Slack
(`user_change`) reaches the members table. Through the real adapter, web server and database,
against the Slack emulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import select
from sqlmodel import col

import adapters.slack.events
from bot.settings import Settings
from storage.models import Identity, Member, ProcessedEvent
from tests.adapters.test_slack import (
    ADA,
    BEA,
    CAL,
    SECRET,
    Bot,
    Users,
    configure,
    people,
    running,
)
from tests.fakes.server import Fault
from tests.fakes.slack import SlackEmulator, event_callback, im_message, slash_command, user_change

# Long enough that the second /help, straight after the first, comes before it on a loaded
# machine; the wait counts from the failed call.
RETRY_SECONDS = 1.0


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator(channel_limit=None) as emulator:
        yield emulator


@pytest.fixture
def users(slack: SlackEmulator) -> Users:
    return people(slack)


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setattr(adapters.slack.events, "PROFILE_RETRY_SECONDS", RETRY_SECONDS)


@pytest.fixture
async def bot(settings: Settings, slack: SlackEmulator, users: Users) -> AsyncIterator[Bot]:
    async with running(configure(settings, slack), slack) as started:
        yield started


async def names(bot: Bot) -> dict[str, str]:
    """Each member's display name, by the Slack user id of their identity."""
    async with bot.onramp.db.reading() as session:
        query = select(col(Identity.external_id), col(Member.display_name)).join(
            Member, col(Member.id) == col(Identity.member_id)
        )
        found = {external_id: name for external_id, name in (await session.execute(query)).all()}
    return found


async def help_from(bot: Bot, user: str) -> None:
    before = len(bot.slack.messages_to(user))
    command = slash_command("", user_id=user, channel_id="C0GENERAL1", command="/help")
    assert (await bot.post(command)).status_code == 200
    await bot.messages(user, before + 1)


async def test_a_name_unread_on_first_contact_is_read_on_a_later_event_not_on_every_one(
    bot: Bot, slack: SlackEmulator
) -> None:
    slack.faults.add(Fault(status=503, path="users.info"))
    await help_from(bot, CAL)  # users.info fails: Cal is a member without a name
    assert (await names(bot))[CAL] == ""
    await help_from(bot, CAL)  # too soon to ask Slack again
    assert len(slack.calls("users.info")) == 1
    assert (await names(bot))[CAL] == ""

    await asyncio.sleep(RETRY_SECONDS + 0.05)
    await help_from(bot, CAL)

    assert len(slack.calls("users.info")) == 2
    assert (await names(bot))[CAL] == "Cal"
    await help_from(bot, ADA)
    kudos = slash_command(
        f"<@{ADA}|ada> for reviewing my first pull request", user_id=CAL, channel_id="C0GENERAL1"
    )
    kudos.payload["command"] = "/kudos"
    assert (await bot.post(kudos)).status_code == 200
    told = (await bot.messages(ADA, 2))[1]["text"]
    assert "Cal thanked you for reviewing my first pull request" in told


async def test_a_broken_users_info_is_asked_with_growing_pauses(
    bot: Bot, slack: SlackEmulator
) -> None:
    slack.faults.add(Fault(status=503, path="users.info", times=100))
    for _ in range(4):
        await help_from(bot, CAL)
    assert len(slack.calls("users.info")) == 1
    await asyncio.sleep(RETRY_SECONDS + 0.05)
    for _ in range(3):  # asked once more, fails: the next pause is twice as long
        await help_from(bot, CAL)
    assert len(slack.calls("users.info")) == 2
    await asyncio.sleep(RETRY_SECONDS + 0.05)
    await help_from(bot, CAL)
    assert len(slack.calls("users.info")) == 2
    assert (await names(bot))[CAL] == ""


async def test_a_rename_in_slack_reaches_the_member(
    bot: Bot, slack: SlackEmulator, users: Users
) -> None:
    await help_from(bot, BEA)
    assert (await names(bot))[BEA] == "Bea Bianchi"

    renamed = slack.rename_user(BEA, display_name="Bea")
    assert (await bot.post(event_callback(user_change(renamed)))).status_code == 200
    assert (await names(bot))[BEA] == "Bea"
    real_name_only = slack.rename_user(BEA, display_name="", real_name="Beatrice Bianchi")
    assert (await bot.post(event_callback(user_change(real_name_only)))).status_code == 200
    assert (await names(bot))[BEA] == "Beatrice Bianchi"

    # Someone the bot never met changes their profile: nobody new becomes a member.
    stranger = slack.add_user("U0DEE00001", display_name="Dee")
    assert (await bot.post(event_callback(user_change(stranger)))).status_code == 200
    assert "U0DEE00001" not in await names(bot)
    # A change that keeps the name (a status, a photo) is not even stored.
    before = await bot.rows(ProcessedEvent)
    again = {**real_name_only, "profile": {**real_name_only["profile"], "status_text": "away"}}
    assert (await bot.post(event_callback(user_change(again)))).status_code == 200
    assert await bot.rows(ProcessedEvent) == before
    assert slack.messages_to(BEA)[-1] == (await bot.messages(BEA, 1))[-1]  # nothing said
    assert len(slack.messages_to(BEA)) == 1
    await bot.post(event_callback(im_message(BEA, "/help")))
    assert len(await bot.messages(BEA, 2)) == 2
