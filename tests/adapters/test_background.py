"""adapters/background.py: background work logged and drained, and retrying a set-up with
capped backoff until it succeeds, another error ends it, or the adapter stops."""

from __future__ import annotations

import asyncio
import logging

import pytest

from adapters import background
from adapters.background import Background, logged, retry_until_done


class Down(Exception):
    """The platform out of reach."""


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait asked for, taken at once: what the backoff would sleep."""
    asked: list[float] = []
    sleep = asyncio.sleep

    async def instantly(seconds: float, *args: object) -> None:
        asked.append(seconds)
        await sleep(0)

    monkeypatch.setattr(asyncio, "sleep", instantly)
    return asked


async def test_a_set_up_is_tried_again_after_1_2_4_seconds_up_to_a_minute(
    waits: list[float],
) -> None:
    attempts: list[int] = []
    told: list[str] = []

    async def set_up() -> None:
        attempts.append(len(attempts) + 1)
        if len(attempts) < 10:
            raise Down(f"down {len(attempts)}")

    await retry_until_done(set_up, retrying_on=Down, failed=lambda exc: told.append(str(exc)))
    assert len(attempts) == 10
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0, 60.0]
    assert told == [f"down {n}" for n in range(1, 10)]  # each failure, before its wait


async def test_another_error_ends_the_retrying(waits: list[float]) -> None:
    async def refused() -> None:
        raise PermissionError("token refused")

    with pytest.raises(PermissionError, match="token refused"):
        await retry_until_done(refused, retrying_on=Down)
    assert waits == [1.0]


async def test_retrying_stops_at_once_when_cancelled() -> None:
    async def down() -> None:
        raise Down("down")

    retrying = asyncio.ensure_future(retry_until_done(down, retrying_on=Down))
    await asyncio.sleep(0)  # waiting its first second
    retrying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await retrying


async def test_logged_work_says_what_failed_and_raises_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def edit() -> None:
        raise RuntimeError("no such message")

    await logged(logging.getLogger("onramp.test"), "editing the question", edit())
    assert caplog.messages == ["editing the question failed"]


async def test_drain_lets_work_finish_then_cancels_what_is_left() -> None:
    work = Background()
    release = asyncio.Event()
    finished: list[str] = []

    async def quick() -> None:
        await release.wait()
        finished.append("quick")

    async def stuck() -> None:
        await asyncio.Event().wait()

    done = work.spawn(quick())
    hanging = work.spawn(stuck())
    assert len(work) == 2
    release.set()
    await work.drain(grace=0.05)
    assert done.done() and finished == ["quick"]
    assert hanging.cancelled()
    assert not work  # finished tasks are let go


async def test_drain_with_nothing_in_flight_returns_at_once() -> None:
    await asyncio.wait_for(Background().drain(), background.DRAIN_SECONDS / 10)
