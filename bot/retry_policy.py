"""What to do after a failed delivery attempt: try again at some time, or give up.

A pure function of the error, the attempts so far and the limits in `[sender]`: no database,
no clock, no randomness of its own (the caller draws the jitter), so every case is a line of a
table in its test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.adapter import DeliveryError

JITTER = (0.8, 1.2)  # the range a backoff is scaled by, so failed messages do not retry in step


class RetryLimits(Protocol):
    """The `[sender]` settings the policy reads (`SenderSettings` has them)."""

    @property
    def max_attempts(self) -> int: ...

    @property
    def backoff_seconds(self) -> float: ...

    @property
    def max_backoff_seconds(self) -> float: ...


@dataclass(frozen=True)
class RetryAt:
    """Send it again at `at`, `delay` seconds from now."""

    at: datetime
    delay: float
    # False when the platform only asked us to wait (throttling): the message did not fail.
    counts_attempt: bool = True


@dataclass(frozen=True)
class GiveUp:
    """The message failed for good (it is kept as failed, with its reason)."""

    # True if the platform refused it for good; False if it ran out of attempts.
    permanent: bool


Decision = RetryAt | GiveUp


def next_attempt(
    error: DeliveryError,
    attempts: int,
    limits: RetryLimits,
    now: datetime,
    jitter: float = 1.0,
) -> Decision:
    """After `attempts` attempts (the failed one included): a throttled message waits what the
    platform asked, without the wait counting as an attempt; a permanent error, or the last of
    `max_attempts`, gives up; anything else backs off exponentially from `backoff_seconds`,
    capped at `max_backoff_seconds`, then scaled by `jitter` (drawn from `JITTER`)."""
    if error.retry_after is not None and not error.permanent:
        # Throttling is the platform asking us to wait, not a failure of the message.
        delay = error.retry_after
        return RetryAt(now + timedelta(seconds=delay), delay, counts_attempt=False)
    if error.permanent or attempts >= limits.max_attempts:
        return GiveUp(permanent=error.permanent)
    delay = min(limits.max_backoff_seconds, limits.backoff_seconds * 2 ** (attempts - 1))
    delay *= jitter
    return RetryAt(now + timedelta(seconds=delay), delay)
