"""Keeping every platform within its rate limits, before it has to say 429.

Each adapter names the limits a message counts against (`Adapter.rate_limits`): 1 message a
second per Slack channel, 30 a second overall and 20 a minute per group on Telegram… The
sender asks the throttle before each send; the throttle keeps, per limit, the times of the
last sends (a sliding window, the way the platforms count) and says how long to wait. Each
send's time is moved to when the platform answered it, so requests that overtake each other
on the way cannot land two in one window; a small margin absorbs the rest of the network's
jitter. A 429 that gets through anyway is still honoured (`DeliveryError.retry_after`).

When more messages wait than a shared limit lets through (a workspace's 50 a second, with
150 newcomers each owed a message), the next free slot goes to the chat served least
recently: round robin. Every newcomer's welcome then goes within one round, and members'
backlogs shrink together, so the end of a burst does not trail on a few chats at 1 a second
while the shared limit sits idle.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.adapter import RateLimit

BULK = "bulk:"  # a campaign's own share of a limit: RateLimit("bulk:" + the limit's key, …)
CHAT_IDLE_SECONDS = 10.0  # no conversation this long on a limit: campaigns may use all of it
MARGIN = 0.01  # of each window, at least MIN_MARGIN seconds
MIN_MARGIN = 0.01
EPSILON = 1e-6  # float rounding: a window that has just passed has passed
BULK_TURNS = 2  # campaign messages each turn considers: this many times their largest limit


class Throttle:
    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock
        # Per limit, the sends that may still be in its window, in the order they left; a
        # send's time moves from when it left to when the platform had surely received it,
        # so the times are not in order.
        self._sent: dict[str, list[_Entry]] = {}
        self._last: dict[str, float] = {}  # per limit, when it last counted a send
        self._chatting: dict[str, float] = {}  # per limit, when a conversation last sent
        self._waiting: list[_Waiter] = []
        # A campaign's backlog (thousands of messages) beyond what a turn could let go: per
        # platform, first come first served. A turn looks only at `_waiting`, so the time it
        # takes, which delays the sends it lets go and so their slots' next turn, does not
        # grow with the backlog.
        self._lobby: dict[str, deque[_Waiter]] = defaultdict(deque)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._order = itertools.count()

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    def wait_for(self, platform: str, limits: Sequence[RateLimit]) -> float:
        """Seconds until a message counting against `limits` may go (0: now)."""
        now = self._now()
        return max((self._limit_wait(platform, limit, now) for limit in limits), default=0.0)

    def _limit_wait(self, platform: str, limit: RateLimit, now: float) -> float:
        if limit.key.startswith(BULK):
            # Campaigns' share: binding only while conversations use the rest (work-conserving).
            chatted = self._chatting.get(f"{platform}:{limit.key.removeprefix(BULK)}")
            if chatted is None or now - chatted > CHAT_IDLE_SECONDS:
                return 0.0
        sent = self._sent.get(f"{platform}:{limit.key}")
        if sent is None or len(sent) < limit.count:
            return 0.0
        window = limit.seconds + max(MIN_MARGIN, limit.seconds * MARGIN)
        # A send still on its way may reach the platform any moment: it counts as now.
        times = [now if entry.on_the_way else entry.at for entry in sent]
        if any(now - at >= window - EPSILON for at in times):
            kept = [i for i, at in enumerate(times) if now - at < window - EPSILON]
            sent[:] = [sent[i] for i in kept]
            times = [times[i] for i in kept]
        if len(times) < limit.count:
            return 0.0
        # One more may go once all but count - 1 of those in the window have left it.
        times.sort()
        return window - (now - times[len(times) - limit.count])

    def take(self, platform: str, limits: Sequence[RateLimit], bulk: bool = False) -> Sent:
        """Count a message that is going now; `Sent.arrived()` once the platform has it."""
        now = self._now()
        entries = []
        for limit in limits:
            key = f"{platform}:{limit.key}"
            self._last[key] = now
            if not bulk:
                self._chatting[key] = now
            entry = _Entry(now)
            self._sent.setdefault(key, []).append(entry)
            entries.append(entry)
        return Sent(entries, self._now)

    async def acquire(
        self,
        platform: str,
        limits: Sequence[RateLimit],
        max_wait: float | Callable[[], float],
        bulk: bool = False,
    ) -> Sent | float:
        """Wait until the message may go and its turn has come, and count it (returning its
        `Sent`); or, if its limits would hold it longer than `max_wait` (seconds, or a
        function saying how many are left now), return how long, counting nothing. `bulk`
        messages (a campaign's) go after every conversation's waiting message."""
        room = max_wait if callable(max_wait) else _fixed(self._now() + max_wait, self._now)
        wait = self.wait_for(platform, limits)
        if wait > room():
            return wait
        if wait <= 0 and not self._waiting and not (bulk and self._lobby.get(platform)):
            return self.take(platform, limits, bulk)
        loop = asyncio.get_running_loop()
        waiter = _Waiter(
            platform, tuple(limits), room, next(self._order), loop.create_future(), bulk
        )
        lobby = self._lobby[platform]
        if bulk and (lobby or self._bulk_waiting(platform) >= _bulk_turn(waiter)):
            lobby.append(waiter)  # a turn lets it in once enough of those before it have gone
        else:
            self._waiting.append(waiter)
        self._grant_in(max(0.0, wait))
        try:
            return await waiter.turn
        finally:
            waiter.turn.cancel()  # a waiter given up on (cancelled) is dropped at the next turn

    def _grant_in(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        at = loop.time() + delay
        if self._timer is not None and self._timer_at <= at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = loop.call_at(at, self._grant), at

    def _grant(self) -> None:
        """Let go every waiting message its limits allow now, least recently served chat
        first; then sleep until the soonest of the rest may go."""
        self._timer, self._timer_at = None, math.inf
        now = self._now()
        waits: dict[str, float] = {}  # per limit, this turn (a send changes only its own)

        def wait_of(waiter: _Waiter) -> float:
            wait = 0.0
            for limit in waiter.limits:
                key = f"{waiter.platform}:{limit.key}"
                if key not in waits:
                    waits[key] = self._limit_wait(waiter.platform, limit, now)
                wait = max(wait, waits[key])
            return wait

        still: list[_Waiter] = []
        soonest = math.inf
        for waiter in sorted(self._waiting, key=self._turn_order):
            if waiter.turn.done():
                continue
            wait = wait_of(waiter)
            if wait <= 0:
                waiter.turn.set_result(self.take(waiter.platform, waiter.limits, waiter.bulk))
                for limit in waiter.limits:
                    waits.pop(f"{waiter.platform}:{limit.key}", None)
            elif wait > waiter.room():
                waiter.turn.set_result(wait)
            else:
                still.append(waiter)
                soonest = min(soonest, wait)
        self._waiting = still
        bulk = Counter(waiter.platform for waiter in still if waiter.bulk)
        for platform, lobby in self._lobby.items():
            while lobby and bulk[platform] < _bulk_turn(lobby[0]):
                waiter = lobby.popleft()
                if not waiter.turn.done():
                    still.append(waiter)
                    bulk[platform] += 1
                    soonest = min(soonest, wait_of(waiter))
        if still:  # the waits are as of `now`: the time this turn took is not added to them
            self._grant_in(max(0.0, soonest - (self._now() - now)))

    def _bulk_waiting(self, platform: str) -> int:
        return sum(1 for waiter in self._waiting if waiter.bulk and waiter.platform == platform)

    def _turn_order(self, waiter: _Waiter) -> tuple[bool, float, int]:
        """Conversations before campaigns; then the chat served longest ago goes first (the
        least recent of the limits the message counts against: a shared limit is always
        recent, a chat's is not)."""
        keys = (f"{waiter.platform}:{limit.key}" for limit in waiter.limits)
        last = min((self._last.get(key, -math.inf) for key in keys), default=-math.inf)
        return waiter.bulk, last, waiter.order

    def forget_idle(self) -> None:
        """Drop the windows of keys nobody has sent to lately (a long-running process meets
        many chats); called now and then by the sender."""
        now = self._now()
        idle = [key for key, last in self._last.items() if now - last > 3600]
        for key in idle:
            self._sent.pop(key, None)
            self._chatting.pop(key, None)
            del self._last[key]


@dataclass(eq=False)
class _Waiter:
    platform: str
    limits: tuple[RateLimit, ...]
    room: Callable[[], float]  # it goes back to the outbox rather than wait longer than this
    order: int  # first come, first served among chats served equally long ago
    turn: asyncio.Future[Sent | float] = field(repr=False)
    bulk: bool = False  # a campaign's: goes after conversations


def _bulk_turn(waiter: _Waiter) -> int:
    """How many of a platform's campaign messages a turn considers: enough to fill their
    largest limit twice over."""
    return BULK_TURNS * max((limit.count for limit in waiter.limits), default=1)


def bulk_limits(limits: Sequence[RateLimit], reserve: float) -> list[RateLimit]:
    """A campaign message's limits: the platform's, plus for each shared one a share of it
    (`1 - reserve`) that campaigns may not exceed while conversations are going on."""
    shares = []
    for limit in limits:
        share = max(1, math.floor(limit.count * (1 - reserve)))
        if share < limit.count:
            shares.append(RateLimit(f"{BULK}{limit.key}", share, limit.seconds))
    return [*limits, *shares]


class _Entry:
    """One send counted against one limit."""

    __slots__ = ("at", "on_the_way")

    def __init__(self, at: float) -> None:
        self.at = at  # when it left; once answered, when the answer came
        self.on_the_way = True


def _fixed(deadline: float, now: Callable[[], float]) -> Callable[[], float]:
    return lambda: deadline - now()


class Sent:
    """One counted message. Counted when it leaves, it may reach the platform later than
    the next one leaves (requests overtake each other): once the platform has answered, its
    time becomes that of the answer, which is after the platform counted it, so the next
    message to the same place cannot arrive inside the platform's window."""

    def __init__(self, entries: list[_Entry], now: Callable[[], float]) -> None:
        self._entries = entries
        self._now = now

    def arrived(self) -> None:
        now = self._now()
        for entry in self._entries:
            entry.at, entry.on_the_way = now, False
