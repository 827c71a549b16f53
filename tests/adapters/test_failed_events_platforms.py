"""A member's message whose handling fails stalls nobody, on the real platforms: Telegram by long
polling and by webhook, Zulip's event queue. It used to: `/mentor accept ²` raised, the webhook
answered 500, and polling fetched the same update every 5 s forever, with nothing after it
handled. Now it is tried a few times, recorded as failed, its member told, and the next
member answered.

The number bug itself is fixed (flows/numbers.py), so these tests put it back: `/mentor accept`
reads its number as it did before, and `int("²")` raises a real ValueError in the real command.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from bot import metrics
from bot.mentorship import commands as mentor_commands
from bot.runtime import Onramp
from bot.settings import Settings
from flows.numbers import NotANumber
from storage.models import FailedEvent
from tests.adapters import test_telegram as telegram
from tests.adapters import test_zulip as zulip
from tests.conftest import FakeClock
from tests.fakes.telegram import TelegramEmulator
from tests.fakes.zulip import ZulipEmulator
from tests.support.waiting import until

APOLOGY = "Sorry, something went wrong on my side"


def _as_before(text: str, **bounds: Any) -> int | NotANumber:
    """How `/mentor accept` read its number before: "²".isdigit() is true, then int() raised."""
    return int(text) if text.isdigit() else NotANumber("not_digits")


@pytest.fixture
def number_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mentor_commands, "whole_number", _as_before)


def _failed_total(platform: str) -> float:
    labels = {"platform": platform}
    return metrics.REGISTRY.get_sample_value("onramp_failed_events_total", labels) or 0.0


async def _failed(onramp: Onramp) -> list[FailedEvent]:
    async with onramp.db.reading() as session:
        return list((await session.execute(select(FailedEvent))).scalars())


# Telegram


@pytest.fixture
def telegram_emulator() -> Iterator[TelegramEmulator]:
    with telegram.unlimited_emulator() as emulator:
        yield emulator


@pytest.fixture
async def polling(
    settings: Settings,
    telegram_emulator: TelegramEmulator,
    monkeypatch: pytest.MonkeyPatch,
    clock: FakeClock,
) -> AsyncIterator[telegram.Served]:
    telegram.for_telegram(settings, telegram_emulator, monkeypatch, mode="polling")
    async with telegram.serving(settings, telegram_emulator, clock) as served:
        await until(lambda: telegram_emulator.long_polling, "the first long poll")
        yield served


@pytest.fixture
async def webhook(
    settings: Settings,
    telegram_emulator: TelegramEmulator,
    monkeypatch: pytest.MonkeyPatch,
    clock: FakeClock,
) -> AsyncIterator[telegram.Served]:
    telegram.for_telegram(settings, telegram_emulator, monkeypatch, mode="webhook")
    async with telegram.serving(settings, telegram_emulator, clock) as served:
        yield served


async def _poison_then_someone_else(
    served: telegram.Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    emulator = served.emulator
    before = _failed_total("telegram")
    ada = telegram.Person(served, emulator.user(telegram.ADA, "Ada"))
    grace = telegram.Person(served, emulator.user(telegram.GRACE, "Grace"))
    await ada.say("/start")
    await grace.say("/start")

    poison = {"update_id": 900_000, **emulator.message(ada.user, "/mentor accept ²")}
    assert await served.deliver(poison) == 200  # acknowledged: not 500, not fetched again
    await served.outbox_idle()
    assert APOLOGY in ada.inbox()[-1]["text"]

    answered = len(grace.inbox())
    await grace.say("/help")  # the next member is not held up behind it
    assert len(grace.inbox()) == answered + 2 and "/start" in grace.inbox()[-2]["text"]
    assert "quick question about your data" in grace.inbox()[-1]["text"]  # asked again

    [failed] = await _failed(served.onramp)
    assert (failed.platform, failed.dedupe_key) == ("telegram", str(poison["update_id"]))
    assert (failed.event_type, failed.error, failed.attempts) == (
        "CommandInvoked",
        "ValueError",
        3,
    )
    assert _failed_total("telegram") - before == 1
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == [
        r for r in caplog.records if r.getMessage().startswith("event failed 3 times")
    ]
    assert not any("starting it again" in r.getMessage() for r in caplog.records)


async def test_telegram_polling_carries_on_past_a_failing_update(
    number_bug: None, polling: telegram.Served, caplog: pytest.LogCaptureFixture
) -> None:
    await _poison_then_someone_else(polling, caplog)


async def test_telegram_webhook_answers_200_to_a_failing_update(
    number_bug: None, webhook: telegram.Served, caplog: pytest.LogCaptureFixture
) -> None:
    await _poison_then_someone_else(webhook, caplog)
    # Telegram delivers it again (say the 200 was lost): a duplicate, which says nothing.
    ada = telegram.Person(webhook, webhook.emulator.user(telegram.ADA, "Ada"))
    apologies = sum(APOLOGY in m["text"] for m in ada.inbox())
    again = {"update_id": 900_000, **webhook.emulator.message(ada.user, "/mentor accept ²")}
    assert await webhook.deliver(again) == 200
    await webhook.outbox_idle()
    assert sum(APOLOGY in m["text"] for m in ada.inbox()) == apologies == 1
    assert len(await _failed(webhook.onramp)) == 1


# Zulip's event queue


@pytest.fixture
def zulip_emulator() -> Iterator[ZulipEmulator]:
    with ZulipEmulator(rate_limit=None) as emulator:
        yield emulator


@pytest.fixture
async def zulip_served(
    settings: Settings,
    database_url: str,
    zulip_emulator: ZulipEmulator,
    monkeypatch: pytest.MonkeyPatch,
    clock: FakeClock,
) -> AsyncIterator[zulip.Served]:
    """On SQLite and on PostgreSQL (where `lead()` runs under the advisory lock)."""
    settings.database.url = database_url
    zulip.for_zulip(settings, zulip_emulator, monkeypatch)
    async with zulip.serving(settings, zulip_emulator, clock) as served:
        await until(lambda: zulip_emulator.long_polls == 1, "the first long poll")
        yield served


async def test_zulip_event_queue_carries_on_past_a_failing_message(
    number_bug: None, zulip_served: zulip.Served
) -> None:
    emulator = zulip_served.emulator
    ada = zulip.Person(zulip_served, emulator.add_user("Ada"))
    bea = zulip.Person(zulip_served, emulator.add_user("Bea"))
    await ada.say("/help")

    poison = await ada.say("/mentor accept ²")  # handled: it returns
    assert APOLOGY in ada.inbox()[-1]

    await bea.say("/help")
    assert "/start" in bea.inbox()[-1]
    [failed] = await _failed(zulip_served.onramp)
    assert (failed.dedupe_key, failed.error) == (f"zulip:message:{poison['id']}", "ValueError")
    await ada.say("/help")  # Ada too carries on
    assert "/start" in ada.inbox()[-1]
