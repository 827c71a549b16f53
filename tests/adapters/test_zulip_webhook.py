"""Zulip as an outgoing-webhook bot: the emulator POSTs Zulip's payloads to the real web server
and posts the bot's answers as Zulip does; the rest goes through the real `zulip` client."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from bot import metrics
from bot.settings import Settings
from storage.models import Member, Outbox, ProcessedEvent
from tests.adapters.test_zulip import TOKEN, Served, deduplicated, for_zulip, serving
from tests.fakes.zulip import ZulipEmulator
from tests.support.waiting import until

JSON = dict[str, Any]
JSON_ = "application/json"


@pytest.fixture
def emulator() -> Iterator[ZulipEmulator]:
    with ZulipEmulator(rate_limit=None) as emulator:
        yield emulator


@pytest.fixture
def webhook_settings(
    settings: Settings,
    database_url: str,
    emulator: ZulipEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    settings.database.url = database_url
    return for_zulip(settings, emulator, monkeypatch, mode="webhook")


@pytest.fixture
async def served(webhook_settings: Settings, emulator: ZulipEmulator) -> AsyncIterator[Served]:
    async with serving(webhook_settings, emulator) as running:
        yield running


def _url(served: Served) -> str:
    assert served.onramp.web is not None
    return f"http://127.0.0.1:{served.onramp.web.port}/zulip/webhook"


async def deliver(served: Served, message: JSON, token: str = TOKEN) -> httpx.Response:
    """Zulip hands the bot `message` (from a thread: the server answers on this loop)."""
    return await post(served, served.emulator.outgoing_webhook_payload(message, token))


async def post(
    served: Served, payload: JSON | bytes, content_type: str | None = "application/json"
) -> httpx.Response:
    emulator = served.emulator
    return await asyncio.to_thread(emulator.deliver_webhook, _url(served), payload, content_type)


@dataclass
class Writer:
    """Someone who writes to the outgoing-webhook bot."""

    served: Served
    user: JSON

    def inbox(self) -> list[str]:
        return [m["content"] for m in self.served.emulator.messages_to(self.user["user_id"])]

    async def say(self, text: str) -> JSON:
        """A direct message to the bot; returns the bot's answer to Zulip."""
        message = self.served.emulator.dm_from(self.user, text)
        response = await deliver(self.served, message)
        assert response.status_code == 200
        await self.served.outbox_idle()
        answer: JSON = response.json()
        return answer


def _rejected(reason: str) -> float:
    labels = {"platform": "zulip", "reason": reason}
    return metrics.REGISTRY.get_sample_value("onramp_events_rejected_total", labels) or 0.0


async def test_a_newcomer_is_answered_in_the_webhook_response(served: Served) -> None:
    emulator = served.emulator
    ada = Writer(served, emulator.add_user("Ada Lovelace"))

    answer = await ada.say("hi!")  # someone who writes first and was never onboarded
    assert answer["content"].startswith("🌍 Which language would you like me to use?")
    assert "\n\n1. English\n2. Français\n" in answer["content"]
    assert ada.inbox() == [answer["content"]]  # Zulip posted it for the bot: one message
    assert emulator.calls("messages", "POST") == []  # nothing went through the API

    answer = await ada.say("2")
    hello, consent = answer["content"].split("\n\n", 1)  # two messages, one answer
    assert hello.startswith("👋 Bonjour Ada Lovelace, et bienvenue dans **Open Health Commons**")
    assert consent.startswith("Tout d'abord, une petite question")
    assert "\n\n1. Oui, c'est d'accord\n" in consent
    answer = await ada.say("1")
    assert answer["content"].startswith("Parfait ! Dans quel fuseau horaire")
    assert len(ada.inbox()) == 3 and emulator.calls("messages", "POST") == []

    async with served.onramp.db.reading() as session:
        rows = (await session.execute(select(Outbox).order_by(col(Outbox.id)))).scalars().all()
        member = (await session.execute(select(Member))).scalars().one()
    assert [row.status for row in rows] == ["sent"] * 4
    assert all((row.delivery_id or "").startswith("webhook:") for row in rows)
    assert (member.display_name, member.locale) == ("Ada Lovelace", "fr")


async def test_a_channel_mention_is_answered_in_direct_messages_through_the_api(
    served: Served,
) -> None:
    emulator = served.emulator
    bea = Writer(served, emulator.add_user("Bea"))
    called = emulator.stream_message(bea.user, "general", "hello", "onboard")
    response = await deliver(served, called)
    assert response.json() == {"response_not_required": True}  # nothing said in the channel
    await served.outbox_idle()
    [language] = bea.inbox()
    assert "Which language" in language
    assert len(emulator.calls("messages", "POST")) == 1
    assert [m for m in emulator.sent() if m["type"] == "stream"] == []
    answer = await bea.say("English")  # in her direct messages: answered in the response
    assert "Hello Bea" in answer["content"] and "Is that okay?" in answer["content"]


async def test_a_message_delivered_twice_has_one_effect(served: Served) -> None:
    emulator = served.emulator
    ada = Writer(served, emulator.add_user("Ada"))
    before = deduplicated()
    message = emulator.dm_from(ada.user, "/onboard")
    first, again = [await deliver(served, message) for _ in range(2)]  # Zulip timed out once
    await served.outbox_idle()
    assert "Which language" in first.json()["content"]
    assert again.json() == {"response_not_required": True}
    assert deduplicated() - before == 1
    assert len(ada.inbox()) == 1
    assert await served.count(ProcessedEvent) == 1


async def test_replies_that_miss_the_budget_go_through_the_api_in_order(
    webhook_settings: Settings, emulator: ZulipEmulator
) -> None:
    webhook_settings.zulip.reply_budget_seconds = 0.1
    # Long enough that the retry (after 1.6 to 2.4 s, with jitter) cannot have gone out before
    # the next message arrives, however loaded the machine: 0.3 s (0.24 s at least) could.
    webhook_settings.sender.backoff_seconds = 2.0
    async with serving(webhook_settings, emulator) as served:
        ada = Writer(served, emulator.add_user("Ada"))
        emulator.fail("messages", 503)  # the next send fails, and is tried again later
        called = emulator.stream_message(ada.user, "general", "hi", "help")
        assert (await deliver(served, called)).json() == {"response_not_required": True}
        await until(lambda: emulator.calls("messages", "POST"), "the failed send")

        # Her replies wait behind the help text, past the budget: none goes in the answer.
        answer = await ada.say("/onboard")
        assert answer == {"response_not_required": True}
        help_text, language = ada.inbox()
        assert "/onboard" in help_text and "Which language" in language
        assert len(emulator.calls("messages", "POST")) == 3  # the failure, then two


async def test_a_wrong_or_missing_token_is_refused_and_changes_nothing(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="onramp.web")
    emulator = served.emulator
    ada = emulator.add_user("Ada")
    message = emulator.dm_from(ada, "/onboard")
    before = _rejected("token")
    for token in ("", "wrong", TOKEN + "x", TOKEN[:-1], TOKEN.lower()):
        assert (await deliver(served, message, token=token)).status_code == 403
    payload = emulator.outgoing_webhook_payload(message, TOKEN)
    del payload["token"]
    assert (
        await asyncio.to_thread(emulator.deliver_webhook, _url(served), payload)
    ).status_code == 403
    assert _rejected("token") - before == 6
    reasons = [getattr(r, "reason", "") for r in caplog.records if r.msg == "request rejected"]
    assert reasons == ["zulip: wrong or missing token"] * 6
    await asyncio.sleep(0.1)  # nothing is on its way either
    for table in (ProcessedEvent, Member, Outbox):
        assert await served.count(table) == 0
    assert emulator.calls("messages", "POST") == []


async def test_malformed_bodies_get_4xx_and_change_nothing(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    emulator = served.emulator
    ada = emulator.add_user("Ada")
    good = emulator.outgoing_webhook_payload(emulator.dm_from(ada, "hello"), TOKEN)
    no_id = {**good, "message": {k: v for k, v in good["message"].items() if k != "id"}}
    odd_type = {**good, "message": {**good["message"], "type": "carrier_pigeon"}}
    no_recipients = {**good, "message": {**good["message"], "display_recipient": "Ada"}}
    malformed: list[tuple[bytes, str | None, int, str]] = [
        (
            b'{"token": "' + TOKEN.encode() + b'", "message": {"id"',
            "application/json",
            400,
            "not JSON",
        ),
        (b"", "application/json", 400, "not JSON"),
        (b"\xff\xfe", "application/json", 400, "not JSON"),
        (b'{"token": "x"}', "text/plain", 415, "content type"),
        (b"[1, 2]", "application/json", 400, "not an object"),
        (_body({"token": TOKEN}), "application/json", 400, "no message"),
        (_body({**good, "message": "hello"}), "application/json", 400, "no message"),
        (_body(no_id), "application/json", 400, "without id"),
        (_body(odd_type), "application/json", 400, "no known type"),
        (_body(no_recipients), "application/json", 400, "without its recipients"),
        (b"{" + b" " * 70_000 + b"}", "application/json", 413, "exceeds web.max_body_bytes"),
        # Without the token: refused before anything is read, however deep.
        (b'{"message": ' + b"[" * 5000 + b"]" * 5000 + b"}", JSON_, 400, "nested"),
        (b'{"message": ' + b"[" * 900 + b"]" * 900 + b"}", JSON_, 400, "nested"),
        (
            _body({**good, "message": {**good["message"], "sender_id": "7"}}),
            JSON_,
            400,
            "sender_id",
        ),
        (_body({**good, "message": {**good["message"], "content": 7}}), JSON_, 400, "content"),
        (_body({**good, "bot_email": ["x"]}), JSON_, 400, "bot_email"),
    ]
    before = _rejected("malformed")
    for body, content_type, status, reason in malformed:
        caplog.clear()
        response = await asyncio.to_thread(
            emulator.deliver_webhook, _url(served), body, content_type
        )
        assert response.status_code == status, body[:60]
        logged = [getattr(r, "reason", "") for r in caplog.records if r.msg == "request rejected"]
        assert len(logged) == 1 and reason in logged[0], (body[:60], logged)
        assert not [r for r in caplog.records if r.levelno > logging.WARNING or r.exc_info]
    assert _rejected("malformed") - before == 14
    for table in (ProcessedEvent, Member, Outbox):
        assert await served.count(table) == 0

    response = await post(served, good)
    assert "Which language" in response.json()["content"]  # the server still serves
    assert await served.count(ProcessedEvent) == 1


def _body(payload: JSON) -> bytes:
    return json.dumps(payload).encode()


async def test_a_kudos_notice_for_someone_else_goes_to_them_not_in_the_givers_answer(
    served: Served,
) -> None:
    emulator = served.emulator
    ada = Writer(served, emulator.add_user("Ada"))
    bea = Writer(served, emulator.add_user("Bea Bianchi"))
    for writer in (ada, bea):  # each has said something to the bot
        await writer.say("/help")
    bea_id = bea.user["user_id"]

    answer = await ada.say(f"/kudos @**Bea Bianchi|{bea_id}** for translating the install guide")

    assert "Thank you for recognising Bea Bianchi" in answer["content"]
    assert "translating the install guide" not in answer["content"]  # Bea's notice is not here
    told = bea.inbox()[-1]
    assert "Ada" in told and "translating the install guide" in told
    assert not any("translating the install guide" in text for text in ada.inbox())
    async with served.onramp.db.reading() as session:
        rows = (await session.execute(select(Outbox).order_by(col(Outbox.id)))).scalars().all()
    to_bea = [row for row in rows if row.recipient == str(bea_id)][-1]
    assert to_bea.status == "sent"
    assert not (to_bea.delivery_id or "").startswith("webhook:")  # it went through the API
    assert emulator.calls("messages", "POST")  # and the API has it
