"""What each Telegram update means to the core. The adapter alone, polling the emulator, hands
its events to an inbox that records them."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from adapters.telegram.adapter import TelegramAdapter
from bot.adapter import Receipt
from bot.events import ChoiceMade, CommandInvoked, Event, MemberJoined, MessageReceived
from bot.messages import Choice, OutgoingMessage
from bot.settings import Settings
from tests.adapters.test_telegram import (
    ADA,
    GRACE,
    GROUP,
    for_telegram,
    unlimited_emulator,
    until,
)
from tests.fakes.telegram import TelegramEmulator

JSON = dict[str, Any]
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


class Recorder:
    """An inbox that keeps every event, and knows a key it has seen (as the core would)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> Receipt:
        duplicate = any(seen.dedupe_key == event.dedupe_key for seen in self.events)
        self.events.append(event)
        return Receipt(duplicate=duplicate)


@dataclasses.dataclass
class Polled:
    adapter: TelegramAdapter
    inbox: Recorder
    emulator: TelegramEmulator

    async def feed(self, update: JSON) -> list[Event]:
        """Queue `update`; return the events it became (when getUpdates has confirmed it), with
        one `received_at` for easy comparison."""
        before = len(self.inbox.events)
        queued = self.emulator.queue_update(update)
        assert queued is not None, "allowed_updates exclude this update"

        def confirmed() -> bool:
            offsets = [c.get("offset") or 0 for c in self.emulator.calls("getUpdates")]
            return max(offsets) > queued["update_id"]

        await until(confirmed, "the update's confirmation")
        return [dataclasses.replace(e, received_at=WHEN) for e in self.inbox.events[before:]]


@pytest.fixture
def emulator() -> Iterator[TelegramEmulator]:
    with unlimited_emulator() as emulator:
        yield emulator


@pytest.fixture
async def polled(
    settings: Settings, emulator: TelegramEmulator, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Polled]:
    adapter = TelegramAdapter(for_telegram(settings, emulator, monkeypatch, mode="polling"))
    inbox = Recorder()
    await adapter.start(inbox)
    polling = asyncio.create_task(adapter.lead())
    try:
        await until(lambda: emulator.long_polling, "the first long poll")
        yield Polled(adapter, inbox, emulator)
    finally:
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        await adapter.stop()


def _common(user: int, key: str, conversation: int, **more: Any) -> dict[str, Any]:
    return {
        "platform": "telegram",
        "dedupe_key": key,
        "actor": str(user),
        "conversation": str(conversation),
        "received_at": WHEN,
        **more,
    }


async def test_private_text_is_a_message_and_slash_commands_are_commands(polled: Polled) -> None:
    emulator = polled.emulator
    ada = emulator.user(ADA, "Ada", last_name="Lovelace", language_code="pt-br")
    person = {"display_name": "Ada Lovelace", "locale_hint": "pt-br"}

    assert await polled.feed(emulator.start_message(ada, "campaign-42")) == [
        CommandInvoked(**_common(ADA, "1", ADA, **person), name="start", args="campaign-42")
    ]
    assert await polled.feed(emulator.message(ada, "hello there")) == [
        MessageReceived(**_common(ADA, "2", ADA, **person), text="hello there")
    ]
    [language] = await polled.feed(emulator.message(ada, "/language fr"))
    assert isinstance(language, CommandInvoked) and (language.name, language.args) == (
        "language",
        "fr",
    )
    [addressed] = await polled.feed(emulator.message(ada, "/Start@onramp_test_bot  x"))
    assert isinstance(addressed, CommandInvoked) and (addressed.name, addressed.args) == (
        "start",
        "x",
    )
    assert all(event.private for event in polled.inbox.events)


async def test_a_text_mention_is_a_member_link_and_the_author_s_username_comes_along(
    polled: Polled,
) -> None:
    emulator = polled.emulator
    ada = emulator.user(ADA, "Ada", username="ada_l")
    grace = emulator.user(GRACE, "Grace", last_name="Hopper", language_code=None)
    bea = {"id": 7_003, "is_bot": False, "first_name": "Beatrice"}  # no username either
    # Offsets and lengths count UTF-16 code units: 🎉 is two, 👩‍💻 five (👩, a joiner, 💻).
    text = "/kudos 🎉 Grace Hopper and 👩‍💻 Bea for reviews, cc @ada_l #docs"
    update = emulator.message(ada, text)
    update["message"]["entities"] += [
        {"type": "bold", "offset": 10, "length": 12},
        {"type": "text_mention", "offset": 10, "length": 12, "user": grace},
        {"type": "text_mention", "offset": 33, "length": 3, "user": bea},
        {"type": "mention", "offset": 53, "length": 6},
        {"type": "hashtag", "offset": 60, "length": 5},
    ]

    [kudos] = await polled.feed(update)
    assert kudos == CommandInvoked(
        **_common(ADA, "1", ADA, display_name="Ada", locale_hint="en", username="ada_l"),
        name="kudos",
        args=(
            f"🎉 [Grace Hopper](member:{GRACE}) and 👩‍💻 [Bea](member:7003) for reviews,"
            " cc @ada_l #docs"
        ),
    )

    thanks = emulator.message(grace, "thanks 🙏 Ada!")
    thanks["message"]["entities"] = [
        {"type": "text_mention", "offset": 10, "length": 3, "user": emulator.user(ADA, "Ada")}
    ]
    [said] = await polled.feed(thanks)
    assert isinstance(said, MessageReceived) and said.username is None  # Grace has none
    assert said.text == f"thanks 🙏 [Ada](member:{ADA})!"

    [joined] = await polled.feed(emulator.chat_member_joined(GROUP, ada))
    assert isinstance(joined, MemberJoined) and joined.username == "ada_l"


async def test_in_a_group_only_joins_and_commands_for_this_bot_count(polled: Polled) -> None:
    emulator = polled.emulator
    ada, grace = emulator.user(ADA, "Ada"), emulator.user(GRACE, "Grace", language_code=None)
    helper_bot = {"id": 42, "is_bot": True, "first_name": "Helper", "username": "helper_bot"}

    for text in ("hello everyone", "/help@helper_bot", "hello /help"):
        assert await polled.feed(emulator.message(ada, text, chat_id=GROUP)) == []
    for text in ("/help", "/help@OnRamp_Test_Bot"):
        [command] = await polled.feed(emulator.message(ada, text, chat_id=GROUP))
        assert isinstance(command, CommandInvoked) and command.name == "help"
        assert (command.conversation, command.private) == (str(GROUP), False)

    join = emulator.group_join(GROUP, ada, added_by=grace)
    join["message"]["new_chat_members"] = [ada, helper_bot, grace]
    joined = {"private": False, "can_dm": False, "source": "group_1001234567890"}
    assert await polled.feed(join) == [
        MemberJoined(**_common(ADA, f"join:{GROUP}:{ADA}", GROUP, **joined), display_name="Ada",
                     locale_hint="en"),
        MemberJoined(**_common(GRACE, f"join:{GROUP}:{GRACE}", GROUP, **joined),
                     display_name="Grace"),
    ]  # fmt: skip
    assert await polled.feed(emulator.group_join(GROUP, helper_bot)) == []


async def test_a_chat_member_update_is_a_join_only_from_outside_to_inside(polled: Polled) -> None:
    emulator = polled.emulator
    ada = emulator.user(ADA, "Ada")

    [joined] = await polled.feed(emulator.chat_member_joined(GROUP, ada))
    assert isinstance(joined, MemberJoined)
    assert (joined.dedupe_key, joined.conversation, joined.can_dm) == (
        f"join:{GROUP}:{ADA}",
        str(GROUP),
        False,
    )  # the key a new_chat_members message of the same join has: welcomed once

    def change(old: JSON, new: JSON) -> JSON:
        update = emulator.chat_member_joined(GROUP, ada)
        update["chat_member"] |= {"old_chat_member": old, "new_chat_member": new}
        return update

    member, left = {"user": ada, "status": "member"}, {"user": ada, "status": "left"}
    banned = {"user": ada, "status": "kicked", "until_date": 0}
    assert await polled.feed(change(member, left)) == []  # leaving
    assert await polled.feed(change(member, banned)) == []  # being banned
    [rejoined] = await polled.feed(change(banned, member))  # let back in
    assert isinstance(rejoined, MemberJoined)
    bot_added = emulator.chat_member_joined(GROUP, {"id": 42, "is_bot": True, "first_name": "B"})
    assert await polled.feed(bot_added) == []
    mine = {"my_chat_member": emulator.chat_member_joined(GROUP, ada)["chat_member"]}
    assert await polled.feed(mine) == []


async def _question(polled: Polled, *, multiple: bool = False) -> JSON:
    """Ask Ada a question with buttons; return the message as Telegram holds it."""
    choices = (Choice("code", "💻 Code"), Choice("docs", "📝 Docs"), Choice("design", "🎨 Design"))
    await polled.adapter.send(
        OutgoingMessage(
            platform="telegram",
            recipient=str(ADA),
            text="What would you like to help with?",
            choices=choices,
            multiple=multiple,
            step_id="interests",
            submit_label="Valider ✔️" if multiple else None,
        )
    )
    return polled.emulator.messages_to(ADA)[-1]


async def test_a_button_is_a_choice_answered_and_replaced_by_the_answer(polled: Polled) -> None:
    emulator = polled.emulator
    ada = emulator.user(ADA, "Ada")
    await polled.feed(emulator.start_message(ada))
    question = await _question(polled)

    [choice] = await polled.feed(emulator.callback_query(ada, question, "c:interests:docs"))
    assert choice == ChoiceMade(
        **_common(ADA, "2", ADA, display_name="Ada", locale_hint="en"),
        step_id="interests",
        choice_ids=("docs",),
    )
    await until(lambda: "reply_markup" not in emulator.messages_to(ADA)[-1], "the edit")
    assert emulator.messages_to(ADA)[-1]["text"] == (
        "What would you like to help with?\n\n✔️ <b>📝 Docs</b>"
    )
    assert len(emulator.calls("answerCallbackQuery")) == 1


async def test_multiple_choice_toggles_in_place_until_done(polled: Polled) -> None:
    emulator = polled.emulator
    ada = emulator.user(ADA, "Ada")
    await polled.feed(emulator.start_message(ada))
    question = await _question(polled, multiple=True)

    def keyboard() -> list[tuple[str, str]]:
        rows = emulator.messages_to(ADA)[-1].get("reply_markup", {}).get("inline_keyboard", [])
        return [(row[0]["text"], row[0]["callback_data"]) for row in rows]

    assert keyboard() == [
        ("💻 Code", "+:interests:code"),
        ("📝 Docs", "+:interests:docs"),
        ("🎨 Design", "+:interests:design"),
        ("Valider ✔️", "=:interests"),
    ]

    async def toggle(data: str) -> list[Event]:
        events = await polled.feed(
            emulator.callback_query(ada, emulator.messages_to(ADA)[-1], data)
        )
        await until(lambda: data not in [d for _, d in keyboard()], "the keyboard's edit")
        return events

    assert await toggle("+:interests:design") == []  # nothing to commit: the keyboard holds it
    assert await toggle("+:interests:code") == []
    assert keyboard()[:3] == [
        ("✅ 💻 Code", "-:interests:code"),
        ("📝 Docs", "+:interests:docs"),
        ("✅ 🎨 Design", "-:interests:design"),
    ]
    stale = emulator.callback_query(ada, question, "+:interests:design")  # a repeated tap
    assert await polled.feed(stale) == []
    await until(lambda: len(emulator.calls("answerCallbackQuery")) == 3, "the answer")
    assert keyboard()[2] == ("✅ 🎨 Design", "-:interests:design")  # still selected

    done = emulator.callback_query(ada, emulator.messages_to(ADA)[-1], "=:interests")
    [choice] = await polled.feed(done)
    assert isinstance(choice, ChoiceMade) and choice.choice_ids == ("code", "design")
    await until(lambda: keyboard() == [], "the edit")
    assert emulator.messages_to(ADA)[-1]["text"].endswith("✔️ <b>💻 Code, 🎨 Design</b>")


async def test_done_with_nothing_selected_is_an_empty_choice(polled: Polled) -> None:
    emulator = polled.emulator
    ada = emulator.user(ADA, "Ada")
    await polled.feed(emulator.start_message(ada))
    question = await _question(polled, multiple=True)

    [choice] = await polled.feed(emulator.callback_query(ada, question, "=:interests"))
    assert isinstance(choice, ChoiceMade) and choice.choice_ids == ()  # the core asks again
    await until(lambda: "reply_markup" not in emulator.messages_to(ADA)[-1], "the edit")
    assert emulator.messages_to(ADA)[-1]["text"] == question["text"]  # no answer to show


async def test_a_button_that_is_not_ours_is_answered_and_ignored(polled: Polled) -> None:
    emulator = polled.emulator
    ada = emulator.user(ADA, "Ada")
    await polled.feed(emulator.start_message(ada))
    foreign = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="v1|x")]])
    await polled.adapter.bot.send_message(ADA, "Old", reply_markup=foreign)  # another version's
    old = emulator.messages_to(ADA)[-1]
    assert await polled.feed(emulator.callback_query(ada, old, "v1|x")) == []
    await until(lambda: len(emulator.calls("answerCallbackQuery")) == 1, "the answer")


async def test_polling_outlasts_a_failing_telegram_and_loses_nothing(polled: Polled) -> None:
    emulator = polled.emulator
    ada = emulator.user(ADA, "Ada")
    emulator.fail("getUpdates", 502)  # the poll after the next update: it is not yet confirmed
    [one] = await polled.feed(emulator.message(ada, "one"))
    [two] = await polled.feed(emulator.message(ada, "two"))
    assert [getattr(e, "text", None) for e in (one, two)] == ["one", "two"]
    assert len(polled.inbox.events) == 2  # "one" was not handed over again
    confirming_one = [
        c for c in emulator.calls("getUpdates") if c.get("offset") == int(one.dedupe_key) + 1
    ]
    assert len(confirming_one) >= 2  # refused with the 502, then again
