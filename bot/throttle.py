"""Keeping every platform within its rate limits, before it has to say 429.

Each adapter names the limits a message counts against (`Adapter.rate_limits`): 1 message a
second per Slack channel, 30 a second overall and 20 a minute per group on Telegram… The
sender asks the throttle before each send; the throttle keeps, per limit, the times of the
last sends (a sliding window, the way the platforms count) and says how long to wait. A
small margin absorbs the network's jitter between our clock and the platform's. A 429 that
gets through anyway is still honoured (`DeliveryError.retry_after`).
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
        self._sent: dict[str, deque[float]] = {}

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
            while sent and now - sent[0] >= window - EPSILON:
                sent.popleft()
            if len(sent) >= limit.count:
                wait = max(wait, window - (now - sent[-limit.count]))
        return wait

    def take(self, platform: str, limits: Sequence[RateLimit]) -> None:
        """Count a message that is going now."""
        now = self._now()
        for limit in limits:
            sent = self._sent.setdefault(f"{platform}:{limit.key}", deque())
            sent.append(now)
            while len(sent) > limit.count:
                sent.popleft()

    async def acquire(
        self, platform: str, limits: Sequence[RateLimit], max_wait: float
    ) -> float | None:
        """Wait until the message may go and count it; or, if that would take longer than
        `max_wait`, return how long it would take without counting anything."""
        while (wait := self.wait_for(platform, limits)) > 0:
            if wait > max_wait:
                return wait
            await asyncio.sleep(wait)
        self.take(platform, limits)
        return None

    def forget_idle(self) -> None:
        """Drop the windows of keys nobody has sent to lately (a long-running process meets
        many chats); called now and then by the sender."""
        now = self._now()
        idle = [key for key, sent in self._sent.items() if not sent or now - sent[-1] > 3600]
        for key in idle:
            del self._sent[key]
