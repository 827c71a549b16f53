"""Stopping while a periodic job runs (a due-work tick, the health day sets at start) cancels
it quietly: APScheduler logged each as "Error running job" with a traceback."""

from __future__ import annotations

import asyncio
import logging

import pytest

from adapters.memory import MemoryAdapter
from bot.runtime import Onramp
from bot.settings import Settings
from tests.conftest import FakeClock
from tests.support.waiting import until


async def test_a_job_running_at_stop_is_cancelled_without_an_error(
    settings: Settings,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    running = asyncio.Event()

    async def endless_day_sets(self: Onramp) -> None:
        running.set()
        await asyncio.Event().wait()  # still at it when the bot stops

    monkeypatch.setattr(Onramp, "store_day_sets", endless_day_sets)
    app = await Onramp.create(settings, {"memory": MemoryAdapter()}, clock=clock)
    await app.start()
    await until(running.is_set, "the day sets job running")
    with caplog.at_level(logging.INFO):
        await app.stop()
        await asyncio.sleep(0)  # the executor's callback on the cancelled job
    assert "onramp stopped" in caplog.messages
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []


async def test_a_job_that_fails_is_still_logged_as_an_error(
    settings: Settings,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def failing_day_sets(self: Onramp) -> None:
        raise RuntimeError("the day sets could not be stored")

    monkeypatch.setattr(Onramp, "store_day_sets", failing_day_sets)
    app = await Onramp.create(settings, {"memory": MemoryAdapter()}, clock=clock)
    with caplog.at_level(logging.ERROR, logger="apscheduler"):
        await app.start()
        try:
            await until(
                lambda: any("raised an exception" in m for m in caplog.messages), "the job failing"
            )
        finally:
            await app.stop()
    failed = [r for r in caplog.records if "raised an exception" in r.getMessage()]
    assert failed and failed[0].exc_info is not None
