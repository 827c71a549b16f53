"""Telegram end to end: the real python-telegram-bot against the Bot API emulator, updates
delivered to the real web server as Telegram's webhook does, a real SQLite database.

Telegram would only POST to an https URL on port 443, 80, 88 or 8443, so the bot registers
one (`WEBHOOK_URL`) and the tests deliver each update to the local server themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from adapters.telegram.adapter import TelegramAdapter
from bot import metrics
from bot.commands import command_menu
from bot.settings import Settings, TelegramSettings, WebSettings
from flows.text import render
from storage.models import Kudos, Member, Outbox, ProcessedEvent
from tests.clock import FakeClock
from tests.fakes.telegram import TelegramEmulator
from tests.onboarding import COMPLETED_ANSWERS_LANGUAGE_KNOWN, completed_onboarding
from tests.six_languages import content_in_six_languages, skip_until_translated
from tests.support import serving as harness
from tests.support.waiting import until

JSON = dict[str, Any]
SECRET = "s3cret-webhook_token"
WEBHOOK_URL = "https://onramp.example.org/telegram/webhook"
ADA, GRACE = 7_001, 7_002
GROUP = -1_001_234_567_890
BOT_LINK = "https://t.me/onramp_test_bot?start="
UNLIMITED = {"per_chat_per_second": 1000, "per_group_per_minute": 1000, "overall_per_second": 1000}


def unlimited_emulator() -> TelegramEmulator:
    """Limits off: the tests that use it are not about them (the 429 storm sets its own)."""
    return TelegramEmulator(
        chat_limit=None, group_limit=None, overall_limit=None, unstarted_users={ADA, GRACE}
    )


def for_telegram(
    settings: Settings,
    emulator: TelegramEmulator,
    monkeypatch: pytest.MonkeyPatch,
    mode: Literal["webhook", "polling"] = "webhook",
) -> Settings:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", emulator.token)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", SECRET)
    settings.web = WebSettings(host="127.0.0.1", port=0, max_body_bytes=64 * 1024)
    settings.telegram = TelegramSettings(
        mode=mode,
        api_url=emulator.base_url,
        webhook_url=WEBHOOK_URL if mode == "webhook" else None,
        **UNLIMITED,  # no pacing either: a second a message to a chat would make tests slow
    )
    settings.sender.sweep_seconds = 0.05  # retries after a 429 go out as soon as allowed
    return settings


@pytest.fixture
def emulator() -> Iterator[TelegramEmulator]:
    with unlimited_emulator() as emulator:
        yield emulator


@pytest.fixture
def telegram_settings(
    settings: Settings, emulator: TelegramEmulator, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    return for_telegram(settings, emulator, monkeypatch)


class Served(harness.Served[TelegramAdapter, TelegramEmulator]):
    """A running Onramp serving Telegram (tests/support/serving.py), and Telegram's wire."""

    @property
    def webhook(self) -> str:
        return self.url("/telegram/webhook")

    async def deliver(self, update: JSON, secret: str | None = SECRET) -> int:
        """Telegram hands the bot `update`; returns the webhook's status.

        Webhook: POSTed from a thread, as the server answers on this loop. Polling: queued,
        and 200 once the bot has confirmed it (with the offset of its next getUpdates).
        """
        if self.adapter.settings.mode == "polling":
            queued = self.emulator.queue_update(update)
            assert queued is not None, "allowed_updates exclude this update"
            await until(lambda: self.confirmed(queued["update_id"]), "the update's confirmation")
            return 200
        response = await asyncio.to_thread(
            self.emulator.deliver_webhook, self.webhook, update, secret
        )
        assert response is not None, "allowed_updates exclude this update"
        return response.status_code

    def confirmed(self, update_id: int) -> bool:
        offsets = [call.get("offset") or 0 for call in self.emulator.calls("getUpdates")]
        return any(offset > update_id for offset in offsets)

    async def post(self, body: bytes, content_type: str | None) -> httpx.Response:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        if content_type is not None:
            headers["Content-Type"] = content_type
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(self.webhook, content=body, headers=headers)


def serving(
    settings: Settings, emulator: TelegramEmulator, clock: FakeClock | None = None
) -> contextlib.AbstractAsyncContextManager[Served]:
    """Onramp serving Telegram against `emulator` (in real time unless given a `clock`)."""
    adapters = {"telegram": TelegramAdapter(settings)}
    return harness.serving(settings, emulator, adapters, served=Served, clock=clock)


@pytest.fixture
async def served(telegram_settings: Settings, emulator: TelegramEmulator) -> AsyncIterator[Served]:
    async with serving(telegram_settings, emulator) as running:
        yield running


@dataclass
class Person:
    """Someone using Telegram: writes to the bot, taps its buttons."""

    served: Served
    user: JSON

    @property
    def id(self) -> int:
        return int(self.user["id"])

    def inbox(self) -> list[JSON]:
        return self.served.emulator.messages_to(self.id)

    async def say(self, text: str) -> None:
        emulator = self.served.emulator
        if text.startswith("/start"):  # as the app sends it: it marks the user as started
            message = emulator.start_message(self.user, text.removeprefix("/start").strip() or None)
        else:
            message = emulator.message(self.user, text)
        assert await self.served.deliver(message) == 200
        await self.served.outbox_idle()

    async def tap(self, data: str) -> None:
        """Tap the button with `data` on the newest message that has it; return once the bot
        has answered the tap and edited the message (both follow every tap)."""
        emulator = self.served.emulator
        message = next(m for m in reversed(self.inbox()) if _has_button(m, data))
        answers, edits = _followups(emulator)
        update = emulator.callback_query(self.user, message, data)
        assert await self.served.deliver(update) == 200

        def answered_and_edited() -> bool:
            now_answers, now_edits = _followups(emulator)
            return now_answers > answers and now_edits > edits

        await until(answered_and_edited, "the tap's answer and edit")
        await self.served.outbox_idle()


def _followups(emulator: TelegramEmulator) -> tuple[int, int]:
    """Answered callback queries, and edited messages."""
    edits = emulator.calls("editMessageText") + emulator.calls("editMessageReplyMarkup")
    return len(emulator.calls("answerCallbackQuery")), len(edits)


def _has_button(message: JSON, data: str) -> bool:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return any(button.get("callback_data") == data for row in rows for button in row)


def _keyboard(message: JSON) -> list[tuple[str, str]]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [(b["text"], b.get("callback_data") or b.get("url")) for row in rows for b in row]


async def test_a_newcomer_joins_the_group_then_onboards_in_private(served: Served) -> None:
    emulator = served.emulator
    ada = Person(served, emulator.user(ADA, "Ada", last_name="Lovelace", language_code="en"))

    # Telegram reports the join twice: a service message and a chat_member update.
    assert await served.deliver(emulator.group_join(GROUP, ada.user)) == 200
    assert await served.deliver(emulator.chat_member_joined(GROUP, ada.user)) == 200
    await served.outbox_idle()
    [welcome] = emulator.messages_to(GROUP)
    assert "Welcome to Open Health Commons, Ada Lovelace! 👋" in welcome["text"]
    assert _keyboard(welcome) == [("Get started", f"{BOT_LINK}group_1001234567890")]
    assert [c for c in emulator.calls("sendMessage") if c["chat_id"] == ADA] == []  # nor tried

    await ada.say("/start group_1001234567890")  # the button's deep link
    hello, consent = ada.inbox()  # her app's language is English: not asked, told how to change
    assert "Hello Ada Lovelace, and welcome to <b>Open Health Commons</b>!" in hello["text"]
    assert "change my language with /language" in hello["text"]
    assert "quick question about your data" in consent["text"]
    assert _keyboard(consent) == [
        ("Yes, that's fine", "c:consent:yes"),
        ("No, thank you", "c:consent:no"),
    ]

    await ada.tap("c:consent:yes")
    consent = ada.inbox()[1]
    assert "reply_markup" not in consent  # the keyboard gave way to the answer
    assert consent["text"].endswith("Is that okay?\n\n✔️ <b>Yes, that's fine</b>")
    await ada.say("Lima")  # typed: a time zone has no buttons

    interests = ada.inbox()[-1]
    assert "What would you like to help with?" in interests["text"]
    assert _keyboard(interests)[:2] == [
        ("💻 Code", "+:interests:code"),
        ("📝 Documentation", "+:interests:docs"),
    ]
    assert _keyboard(interests)[-1] == ("Done ✔️", "=:interests")  # system.yaml submit_choices
    await ada.tap("+:interests:code")
    await ada.tap("+:interests:translation")
    await ada.tap("-:interests:code")  # changed her mind
    await ada.tap("+:interests:docs")
    toggled = ada.inbox()[-1]
    assert toggled["message_id"] == interests["message_id"]  # edited in place, nothing sent
    assert [label for label, _ in _keyboard(toggled)][:4] == [
        "💻 Code",
        "✅ 📝 Documentation",
        "🎨 Design",
        "✅ 🌍 Translation",
    ]
    await ada.tap("=:interests")
    assert ada.inbox()[3]["text"].endswith("✔️ <b>📝 Documentation, 🌍 Translation</b>")

    assert "occasional announcements" in ada.inbox()[-1]["text"]
    assert _keyboard(ada.inbox()[-1]) == [
        ("Yes, please", "c:announcements:yes"),
        ("No, thanks", "c:announcements:no"),
    ]
    await ada.tap("c:announcements:yes")
    await ada.say("2")  # typed, though there are buttons: "A few times"
    await ada.tap("c:start_here:done")
    await ada.tap("c:mentor:no")

    texts = [call["text"] for call in emulator.calls("sendMessage") if call["chat_id"] == ADA]
    expected = [
        "Hello Ada Lovelace, and welcome",
        "quick question about your data",
        "Which time zone are you in?",
        "What would you like to help with?",
        "Thank you, 2 areas!",
        "occasional announcements",
        "How much have you contributed",
        "Where would you like to start?",
        "would you like a mentor?",
        "You're all set, Ada Lovelace! 🎉",
        "You've earned a badge: 🎒 On board!",
    ]
    assert len(texts) == len(expected)
    for text, fragment in zip(texts, expected, strict=True):
        assert fragment in text
    assert len(emulator.calls("answerCallbackQuery")) == 9  # every tap, toggles included
    delivered = [m["message_id"] for m in ada.inbox()]
    assert len(delivered) == len(texts) and delivered == sorted(delivered)  # once each, in order
    keyboards = ["reply_markup" in message for message in ada.inbox()]
    assert keyboards == [False] * 6 + [True] + [False] * 4  # the question she typed to keeps its

    member, answers = await completed_onboarding(served.onramp.db)
    assert (member.source, member.locale, member.timezone) == (
        "group_1001234567890",
        "en",
        "America/Lima",
    )
    assert answers == COMPLETED_ANSWERS_LANGUAGE_KNOWN
    assert emulator.messages_to(GROUP) == [welcome]  # still the one welcome


@pytest.mark.parametrize(("language_code", "locale"), [("es", "es"), ("pt-br", "pt")])
async def test_a_newcomer_is_welcomed_in_her_app_s_language_and_never_asked_it(
    telegram_settings: Settings,
    emulator: TelegramEmulator,
    tmp_path: Path,
    language_code: str,
    locale: str,
) -> None:
    skip_until_translated(locale)
    telegram_settings.content.path = content_in_six_languages(tmp_path)
    async with serving(telegram_settings, emulator) as served:
        content = served.onramp.content
        steps = {step.id: step for step in content.onboarding.steps}

        def words(text: Any) -> str:  # a line of the content's own text, as Telegram shows it
            return html.escape(render(text, locale, "en", {}), quote=False)

        ada = Person(served, emulator.user(ADA, "Ada", language_code=language_code))
        await ada.say("/start")
        hello, consent = ada.inbox()  # no language question
        welcome = steps["welcome"].say[locale].strip().splitlines()  # type: ignore[union-attr]
        assert "Ada" in hello["text"] and html.escape(welcome[-1], quote=False) in hello["text"]
        assert "/language" in welcome[-1]  # it says how to change the language
        question = steps["consent"].ask[locale].strip().splitlines()  # type: ignore[union-attr]
        assert html.escape(question[-1], quote=False) in consent["text"]
        yes, no = steps["consent"].choices  # type: ignore[union-attr,misc]
        assert _keyboard(consent) == [
            (words(yes.label), "c:consent:yes"),
            (words(no.label), "c:consent:no"),
        ]
        english = render(yes.label, "en", "en", {})
        assert words(yes.label) != english

        await ada.tap("c:consent:yes")
        zone = steps["timezone"].ask[locale].strip().splitlines()[0]  # type: ignore[union-attr]
        assert html.escape(zone, quote=False) in ada.inbox()[-1]["text"]
        async with served.onramp.db.reading() as session:
            member = (await session.execute(select(Member))).scalar_one()
        assert member.locale == locale


async def test_start_up_registers_the_webhook_and_the_command_menu_per_language(
    served: Served,
) -> None:
    emulator = served.emulator
    assert emulator.webhook == {"url": WEBHOOK_URL, "secret_token": SECRET, "max_connections": 40}
    [registered] = emulator.calls("setWebhook")
    assert set(registered["allowed_updates"]) >= {"message", "callback_query", "chat_member"}

    menu = command_menu(served.onramp.content, served.onramp.registry)
    names = [info.name for info in menu]
    assert names[:2] == ["start", "restart"] and "feedback" in names
    for language in served.onramp.content.community.locales:  # all six
        assert emulator.commands(language) == [
            {"command": info.name, "description": info.descriptions[language]} for info in menu
        ]
    assert emulator.commands() == emulator.commands("en")  # the default: the default locale
    assert len(emulator.calls("setMyCommands")) == 7
    assert served.adapter.ready()
    async with httpx.AsyncClient(timeout=10) as client:
        ready = await client.get(served.webhook.replace("/telegram/webhook", "/readyz"))
    assert ready.status_code == 200


def _rejected(reason: str) -> float:
    labels = {"platform": "telegram", "reason": reason}
    return metrics.REGISTRY.get_sample_value("onramp_events_rejected_total", labels) or 0.0


async def test_a_wrong_or_missing_secret_is_refused_with_403(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="onramp.web")
    before = _rejected("secret")
    ada = served.emulator.user(ADA)
    for secret in (None, "wrong-secret", SECRET + "x", SECRET[:-1], SECRET.upper()):
        assert await served.deliver(served.emulator.start_message(ada), secret=secret) == 403
    assert _rejected("secret") - before == 5
    reasons = [getattr(r, "reason", "") for r in caplog.records if r.msg == "request rejected"]
    assert reasons == ["telegram: wrong or missing secret token"] * 5
    await asyncio.sleep(0.1)  # nothing is on its way either
    for table in (ProcessedEvent, Member, Outbox):
        assert await served.count(table) == 0
    assert served.emulator.calls("sendMessage") == []


async def test_an_update_delivered_twice_has_one_effect(served: Served) -> None:
    emulator = served.emulator
    ada = Person(served, emulator.user(ADA, "Ada"))
    start = {"update_id": 500, **emulator.start_message(ada.user)}
    for _ in range(2):
        assert await served.deliver(start) == 200
    await served.outbox_idle()
    assert len(ada.inbox()) == 2  # hello and the consent question, once

    consent = ada.inbox()[1]
    tap = {"update_id": 501, **emulator.callback_query(ada.user, consent, "c:consent:yes")}
    for _ in range(2):
        assert await served.deliver(tap) == 200
    await served.outbox_idle()
    await until(lambda: len(emulator.calls("answerCallbackQuery")) == 1, "the answer")
    await asyncio.sleep(0.1)  # a second answer or edit would be on its way by now
    assert len(emulator.calls("answerCallbackQuery")) == 1
    assert len(emulator.calls("editMessageText")) == 1
    assert len(ada.inbox()) == 3  # the time zone question, once
    assert await served.count(ProcessedEvent) == 2


async def test_a_429_storm_delays_but_loses_and_duplicates_nothing(
    telegram_settings: Settings,
) -> None:
    # Telegram's limits (a tighter overall one), while the settings let the sender go as fast
    # as it likes: Telegram's 429s alone must hold it back.
    with TelegramEmulator(
        chat_limit=(1, 1.0), group_limit=(2, 2.0), overall_limit=(3, 1.0)
    ) as emulator:
        telegram_settings.telegram.api_url = emulator.base_url
        async with serving(telegram_settings, emulator) as served:
            people = [Person(served, emulator.user(9_000 + n, f"P{n}")) for n in range(3)]
            joiners = [emulator.user(9_100 + n, f"J{n}") for n in range(3)]
            await asyncio.gather(
                *(served.deliver(emulator.start_message(p.user)) for p in people),
                *(served.deliver(emulator.group_join(GROUP, user)) for user in joiners),
            )
            await served.outbox_idle()

            for person in people:
                hello, consent = person.inbox()
                assert "Hello" in hello["text"] and "quick question" in consent["text"]
            welcomed = sorted(
                m["text"].split(", ")[1].split("!")[0] for m in emulator.messages_to(GROUP)
            )
            assert welcomed == ["J0", "J1", "J2"]
            assert len(emulator.calls("sendMessage")) > 9  # 9 messages, some refused at first
            async with served.onramp.db.reading() as session:
                statuses = (await session.execute(select(col(Outbox.status)))).scalars().all()
            assert statuses == ["sent"] * 9


async def test_a_restarted_bot_carries_on_where_the_member_was(
    telegram_settings: Settings, emulator: TelegramEmulator
) -> None:
    async with serving(telegram_settings, emulator) as first:
        ada = Person(first, emulator.user(ADA, "Ada"))
        await ada.say("/start")
        assert "quick question" in ada.inbox()[-1]["text"]

    async with serving(telegram_settings, emulator) as second:
        ada.served = second
        await ada.tap("c:consent:yes")  # on the question the first process sent
        await ada.say("Lima")

    texts = [m["text"] for m in ada.inbox()]
    assert len(texts) == 4  # nothing repeated across the restart
    assert texts[1].endswith("✔️ <b>Yes, that's fine</b>")  # answered by the second process
    assert "Which time zone" in texts[2] and "What would you like to help with" in texts[3]


JSON_ = "application/json"


def _update(**fields: Any) -> bytes:
    """A private text message from Ada, with `fields` of the message replaced."""
    sender = {"id": ADA, "is_bot": False, "first_name": "Ada"}
    message = {
        "message_id": 1,
        "date": 1_700_000_000,
        "chat": {"id": ADA, "type": "private"},
        "from": sender,
        "text": "hi",
        **fields,
    }
    return json.dumps({"update_id": 1, "message": message}).encode()


def _tap(**fields: Any) -> bytes:
    sender = {"id": ADA, "is_bot": False, "first_name": "Ada"}
    query = {"id": "q1", "from": sender, "chat_instance": "1", "data": "c:consent:yes", **fields}
    return json.dumps({"update_id": 1, "callback_query": query}).encode()


MALFORMED = [  # body, content type, status, what the log line says
    (b'{"update_id": 1, "message": {"message_id"', "application/json", 400, "not JSON"),
    (b"", "application/json", 400, "not JSON"),
    (b"\xff\xfe", "application/json", 400, "not JSON"),
    (b'{"update_id": 1}', "text/plain", 415, "content type"),
    (b'{"update_id": 1}', None, 415, "content type"),
    (b"[1, 2]", "application/json", 400, "no update_id"),
    (b'{"message": {}}', "application/json", 400, "no update_id"),
    (b'{"update_id": "7"}', "application/json", 400, "no update_id"),
    (b'{"update_id": 1, "message": "hi"}', "application/json", 400, "wrong shape"),
    (b"{" + b" " * 70_000 + b"}", "application/json", 413, "exceeds web.max_body_bytes"),
    (b'{"update_id": 1, "poll_of_the_future": {}}', "application/json", 200, "does not use"),
    (b'{"update_id": 1, "message": ' + b"[" * 5000 + b"]" * 5000 + b"}", JSON_, 400, "nested"),
    (b'{"update_id": 1, "message": ' + b"[" * 900 + b"]" * 900 + b"}", JSON_, 400, "nested"),
    (_update(text=12345), JSON_, 400, "message.text has the wrong type"),
    (_update(text=["/start"]), JSON_, 400, "message.text has the wrong type"),
    (
        _update(**{"from": {"id": "7001", "is_bot": False, "first_name": "A"}}),
        JSON_,
        400,
        "from.id",
    ),
    (
        _update(entities=[{"type": "text_mention", "offset": "0", "length": 1}]),
        JSON_,
        400,
        "offset",
    ),
    (_update(chat={"id": 7001, "type": 1}), JSON_, 400, "chat.type"),
    (_tap(data=7), JSON_, 400, "callback_query.data has the wrong type"),
]


async def test_malformed_bodies_get_4xx_change_nothing_and_say_why(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    before = {reason: _rejected(reason) for reason in ("malformed", "content_type")}
    for body, content_type, status, reason in MALFORMED:
        caplog.clear()
        response = await served.post(body, content_type)
        assert response.status_code == status, body[:50]
        logged = [
            getattr(r, "reason", "")
            for r in caplog.records
            if r.msg in ("request rejected", "telegram update ignored")
        ]
        assert len(logged) == 1 and reason in logged[0], (body[:50], logged)
        assert not [r for r in caplog.records if r.levelno > logging.WARNING or r.exc_info]
    assert _rejected("malformed") - before["malformed"] == 15
    assert _rejected("content_type") - before["content_type"] == 2
    for table in (ProcessedEvent, Member, Outbox):
        assert await served.count(table) == 0
    assert served.emulator.calls("sendMessage") == []

    ada = served.emulator.user(ADA)  # the server still serves
    assert await served.deliver(served.emulator.start_message(ada)) == 200
    assert await served.count(ProcessedEvent) == 1


async def test_kudos_by_username_with_a_refusal_a_group_and_a_revocation(served: Served) -> None:
    emulator = served.emulator
    ada = Person(served, emulator.user(ADA, "Ada", username="ada_l"))
    bea = Person(served, emulator.user(7_003, "Bea", username="Bea_B", language_code="fr"))
    zoe = Person(served, emulator.user(7_004, "Zoe", username="zoe"))
    grace = Person(served, emulator.user(GRACE, "Grace"))  # never started the bot
    for person in (ada, bea, zoe):
        await person.say("/help")
    async with served.onramp.db.transaction() as session:
        manager = (
            await session.execute(select(Member).where(Member.display_name == "Zoe"))
        ).scalar_one()
        manager.roles = ["manager"]

    await ada.say("/kudos @bea_b for translating the install guide #translation")
    assert "Thank you for recognising Bea (🌍 Translation)!" in ada.inbox()[-2]["text"]
    assert "First thanks" in ada.inbox()[-1]["text"]
    assert "Ada vous remercie : translating the install guide" in bea.inbox()[-1]["text"]

    await ada.say("/kudos @ada_l for being so very patient")
    assert "you can't give yourself one" in ada.inbox()[-1]["text"]

    # In the group, from someone the bot may not write to privately: asked to come over.
    sent = emulator.message(
        grace.user, "/kudos@onramp_test_bot @bea_b for the slides", chat_id=GROUP
    )
    assert await served.deliver(sent) == 200
    await served.outbox_idle()
    [asked] = emulator.messages_to(GROUP)
    assert "Let's do that in a private chat" in asked["text"]
    assert _keyboard(asked) == [("Get started", f"{BOT_LINK}kudos")]

    async with served.onramp.db.reading() as session:
        ids = list((await session.execute(select(Kudos.id))).scalars())
    assert len(ids) == 1  # the refusals recorded nothing
    await ada.say(f"/kudos revoke {ids[0]}")
    assert "Only community managers" in ada.inbox()[-1]["text"]
    await zoe.say(f"/kudos revoke {ids[0]}")
    assert "Revoked: the kudos to Bea" in zoe.inbox()[-1]["text"]
