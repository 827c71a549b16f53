"""Keeping every platform within its rate limits, before it has to say 429.

Each adapter names the limits a message counts against (`Adapter.rate_limits`): 1 message a
second per Slack channel, 30 a second overall and 20 a minute per group on Telegram… The
sender asks the throttle before each send; the throttle keeps, per limit, the times of the
last sends (a sliding window, the way the platforms count) and says how long to wait. Each
send's time is moved to when the platform answered it, so requests that overtake each other
on the way cannot land two in one window; a small margin absorbs the rest of the network's
jitter. A 429 that gets through anyway is still honoured (`DeliveryError.retry_after`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence

from bot.adapter import RateLimit

MARGIN = 0.02  # of each window, at least MIN_MARGIN seconds
MIN_MARGIN = 0.01
EPSILON = 1e-6  # float rounding: a window that has just passed has passed


class Throttle:
    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock
        # Per limit, the sends in its window: one-item lists, so a send's time can be moved
        # from when it was counted to when the platform had surely received it.
        self._sent: dict[str, deque[list[float]]] = {}

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    def wait_for(self, platform: str, limits: Sequence[RateLimit]) -> float:
        """Seconds until a message counting against `limits` may go (0: now)."""
        now = self._now()
        wait = 0.0
        for limit in limits:
            sent = self._sent.get(f"{platform}:{limit.key}")
            if sent is None or len(sent) < limit.count:
                continue
            window = limit.seconds + max(MIN_MARGIN, limit.seconds * MARGIN)
            while sent and now - sent[0][0] >= window - EPSILON:
                sent.popleft()
            if len(sent) >= limit.count:
                oldest = min(entry[0] for entry in list(sent)[-limit.count :])
                wait = max(wait, window - (now - oldest))
        return wait

    def take(self, platform: str, limits: Sequence[RateLimit]) -> Sent:
        """Count a message that is going now; `Sent.arrived()` once the platform has it."""
        now = self._now()
        entries = []
        for limit in limits:
            sent = self._sent.setdefault(f"{platform}:{limit.key}", deque())
            entry = [now]
            sent.append(entry)
            entries.append(entry)
            while len(sent) > limit.count:
                sent.popleft()
        return Sent(entries, self._now)

    async def acquire(
        self, platform: str, limits: Sequence[RateLimit], max_wait: float
    ) -> Sent | float:
        """Wait until the message may go and count it (returning its `Sent`); or, if that
        would take longer than `max_wait`, return how long it would take, counting nothing."""
        while (wait := self.wait_for(platform, limits)) > 0:
            if wait > max_wait:
                return wait
            await asyncio.sleep(wait)
        return self.take(platform, limits)

    def forget_idle(self) -> None:
        """Drop the windows of keys nobody has sent to lately (a long-running process meets
        many chats); called now and then by the sender."""
        now = self._now()
        idle = [key for key, sent in self._sent.items() if not sent or now - sent[-1][0] > 3600]
        for key in idle:
            del self._sent[key]


class Sent:
    """One counted message. Counted when it leaves, it may reach the platform later than
    the next one leaves (requests overtake each other): once the platform has answered, its
    time becomes that of the answer, which is after the platform counted it, so the next
    message to the same place cannot arrive inside the platform's window."""

    def __init__(self, entries: list[list[float]], now: Callable[[], float]) -> None:
        self._entries = entries
        self._now = now

    def arrived(self) -> None:
        now = self._now()
        for entry in self._entries:
            entry[0] = now
