"""WhatsApp end to end: the real adapter (httpx) against the Cloud API emulator, notifications
signed and POSTed to the real web server as Meta does, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from adapters.whatsapp.adapter import WhatsAppAdapter
from bot import metrics
from bot.settings import Settings, WebSettings, WhatsAppSettings
from storage.models import Answer, Consent, Identity, Member, Outbox, ProcessedEvent
from tests.clock import RunningClock
from tests.conftest import CONTENT, FakeClock
from tests.fakes.whatsapp import Sent, WhatsAppEmulator, combine
from tests.onboarding import COMPLETED_ANSWERS, completed_onboarding
from tests.support import serving as harness

JSON = dict[str, Any]
VERIFY_TOKEN = "onramp-verify-token"
ADA, GRACE = "16505551234", "447700900123"
UNLIMITED = {"number_limit": (1000, 1.0), "pair_limit": (1000, 1.0)}


def for_whatsapp(
    settings: Settings,
    emulator: WhatsAppEmulator,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str | None = None,
) -> Settings:
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", emulator.access_token)
    monkeypatch.setenv("WHATSAPP_APP_SECRET", emulator.app_secret)
    monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN)
    if database_url is not None:
        settings.database.url = database_url
    settings.web = WebSettings(host="127.0.0.1", port=0, max_body_bytes=64 * 1024)
    settings.whatsapp = WhatsAppSettings(
        phone_number_id=emulator.phone_number_id,
        graph_url=emulator.url,
        # No pacing: 1 message per 6 s to a member would make the tests slow (the storm test
        # lets the emulator's limits alone hold the sender back).
        **UNLIMITED,
        throughput_retry_seconds=0.2,
        pair_retry_seconds=0.3,
    )
    settings.sender.sweep_seconds = 0.05  # retries after a throttle go as soon as allowed
    return settings


def unlimited_emulator(**options: Any) -> WhatsAppEmulator:
    """Meta's limits off: the tests that use it are not about them."""
    return WhatsAppEmulator(number_limit=None, pair_limit=None, **options)


@pytest.fixture
def emulator() -> Iterator[WhatsAppEmulator]:
    with unlimited_emulator() as emulator:
        emulator.user(ADA, "Ada Lovelace")
        emulator.user(GRACE, "Grace Hopper")
        yield emulator


@pytest.fixture
def whatsapp_settings(
    settings: Settings,
    emulator: WhatsAppEmulator,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
) -> Settings:
    return for_whatsapp(settings, emulator, monkeypatch, database_url)


class Served(harness.Served[WhatsAppAdapter, WhatsAppEmulator]):
    """A running Onramp serving WhatsApp (tests/support/serving.py), and Meta's wire."""

    @property
    def webhook(self) -> str:
        return self.url("/whatsapp/webhook")

    async def deliver(self, notification: JSON | bytes, **options: Any) -> int:
        """Meta POSTs `notification` to the webhook (from a thread: the server answers on
        this loop); returns the status."""
        response = await asyncio.to_thread(
            self.emulator.deliver, self.webhook, notification, **options
        )
        return response.status_code

    async def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(self.webhook, content=body, headers=headers)


def serving(
    settings: Settings, emulator: WhatsAppEmulator, clock: FakeClock | RunningClock | None = None
) -> contextlib.AbstractAsyncContextManager[Served]:
    """Onramp serving WhatsApp against `emulator`, in real time unless given a `clock`. The
    adapter keeps the same clock: the 24-hour window is the core's time."""
    clock = clock or RunningClock()
    adapters = {"whatsapp": WhatsAppAdapter(settings, clock=clock)}
    return harness.serving(settings, emulator, adapters, served=Served, clock=clock)


@pytest.fixture
async def served(whatsapp_settings: Settings, emulator: WhatsAppEmulator) -> AsyncIterator[Served]:
    async with serving(whatsapp_settings, emulator) as running:
        yield running


def interactive(sent: Sent) -> list[tuple[str, str]]:
    """(title, id) of a sent message's reply buttons or list rows."""
    content = sent.body.get("interactive", {})
    action = content.get("action", {})
    if content.get("type") == "button":
        return [(b["reply"]["title"], b["reply"]["id"]) for b in action["buttons"]]
    rows = [row for section in action.get("sections", []) for row in section["rows"]]
    return [(row["title"], row["id"]) for row in rows]


def shown(sent: Sent) -> str:
    """What a sent message says: its text, or an interactive message's body."""
    if sent.type == "text":
        return str(sent.body["text"]["body"])
    if sent.type == "interactive":
        return str(sent.body["interactive"]["body"]["text"])
    return f"template {sent.body['template']['name']}"


@dataclass
class Person:
    """Someone on WhatsApp: writes to the community's number, taps its buttons and lists."""

    served: Served
    wa_id: str

    def inbox(self) -> list[Sent]:
        return self.served.emulator.messages_to(self.wa_id)

    async def say(self, text: str) -> None:
        assert await self.served.deliver(self.served.emulator.text(self.wa_id, text)) == 200
        await self.served.outbox_idle()

    async def tap(self, title: str) -> None:
        """Tap the button or list row titled `title` on the newest message that has it."""
        emulator = self.served.emulator
        sent = next(s for s in reversed(self.inbox()) if title in dict(interactive(s)))
        reply_id = dict(interactive(sent))[title]
        if sent.body["interactive"]["type"] == "button":
            tap = emulator.button_reply(self.wa_id, reply_id, title, context=sent.id)
        else:
            tap = emulator.list_reply(self.wa_id, reply_id, title, context=sent.id)
        assert await self.served.deliver(tap) == 200
        await self.served.outbox_idle()


async def test_a_person_who_messages_the_number_completes_onboarding(served: Served) -> None:
    ada = Person(served, ADA)
    await ada.say("Hi! I found you through the link on the website")
    [language] = ada.inbox()  # WhatsApp does not say her language: it is the first question
    assert language.body["interactive"]["type"] == "list"  # six choices: a list
    assert interactive(language) == [
        ("English", "c:language:en"),
        ("Français", "c:language:fr"),
        ("Español", "c:language:es"),
        ("Português", "c:language:pt"),
        ("العربية", "c:language:ar"),
        ("Kiswahili", "c:language:sw"),
    ]
    await ada.tap("English")
    hello, consent = ada.inbox()[1:]
    assert hello.type == "text"
    assert shown(hello).startswith("👋 Hello Ada Lovelace, and welcome to *Open Health Commons*!")
    assert hello.body["text"]["preview_url"] is False
    assert consent.body["interactive"]["type"] == "button"
    assert "quick question about your data" in shown(consent)
    assert interactive(consent) == [
        ("Yes, that's fine", "c:consent:yes"),
        ("No, thank you", "c:consent:no"),
    ]

    await ada.tap("Yes, that's fine")
    assert ada.inbox()[-1].type == "text"  # a time zone is typed
    await ada.say("Lima")

    interests = ada.inbox()[-1]  # several answers: WhatsApp has no multiple choice
    assert interests.type == "text"
    assert "1. 💻 Code\n2. 📝 Documentation" in shown(interests)
    await ada.say("2, 4")

    announcements = ada.inbox()[-1]
    assert "_stop announcements_" in shown(announcements)  # *…* in our Markdown: italic
    assert interactive(announcements) == [
        ("Yes, please", "c:announcements:yes"),
        ("No, thanks", "c:announcements:no"),
    ]
    await ada.tap("Yes, please")

    experience = ada.inbox()[-1]
    assert [title for title, _ in interactive(experience)] == [
        "My first time",
        "A few times",
        "Quite a lot",
    ]
    await ada.say("A few times")  # typed, though there are buttons

    start_here = ada.inbox()[-1]  # five choices: a list
    assert start_here.body["interactive"]["type"] == "list"
    assert start_here.body["interactive"]["action"]["button"] == "Choose"
    assert interactive(start_here) == [
        ("Code of conduct", "c:start_here:code_of_conduct"),
        ("Contribution guide", "c:start_here:contributing"),
        ("First tasks", "c:start_here:first_tasks"),
        ("Where people talk", "c:start_here:channels"),
        ("I'm all set", "c:start_here:done"),
    ]
    await ada.tap("First tasks")
    await ada.tap("I'm all set")  # on the list sent again after the tip
    await ada.tap("Not right now")

    expected = [
        "Which language would you like me to use?",
        "Hello Ada Lovelace, and welcome",
        "quick question about your data",
        "Which time zone are you in?",
        "What would you like to help with?",
        "Thank you, 2 areas!",
        "occasional announcements",
        "How much have you contributed",
        "Where would you like to start?",
        "*tasks picked for newcomers*",
        "Where would you like to start?",
        "would you like a mentor?",
        "You're all set, Ada Lovelace! 🎉",
        "You've earned a badge: 🎒 On board!",
    ]
    said = [shown(sent) for sent in ada.inbox()]
    assert len(said) == len(expected)
    for text, fragment in zip(said, expected, strict=True):
        assert fragment in text
    assert len({sent.id for sent in ada.inbox()}) == len(expected)  # each once

    member, answers = await completed_onboarding(served.onramp.db)
    async with served.onramp.db.reading() as session:
        identity = (await session.execute(select(Identity))).scalars().one()
    assert (identity.platform, identity.external_id, identity.dm_conversation) == (
        "whatsapp",
        ADA,
        ADA,
    )
    assert (member.display_name, member.locale, member.timezone) == (
        "Ada Lovelace",
        "en",
        "America/Lima",
    )
    assert answers == COMPLETED_ANSWERS
    rows = await served.outbox()
    assert [row.status for row in rows] == ["sent"] * len(expected)
    assert [row.delivery_id for row in rows] == [sent.id for sent in ada.inbox()]


async def test_stop_alone_opts_out_of_announcements_and_the_onboarding_goes_on(
    served: Served,
) -> None:
    ada = Person(served, ADA)
    await ada.say("hi")
    await ada.tap("English")
    await ada.say("STOP")  # Meta's convention for marketing messages
    stopped, consent = ada.inbox()[-2:]
    assert "no more announcements from me" in shown(stopped)
    assert "_start announcements_" in shown(stopped)  # how to get them again
    assert interactive(consent)[0] == ("Yes, that's fine", "c:consent:yes")  # the question again
    await ada.tap("Yes, that's fine")
    assert "Which time zone" in shown(ada.inbox()[-1])

    async with served.onramp.db.reading() as session:
        member = (await session.execute(select(Member))).scalars().one()
        consent = (await session.execute(select(Consent))).scalars().one()
    assert not member.opted_out  # not /stop: everything else carries on
    assert (consent.purpose, consent.granted, consent.source) == ("announcements", False, "command")
    rows = await served.outbox()
    assert [row.status for row in rows] == ["sent"] * len(ada.inbox())


async def test_meta_s_verification_request_is_answered_only_with_the_right_token(
    served: Served,
) -> None:
    before = _rejected("verify_token")
    answered = await asyncio.to_thread(
        served.emulator.verify, served.webhook, VERIFY_TOKEN, "1158201444"
    )
    assert (answered.status_code, answered.text) == (200, "1158201444")
    assert answered.headers["content-type"].startswith("text/plain")
    for token, mode in (("wrong", "subscribe"), ("", "subscribe"), (VERIFY_TOKEN, "unsubscribe")):
        refused = await asyncio.to_thread(
            served.emulator.verify, served.webhook, token, "1158201444", mode
        )
        assert refused.status_code == 403
        assert "1158201444" not in refused.text
    assert _rejected("verify_token") - before == 3


def _rejected(reason: str) -> float:
    labels = {"platform": "whatsapp", "reason": reason}
    return metrics.REGISTRY.get_sample_value("onramp_events_rejected_total", labels) or 0.0


async def test_bad_signatures_are_refused_with_401_and_change_nothing(served: Served) -> None:
    emulator = served.emulator
    before = _rejected("bad_signature")
    notification = emulator.text(ADA, "hi")
    body = b'{"object": "whatsapp_business_account", "entry": []}'
    good = emulator.signed(body)["X-Hub-Signature-256"]
    for headers in (
        emulator.signed(b"", app_secret="another secret"),  # signed with another secret
        {"Content-Type": "application/json"},  # not signed
        {"Content-Type": "application/json", "X-Hub-Signature-256": good.removeprefix("sha256=")},
        {"Content-Type": "application/json", "X-Hub-Signature-256": good[:-1]},
        {"Content-Type": "application/json", "X-Hub-Signature-256": "sha1=" + good[7:]},
    ):
        assert await served.deliver(notification, headers=headers) == 401
    assert await served.deliver(notification, app_secret="another secret") == 401
    tampered = emulator.signed(body)  # the signature of another body
    assert await served.deliver(notification, headers=tampered) == 401
    assert _rejected("bad_signature") - before == 7
    await asyncio.sleep(0.1)  # nothing is on its way either
    for table in (ProcessedEvent, Member, Outbox):
        assert await served.count(table) == 0
    assert emulator.calls() == []


async def test_a_notification_delivered_twice_has_one_effect(served: Served) -> None:
    emulator = served.emulator
    ada = Person(served, ADA)
    hello = emulator.text(ADA, "hello")
    for _ in range(3):
        assert await served.deliver(hello) == 200
    await served.outbox_idle()
    assert len(ada.inbox()) == 1  # the language question, once

    language = ada.inbox()[0]
    tap = emulator.list_reply(ADA, "c:language:en", "English", context=language.id)
    assert await served.deliver(tap) == 200
    assert await served.deliver(tap) == 200
    await served.outbox_idle()
    assert len(ada.inbox()) == 3  # the welcome and the consent question, once
    assert await served.count(ProcessedEvent) == 2
    assert await served.count(Member) == 1


async def test_one_notification_may_carry_several_members_messages(served: Served) -> None:
    emulator = served.emulator
    both = combine(emulator.text(ADA, "hi"), emulator.text(GRACE, "hello"))
    assert await served.deliver(both) == 200
    await served.outbox_idle()
    languages = [emulator.messages_to(wa_id) for wa_id in (ADA, GRACE)]
    assert [interactive(language)[0] for [language] in languages] == [
        ("English", "c:language:en")
    ] * 2
    taps = [
        emulator.list_reply(wa_id, "c:language:en", "English", context=language.id)
        for wa_id, [language] in zip((ADA, GRACE), languages, strict=True)
    ]
    assert await served.deliver(combine(*taps)) == 200
    await served.outbox_idle()
    for wa_id, name in ((ADA, "Ada Lovelace"), (GRACE, "Grace Hopper")):
        _, hello, consent = emulator.messages_to(wa_id)
        assert shown(hello).startswith(f"👋 Hello {name},")
        assert interactive(consent)[0] == ("Yes, that's fine", "c:consent:yes")
    assert await served.count(ProcessedEvent) == 4


async def test_statuses_in_any_order_leave_each_message_with_its_furthest_status(
    served: Served,
) -> None:
    emulator = served.emulator
    ada = Person(served, ADA)
    await ada.say("hi")
    await ada.tap("English")
    language, hello, consent = (sent.id for sent in ada.inbox())

    undeliverable = (131026, "Message undeliverable", "The recipient is not on WhatsApp")
    callbacks = [
        *emulator.statuses_for(language, "read", "delivered", "sent"),
        *emulator.statuses_for(hello, "delivered", "failed", "sent", error=undeliverable),
        *emulator.statuses_for(consent, "sent", "failed", error=undeliverable),
    ]
    for callback in callbacks:
        assert await served.deliver(callback) == 200
    assert await served.deliver(callbacks[0]) == 200  # Meta delivering one again

    rows = {row.delivery_id: row for row in await served.outbox()}
    assert (rows[language].status, rows[language].delivery_status) == ("sent", "read")
    assert rows[hello].delivery_status == "delivered"  # delivered beats a failure
    assert rows[consent].delivery_status == "failed"
    assert rows[consent].last_error == (
        "whatsapp: 131026 Message undeliverable: The recipient is not on WhatsApp"
    )
    assert await served.count(ProcessedEvent) == 2 + 8  # her two messages, eight statuses

    # A status in the same notification as a message: both are taken.
    late = combine(emulator.statuses_for(hello, "read")[0], emulator.text(ADA, "Yes, that's fine"))
    assert await served.deliver(late) == 200
    await served.outbox_idle()
    rows = {row.delivery_id: row for row in await served.outbox()}
    assert rows[hello].delivery_status == "read"
    assert "Which time zone" in shown(ada.inbox()[-1])
    assert await served.count(ProcessedEvent) == 2 + 8 + 2


async def test_throughput_and_pair_limit_storms_delay_but_lose_and_duplicate_nothing(
    whatsapp_settings: Settings,
) -> None:
    # Meta's limits, tightened, while the settings let the sender go as fast as it likes:
    # 130429 and 131056 alone must hold it back.
    before = metrics.REGISTRY.get_sample_value(
        "onramp_messages_retried_total", {"platform": "whatsapp"}
    )
    with WhatsAppEmulator(number_limit=(3, 0.5), pair_limit=(1, 0.5)) as emulator:
        whatsapp_settings.whatsapp.graph_url = emulator.url
        async with serving(whatsapp_settings, emulator) as served:
            people = [Person(served, f"3165550{n:04d}") for n in range(5)]
            statuses = await asyncio.gather(
                *(served.deliver(emulator.text(p.wa_id, "hi")) for p in people)
            )
            assert statuses == [200] * 5
            await served.outbox_idle()

            languages = [person.inbox()[0] for person in people]
            taps = [
                emulator.list_reply(person.wa_id, "c:language:en", "English", context=asked.id)
                for person, asked in zip(people, languages, strict=True)
            ]
            statuses = await asyncio.gather(*(served.deliver(tap) for tap in taps))
            assert statuses == [200] * 5
            await served.outbox_idle()

            for person in people:
                language, hello, consent = person.inbox()
                assert "Which language" in shown(language)
                assert "Hello" in shown(hello) and "quick question" in shown(consent)
            assert len(emulator.calls()) > 15  # 15 messages, some refused at first
            rows = await served.outbox()
            assert [row.status for row in rows] == ["sent"] * 15
            assert sorted(row.delivery_id or "" for row in rows) == sorted(
                sent.id for sent in emulator.sent
            )
    after = metrics.REGISTRY.get_sample_value(
        "onramp_messages_retried_total", {"platform": "whatsapp"}
    )
    assert (after or 0) > (before or 0)


async def test_a_restarted_bot_carries_on_where_the_member_was(
    whatsapp_settings: Settings, emulator: WhatsAppEmulator
) -> None:
    async with serving(whatsapp_settings, emulator) as first:
        ada = Person(first, ADA)
        await ada.say("hi")
        await ada.tap("Français")
        assert "une petite question sur vos données" in shown(ada.inbox()[-1])

    async with serving(whatsapp_settings, emulator) as second:
        ada.served = second
        await ada.tap("Oui, c'est d'accord")  # on the question the first process sent
        await ada.say("Lima")

    said = [shown(sent) for sent in ada.inbox()]
    assert len(said) == 5  # nothing repeated across the restart
    assert "fuseau horaire" in said[3] and "Sur quoi aimeriez-vous aider" in said[4]


def _without_templates(tmp_path: Path) -> Path:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    flow = content / "flows" / "onboarding.yaml"
    lines = flow.read_text().splitlines(keepends=True)
    flow.write_text("".join(line for line in lines if "whatsapp_template" not in line))
    return content


@pytest.mark.parametrize("with_template", [True, False])
async def test_outside_the_24_hour_window_a_nudge_goes_as_its_template_or_fails_saying_why(
    whatsapp_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    clock: FakeClock,
    tmp_path: Path,
    with_template: bool,
) -> None:
    if not with_template:
        whatsapp_settings.content.path = _without_templates(tmp_path)
    with unlimited_emulator(clock=clock) as emulator:  # Meta's clock is the bot's
        emulator.user(ADA, "Ada")
        emulator.approve("onboarding_reminder", "en", parameters=1)
        settings = for_whatsapp(whatsapp_settings, emulator, monkeypatch)
        async with serving(settings, emulator, clock) as served:
            ada = Person(served, ADA)
            await ada.say("hi")
            await ada.tap("English")
            assert len(ada.inbox()) == 3  # the language question, the welcome, consent
            clock.advance(days=2, minutes=1)  # the consent question's 2-day timeout
            await served.onramp.timers.tick()
            await served.outbox_idle()

            nudge = (await served.outbox())[-1]
            assert "let me know whether I may keep your answers" in nudge.payload["text"]
            if with_template:
                assert nudge.payload["template"] == {
                    "name": "onboarding_reminder",
                    "language": "en",
                    "parameters": ["Ada"],
                }
                assert nudge.status == "sent"
                sent = ada.inbox()[-1]
                assert sent.id == nudge.delivery_id
                assert sent.body["template"] == {
                    "name": "onboarding_reminder",
                    "language": {"code": "en"},
                    "components": [
                        {"type": "body", "parameters": [{"type": "text", "text": "Ada"}]}
                    ],
                }
            else:
                assert nudge.payload["template"] is None
                assert nudge.status == "failed" and nudge.attempts <= 1
                assert nudge.last_error is not None
                assert "more than 24 hours ago" in nudge.last_error
                assert "names none for this message (whatsapp_template)" in nudge.last_error
                assert len(ada.inbox()) == 3  # no free text was even tried
                assert len(emulator.calls()) == 3

            await ada.say("yes")  # she writes again: the window opens, free text flows
            assert "Which time zone" in shown(ada.inbox()[-1])


def _notification(field: str = "messages", number: str = "106540352242922", **value: Any) -> bytes:
    """A notification with one change, as raw bytes."""
    change = {"field": field, "value": {"metadata": {"phone_number_id": number}, **value}}
    notification = {"object": "whatsapp_business_account", "entry": [{"changes": [change]}]}
    return json.dumps(notification).encode()


_HI = {"from": ADA, "id": "wamid.A", "type": "text", "text": {"body": "hi"}}
MALFORMED = [  # body, content type, status, what the log line says
    (_notification(messages=[_HI])[:60], "application/json", 400, "not JSON"),
    (b"", "application/json", 400, "not JSON"),
    (b"\xff\xfe\x00", "application/json", 400, "not JSON"),
    (_notification(), "text/plain", 415, "content type"),
    (_notification(), None, 415, "content type"),
    (b"[1, 2]", "application/json", 400, "not an object"),
    (b'{"entry": []}', "application/json", 400, "no object"),
    (b'{"object": "whatsapp_business_account", "entry": {}}', "application/json", 400, "list"),
    (_notification(messages=[{**_HI, "id": None}]), "application/json", 400, "no id"),
    (_notification(messages=[{**_HI, "text": {}}]), "application/json", 400, "no body"),
    (_notification(statuses=[{"id": "wamid.A"}]), "application/json", 400, "no status"),
    (b'{"object": ' + b"[" * 5000 + b"]" * 5000 + b"}", "application/json", 400, "nested"),
    (b'{"object": ' + b"[" * 900 + b"]" * 900 + b"}", "application/json", 400, "nested"),
    (_notification(messages=[{**_HI, "text": {"body": 7}}]), "application/json", 400, "no body"),
    (_notification(contacts="Ada", messages=[_HI]), "application/json", 400, "not a list"),
    (b"{" + b" " * 70_000 + b"}", "application/json", 413, "exceeds web.max_body_bytes"),
    (b'{"object": "page", "entry": []}', "application/json", 200, "object 'page'"),
    (_notification("account_update"), "application/json", 200, "field 'account_update'"),
    (_notification(number="999", messages=[_HI]), "application/json", 200, "another phone"),
]


async def test_malformed_bodies_get_4xx_change_nothing_and_say_why(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    before = {reason: _rejected(reason) for reason in ("malformed", "content_type")}
    for body, content_type, status, reason in MALFORMED:
        caplog.clear()
        headers = served.emulator.signed(body)  # signed right: only the body is wrong
        if content_type is None:
            del headers["Content-Type"]
        else:
            headers["Content-Type"] = content_type
        response = await served.post(body, headers)
        assert response.status_code == status, body[:60]
        logged = [
            getattr(r, "reason", "")
            for r in caplog.records
            if r.msg in ("request rejected", "whatsapp notification ignored in part")
        ]
        assert len(logged) == 1 and reason in logged[0], (body[:60], logged)
        assert not [r for r in caplog.records if r.levelno > logging.WARNING or r.exc_info]
    assert _rejected("malformed") - before["malformed"] == 13
    assert _rejected("content_type") - before["content_type"] == 2
    for table in (ProcessedEvent, Member, Outbox):
        assert await served.count(table) == 0
    assert served.emulator.calls() == []

    assert await served.deliver(served.emulator.text(ADA, "hi")) == 200  # still serving
    assert await served.count(ProcessedEvent) == 1


async def test_what_the_bot_cannot_read_gets_a_polite_answer(served: Served) -> None:
    emulator = served.emulator
    ada = Person(served, ADA)
    assert await served.deliver(emulator.image(ADA, caption="my cat")) == 200
    await served.outbox_idle()
    sorry, language = (shown(sent) for sent in ada.inbox())  # a newcomer: onboarding too
    assert sorry.startswith("Sorry, I can only read text and button answers for now.")
    assert "Which language" in language

    for unreadable in (
        emulator.reaction(ADA, ada.inbox()[1].id, "❤️"),
        emulator.sticker(ADA),
        emulator.location(ADA),
        emulator.unsupported(ADA),
    ):
        assert await served.deliver(unreadable) == 200
        await served.outbox_idle()
        assert shown(ada.inbox()[-1]).startswith("Sorry, I can only read text")
    assert len(ada.inbox()) == 2 + 4  # one answer each, and nothing else
    await ada.tap("English")  # the question still waits for her
    assert "quick question" in shown(ada.inbox()[-1])
    async with served.onramp.db.reading() as session:
        assert (await session.execute(select(col(Answer.step_id)))).scalars().all() == ["language"]


async def test_a_tap_on_a_template_quick_reply_reads_as_its_text(served: Served) -> None:
    emulator = served.emulator
    ada = Person(served, ADA)
    await ada.say("hi")
    await ada.tap("English")
    quick = emulator.quick_reply(ADA, "Yes, that's fine", "consent-yes")
    assert await served.deliver(quick) == 200
    await served.outbox_idle()
    assert "Which time zone" in shown(ada.inbox()[-1])
    assert len(ada.inbox()) == 4
