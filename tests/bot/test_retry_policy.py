"""The retry policy on its own: every case a line of the table, no database and no clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.adapter import DeliveryError
from bot.retry_policy import GiveUp, RetryAt, next_attempt
from bot.settings import SenderSettings
from tests.clock import START

LIMITS = SenderSettings(max_attempts=4, backoff_seconds=2.0, max_backoff_seconds=10.0)


def _transient(reason: str = "503") -> DeliveryError:
    return DeliveryError(reason)


@pytest.mark.parametrize(
    ("error", "attempts", "jitter", "expected"),
    [
        # Exponential backoff from `backoff_seconds`, the failed attempt counted.
        (_transient(), 1, 1.0, RetryAt(START + timedelta(seconds=2), 2.0)),
        (_transient(), 2, 1.0, RetryAt(START + timedelta(seconds=4), 4.0)),
        (_transient(), 3, 1.0, RetryAt(START + timedelta(seconds=8), 8.0)),
        # Jitter scales the delay, after the cap too (so a capped delay may pass it a little).
        (_transient(), 1, 0.8, RetryAt(START + timedelta(seconds=1.6), 1.6)),
        (_transient(), 2, 1.2, RetryAt(START + timedelta(seconds=4.8), 4.8)),
        # The last attempt gives up; so does any later count.
        (_transient(), 4, 1.0, GiveUp(permanent=False)),
        (_transient(), 9, 1.0, GiveUp(permanent=False)),
        # A permanent error gives up at once, whatever is left.
        (DeliveryError("403 blocked", permanent=True), 1, 1.0, GiveUp(permanent=True)),
        # Throttling waits what the platform asked, and the wait is not an attempt...
        (
            DeliveryError("429", retry_after=30),
            1,
            1.2,
            RetryAt(START + timedelta(seconds=30), 30, counts_attempt=False),
        ),
        # ...even past the last attempt, since the message itself did not fail.
        (
            DeliveryError("429", retry_after=0.5),
            4,
            1.0,
            RetryAt(START + timedelta(seconds=0.5), 0.5, counts_attempt=False),
        ),
        # A retry-after on a permanent error is not throttling: it gives up.
        (DeliveryError("410 gone", retry_after=5, permanent=True), 1, 1.0, GiveUp(permanent=True)),
    ],
)
def test_next_attempt(
    error: DeliveryError, attempts: int, jitter: float, expected: RetryAt | GiveUp
) -> None:
    assert next_attempt(error, attempts, LIMITS, START, jitter=jitter) == expected


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [(4, 10.0), (5, 10.0), (40, 10.0)],
)
def test_backoff_is_capped_at_max_backoff_seconds(attempts: int, delay: float) -> None:
    limits = SenderSettings(max_attempts=50, backoff_seconds=2.0, max_backoff_seconds=10.0)
    decision = next_attempt(_transient(), attempts, limits, START)
    assert decision == RetryAt(START + timedelta(seconds=delay), delay)


def test_one_attempt_allowed_gives_up_after_the_first_failure() -> None:
    limits = SenderSettings(max_attempts=1)
    assert next_attempt(_transient(), 1, limits, START) == GiveUp(permanent=False)
