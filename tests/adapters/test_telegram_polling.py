"""Telegram by long polling: the runtime runs `lead()` (on SQLite this one process leads), which
takes queued updates from the emulator's getUpdates and confirms each once it is committed."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bot import metrics
from bot.settings import Settings
from storage.models import ProcessedEvent
from tests.adapters.test_telegram import (
    ADA,
    BOT_LINK,
    GROUP,
    Person,
    for_telegram,
    serving,
    unlimited_emulator,
    until,
)
from tests.fakes.telegram import TelegramEmulator


@pytest.fixture
def emulator() -> Iterator[TelegramEmulator]:
    with unlimited_emulator() as emulator:
        yield emulator


@pytest.fixture
def polling(
    settings: Settings, emulator: TelegramEmulator, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    return for_telegram(settings, emulator, monkeypatch, mode="polling")


def _deduplicated() -> float:
    labels = {"platform": "telegram"}
    return metrics.REGISTRY.get_sample_value("onramp_events_deduplicated_total", labels) or 0.0


async def test_polling_takes_each_update_once_across_a_restart(
    polling: Settings, emulator: TelegramEmulator
) -> None:
    # A webhook left over from an earlier deployment: polling removes it, or getUpdates is 409.
    async with httpx.AsyncClient() as client:
        old = {"url": "https://old.example.org/hook"}
        response = await client.post(f"{emulator.base_url}{emulator.token}/setWebhook", json=old)
    assert response.is_success and emulator.webhook is not None
    deduplicated = _deduplicated()

    async with serving(polling, emulator) as first:
        assert first.onramp.web is None  # nothing to serve: no webhook route
        await until(lambda: emulator.long_polling, "the first long poll")
        assert emulator.webhook is None
        assert set(emulator.calls("getUpdates")[-1]["allowed_updates"]) >= {"chat_member"}

        ada = Person(first, emulator.user(ADA, "Ada", language_code=None))  # asked, then
        await first.deliver(emulator.group_join(GROUP, ada.user))
        await first.deliver(emulator.chat_member_joined(GROUP, ada.user))  # the same join
        await first.outbox_idle()
        [welcome] = emulator.messages_to(GROUP)
        assert welcome["reply_markup"]["inline_keyboard"][0][0]["url"] == (
            f"{BOT_LINK}group_1001234567890"
        )
        await ada.say("/start group_1001234567890")
        await ada.tap("c:language:es")
        assert _deduplicated() - deduplicated == 1  # the join's second report

    # While the bot is down, Ada answers the question it left her.
    deduplicated = _deduplicated()
    consent = ada.inbox()[-1]
    assert "¿Te parece bien?" in consent["text"]
    emulator.queue_update(emulator.callback_query(ada.user, consent, "c:consent:yes"))

    async with serving(polling, emulator) as second:
        ada.served = second
        await until(lambda: len(ada.inbox()) == 4, "the next question, in Spanish")
        await second.outbox_idle()
        assert await second.count(ProcessedEvent) == 4  # the join once, /start and two taps

    assert _deduplicated() == deduplicated  # no update was handled twice
    texts = [m["text"] for m in ada.inbox()]
    assert texts[2].endswith("✔️ <b>Sí, me parece bien</b>")  # the second process answered it
    assert "zona horaria" in texts[3]
    assert len(emulator.calls("sendMessage")) == 5  # the welcome in the group, and four to Ada


async def test_a_malformed_update_is_skipped_and_the_ones_after_it_are_taken(
    polling: Settings, emulator: TelegramEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    async with serving(polling, emulator) as served:
        await until(lambda: emulator.long_polling, "the first long poll")
        ada = emulator.user(ADA, "Ada")
        bad = emulator.message(ada, "hi")
        bad["message"]["text"] = 12345  # not what Telegram sends: never readable
        queued = emulator.queue_update(bad)
        assert queued is not None
        await served.deliver(emulator.start_message(ada))  # the update after it

        await served.outbox_idle()
        assert "Hello Ada" in emulator.messages_to(ADA)[0]["text"]
        assert served.confirmed(queued["update_id"])
        assert await served.count(ProcessedEvent) == 1
    ignored = [r for r in caplog.records if r.msg == "telegram update ignored"]
    assert any("message.text has the wrong type" in r.__dict__["reason"] for r in ignored)
