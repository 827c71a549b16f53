"""The outbox sender: delivers committed messages, in order per member, with durable retries.

Every attempt is leased in the database first, so a message is never lost (a crashed send is
retried once its lease runs out) and never sent twice by two workers. A process renews the
leases of the messages it holds (waiting for their turn under a rate limit, say) while it
lives, so a backlog longer than one lease stays with the process that holds it. The one gap
no system can close is a crash between the platform accepting a message and our recording
it: that message is sent again after the lease expires (at-least-once at the wire, for that
instant).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot import metrics
from bot.adapter import Adapter, DeliveryError
from bot.messages import OutgoingMessage
from bot.settings import SenderSettings
from bot.throttle import Sent, Throttle, bulk_limits
from storage import campaigns, outbox
from storage.models import Outbox
from storage.session import Database, Session

log = logging.getLogger("onramp.sender")
RECORDING_WAIT_SECONDS = 5.0  # a status about a message waits this long for its record
LEASE_ROOM_SECONDS = 15.0  # a send must start this long before its lease runs out
BEHIND_RETRY_SECONDS = (0.0, 0.25, 1.0, 3.0)  # rows behind a message sent elsewhere, then sweep
HELD_BATCHES = 10  # the sweep leases no more while this many batches' rows are held
CAMPAIGN_STATE_SECONDS = 1.0  # how stale a campaign's cancelled-or-not may be at a send
BATCH_PATIENCE = 0.05  # seconds new rows wait for the batch in flight before going beside it


@dataclass
class _Result:
    row: Outbox
    delivery_id: str | None = None
    error: DeliveryError | None = None
    attempted: bool = True
    retrying: bool = False  # after an error: the row was scheduled for another attempt
    lease_lost: bool = False  # its lease ran out before it could go: it is the sweep's now
    holds_slot: bool = False  # holds one of the `concurrency` slots until it is recorded
    cancelled: bool = False  # its campaign was cancelled while it waited: it never goes


class Sender:
    def __init__(
        self,
        db: Database,
        adapters: Mapping[str, Adapter],
        settings: SenderSettings,
        clock: Callable[[], datetime],
        campaign_reserve: float = 0.2,
    ) -> None:
        self.db = db
        # The share of each platform's rate campaigns leave to conversations while members
        # are chatting.
        self.campaign_reserve = campaign_reserve
        self.adapters = adapters
        self.settings = settings
        self.clock = clock
        self._wanted: set[int] = set()
        self._claimed: list[Outbox] = []  # leased by the transaction that wrote them
        # Per recipient (platform, recipient), rows waiting for an earlier message to them
        # that this process is sending, or will retry within a sweep (`_sending`, counting
        # each batch and each retry timer): kicked once that outcome is recorded.
        self._behind: dict[tuple[str, str], set[int]] = defaultdict(set)
        self._sending: Counter[tuple[str, str]] = Counter()
        self._behind_tries: dict[int, int] = {}
        # Rows leased by this process whose outcome is not yet recorded: until when (renewed).
        self._held: dict[int, datetime] = {}
        self._wake = asyncio.Event()
        self._waiters: dict[int, list[_Countdown]] = defaultdict(list)
        self._semaphore = asyncio.Semaphore(settings.concurrency)
        self._recorder = GroupCommit(self._record)
        # Renewing leases and recording outcomes update the same rows in no common order: on
        # PostgreSQL, side by side, they deadlock, and the outcomes rolled back with the loser
        # are sent again once their leases run out. One at a time, then.
        self._writing = asyncio.Lock()
        self._unrecorded: dict[str, asyncio.Future[None]] = {}
        self._deliveries: set[asyncio.Task[Any]] = set()
        self.throttle = Throttle()
        self.stats: dict[str, int] = defaultdict(int)
        # Per campaign: when its state was read (loop time), and whether it was cancelled.
        self._campaigns: dict[int, tuple[float, bool]] = {}
        self._campaigns_read = asyncio.Lock()

    def kick(self, outbox_ids: Iterable[int]) -> None:
        """Deliver these soon (they were just committed)."""
        self._wanted.update(outbox_ids)
        self._wake.set()

    async def recorded(self, delivery_id: str) -> None:
        """Wait until a message this process has just sent is recorded with its delivery id,
        if it is not yet: the platform may report on it (WhatsApp statuses) within
        milliseconds, before the sender's commit."""
        pending = self._unrecorded.get(delivery_id)
        if pending is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(pending), RECORDING_WAIT_SECONDS)

    async def claim_in(self, session: Session, outbox_ids: list[int]) -> list[Outbox]:
        """Lease rows within the transaction that wrote them, saving a transaction of its own;
        hand what this returns to `deliver_claimed` once that transaction has committed. Rows
        behind an earlier undelivered message to the same recipient are not leased: they go
        once that message's outcome is recorded (or with the sweep, if another process or a
        retry holds it)."""
        if not outbox_ids:
            return []
        claimed: list[Outbox] = await outbox.claim(
            session,
            self.clock(),
            timedelta(seconds=self.settings.lease_seconds),
            len(outbox_ids),
            ids=outbox_ids,
            platforms=list(self.adapters),
        )
        if len(claimed) < len(outbox_ids):
            await self._wait_behind(session, set(outbox_ids) - {row.id for row in claimed})
        return claimed

    def deliver_claimed(self, rows: Iterable[Outbox]) -> None:
        self._claimed.extend(rows)
        self._wake.set()

    async def deliver_claimed_now(self) -> None:
        """Deliver the rows handed over by `deliver_claimed` (the run loop does this)."""
        if self._claimed:
            claimed, self._claimed = self._claimed, []
            await self._deliver_rows(claimed)

    async def quiesce(self) -> None:
        """For stopping: wait until no message is out with a platform unrecorded, and keep it
        so (every sending slot is taken and kept). What is cancelled after this was not sent,
        so nothing goes twice after the restart."""
        for _ in range(self.settings.concurrency):
            await self._semaphore.acquire()

    def settled(self, outbox_ids: Iterable[int]) -> asyncio.Future[None]:
        """Resolves once each of these rows has had its delivery attempt."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        unique = set(outbox_ids)
        waiting = _Countdown(done, len(unique))
        for outbox_id in unique:
            self._waiters[outbox_id].append(waiting)
        if waiting.remaining == 0:
            done.set_result(None)
        return done

    async def run(self) -> None:
        """Deliver handed-over and kicked rows at once, and sweep for anything left over every
        so often. Rows that arrive while a batch is out wait for it and go together (fewer,
        larger commits), unless that batch has been out longer than `BATCH_PATIENCE` — waiting
        on a rate limit, say one member's messages a second apart: then they go in a batch of
        their own beside it. A member's later messages are never leased while earlier ones are
        in flight, so their order holds either way."""
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        sweeping: asyncio.Task[None] | None = None
        current: asyncio.Task[Any] | None = None
        current_since = 0.0
        try:
            while True:
                timeout = max(0.0, next_sweep - loop.time())
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
                self._wake.clear()
                if self._claimed or self._wanted:
                    if current is None or current.done():
                        waited = 0.0
                    else:
                        waited = loop.time() - current_since
                    if current is None or current.done() or waited >= BATCH_PATIENCE:
                        current, current_since = self._start(self._next_batch()), loop.time()
                    else:
                        loop.call_later(BATCH_PATIENCE - waited, self._wake.set)
                if loop.time() >= next_sweep:
                    if sweeping is None or sweeping.done():
                        sweeping = self._start(self._renew_then_sweep())
                    next_sweep = loop.time() + self.settings.sweep_seconds
        finally:
            for task in self._deliveries:
                task.cancel()
            await asyncio.gather(*self._deliveries, return_exceptions=True)

    async def _next_batch(self) -> None:
        claimed, self._claimed = self._claimed, []
        wanted, self._wanted = list(self._wanted), set()
        if claimed:
            await self._deliver_rows(claimed)
        if wanted:
            await self.deliver(wanted)

    async def _renew_then_sweep(self) -> None:
        await self.renew()
        await self.sweep()

    async def renew(self) -> None:
        """Extend the leases of held rows that are past half their lease (the sweep comes
        every `sweep_seconds`, well within a lease)."""
        now = self.clock()
        lease = timedelta(seconds=self.settings.lease_seconds)
        due = [outbox_id for outbox_id, until in self._held.items() if until - now < lease / 2]
        if not due:
            return
        lease_until = now + lease
        async with self._writing, self.db.transaction() as session:
            renewed = await outbox.renew(session, due, now, lease_until)
        for outbox_id in renewed:
            if outbox_id in self._held:  # not recorded meanwhile
                self._held[outbox_id] = lease_until

    async def sweep(self) -> None:
        """Lease due rows nobody holds (new, retried, or left by a process that died) and
        start delivering them, without waiting for them to go."""
        # Rows behind a message this process is not sending are the sweep's: it takes them
        # once whatever holds them lets go.
        for recipient in [r for r in self._behind if r not in self._sending]:
            del self._behind[recipient]
        self._behind_tries.clear()
        while len(self._held) < HELD_BATCHES * self.settings.batch_size:
            rows = await self._claim_due(None)
            if rows:
                self._start(self._deliver_rows(rows))
            if len(rows) < self.settings.batch_size:
                break
        self.throttle.forget_idle()

    def _start(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(work)
        self._deliveries.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._deliveries.discard(task)
        self._wake.set()  # what waited for this batch may go
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery failed", exc_info=task.exception())

    async def _wait_behind(self, session: Session, outbox_ids: Iterable[int]) -> None:
        """Remember rows that could not be leased because an earlier message to the same
        recipient is open, to kick them when this process records that message's outcome.
        If this process is not sending to that recipient (its outcome was recorded between
        the claim and now, or another process or a retry holds it), they are tried again a
        few times, soon (`BEHIND_RETRY_SECONDS`), then left to the sweep."""
        loop = asyncio.get_running_loop()
        for outbox_id, recipient in (await outbox.recipients(session, list(outbox_ids))).items():
            if recipient in self._sending:
                self._behind[recipient].add(outbox_id)
                continue
            tries = self._behind_tries.get(outbox_id, 0)
            if tries < len(BEHIND_RETRY_SECONDS):
                self._behind_tries[outbox_id] = tries + 1
                loop.call_later(BEHIND_RETRY_SECONDS[tries], self.kick, (outbox_id,))

    async def deliver(self, outbox_ids: list[int] | None) -> int:
        """Claim and deliver the given rows (or any due rows); returns how many were claimed.
        Given rows that cannot go yet (an earlier message to the same recipient is out) go
        when its outcome is recorded."""
        claimed = await self._claim_due(outbox_ids)
        await self._deliver_rows(claimed)
        return len(claimed)

    async def _claim_due(self, outbox_ids: list[int] | None) -> list[Outbox]:
        now = self.clock()
        lease = timedelta(seconds=self.settings.lease_seconds)
        claimed: list[Outbox] = []
        for start in range(0, len(outbox_ids or [None]), self.settings.batch_size):
            chunk = (
                None if outbox_ids is None else outbox_ids[start : start + self.settings.batch_size]
            )
            async with self.db.transaction() as session:
                rows = await outbox.claim(
                    session,
                    now,
                    lease,
                    self.settings.batch_size,
                    ids=chunk,
                    platforms=list(self.adapters),
                )
                if chunk is not None and len(rows) < len(chunk):
                    await self._wait_behind(session, set(chunk) - {row.id for row in rows})
            claimed += rows
        return claimed

    async def _deliver_rows(self, claimed: list[Outbox]) -> None:
        by_recipient: dict[tuple[str, str], list[Outbox]] = defaultdict(list)
        for row in sorted(claimed, key=lambda row: row.id or 0):
            by_recipient[(row.platform, row.recipient)].append(row)
        for recipient, rows in list(by_recipient.items()):
            held = [row for row in rows if (row.id or 0) in self._held]
            if held:
                # Claimed again by this process's own sweep: its lease ran out while it waited
                # here (a lease not renewed in time). The task that has it sends it once, under
                # the new lease; rows behind it go when their own leases run out.
                for row in held:
                    if row.lease_until is not None:
                        self._held[row.id or 0] = row.lease_until
                del by_recipient[recipient]
                continue
            for row in rows:
                self._behind_tries.pop(row.id or 0, None)
                if row.lease_until is not None:
                    self._held[row.id or 0] = row.lease_until
        self._sending.update(by_recipient.keys())  # until `_send_in_order` is done with them
        await asyncio.gather(*(self._send_in_order(rows) for rows in by_recipient.values()))

    async def _send_in_order(self, rows: list[Outbox]) -> None:
        """One member's messages, one at a time, each recorded before the next is sent: a crash
        can then repeat at most the single message that was in flight for this member. Then
        the rows that waited behind them may go."""
        recipient = (rows[0].platform, rows[0].recipient)
        try:
            await self._send_rows_in_order(rows)
        finally:
            for row in rows:  # whatever was not recorded is no longer this process's to renew
                self._held.pop(row.id or 0, None)
            self._done_sending(recipient)
            behind = self._behind.pop(recipient, None)
            if behind:
                self.kick(behind)

    def _done_sending(self, recipient: tuple[str, str]) -> None:
        self._sending[recipient] -= 1
        if self._sending[recipient] <= 0:
            del self._sending[recipient]

    async def _send_rows_in_order(self, rows: list[Outbox]) -> None:
        for position, row in enumerate(rows):
            result = await self._send_one(row)
            try:
                if result.lease_lost:
                    # Another worker may hold this row (and those after it) now: touch none of
                    # them; the sweep delivers them, in order, once their leases have run out.
                    log.warning("a lease ran out before its message could go; left to the sweep")
                    return
                await self._recorder.record(result)
            finally:
                if result.holds_slot:
                    self._semaphore.release()
            if result.error is not None:
                await self._recorder.record_all(
                    [_Result(later, attempted=False) for later in rows[position + 1 :]]
                )
                return

    async def _send_one(self, row: Outbox) -> _Result:
        adapter = self.adapters[row.platform]
        message = OutgoingMessage.from_payload(row.platform, row.recipient, row.payload, row.id)
        rate_limits = getattr(adapter, "rate_limits", None)
        counted: Sent | None = None
        if self._lease_left(row) <= 0:
            return _Result(row, attempted=False, lease_lost=True)
        if rate_limits is not None:
            # Wait for the platform's limits, but only while the lease lasts (with room for
            # the send): a longer wait hands the message back to the outbox until then.
            limits = rate_limits(message)
            bulk = message.campaign is not None
            if bulk:
                limits = bulk_limits(limits, self.campaign_reserve)
            taken = await self.throttle.acquire(
                row.platform, limits, max_wait=lambda: self._lease_left(row), bulk=bulk
            )
            if not isinstance(taken, Sent):
                reason = "held back to stay within the platform's rate limit"
                return _Result(row, error=DeliveryError(reason, retry_after=taken))
            counted = taken
        try:
            # A slot from here until the outcome is recorded (the caller lets it go): what a
            # crash would send again, handed over but unrecorded, stays within `concurrency`
            # however fast the platforms take messages. Waiting for a limit holds no slot.
            await self._semaphore.acquire()
            try:
                if self._lease_left(row) <= 0:
                    result = _Result(row, attempted=False, lease_lost=True)
                elif message.campaign is not None and await self._cancelled(message.campaign):
                    result = _Result(row, attempted=False, cancelled=True)
                else:
                    result = await self._delivered(adapter, message, row)
            except BaseException:
                self._semaphore.release()
                raise
            result.holds_slot = True
            return result
        finally:
            if counted is not None:
                counted.arrived()

    async def _cancelled(self, campaign_id: int) -> bool:
        """Was this campaign cancelled (as of a second ago)? A campaign's messages waiting in
        the throttle when a manager cancels it then do not go."""
        loop = asyncio.get_running_loop()
        known = self._campaigns.get(campaign_id)
        if known is not None and loop.time() - known[0] < CAMPAIGN_STATE_SECONDS:
            return known[1]
        async with self._campaigns_read:
            known = self._campaigns.get(campaign_id)
            if known is None or loop.time() - known[0] >= CAMPAIGN_STATE_SECONDS:
                async with self.db.reading() as session:
                    cancelled = await campaigns.is_cancelled(session, campaign_id)
                known = (loop.time(), cancelled)
                self._campaigns[campaign_id] = known
        return known[1]

    def _lease_left(self, row: Outbox) -> float:
        """Seconds this worker may still start sending `row`: its lease, less room for the
        send itself to finish within it (after that, a sweep may lease and send it again)."""
        lease_until = self._held.get(row.id or 0, row.lease_until)
        if lease_until is None:
            return 0.0
        room = min(LEASE_ROOM_SECONDS, self.settings.lease_seconds / 4)
        return (lease_until - self.clock()).total_seconds() - room

    async def _delivered(self, adapter: Adapter, message: OutgoingMessage, row: Outbox) -> _Result:
        try:
            delivery_id = await adapter.send(message)
            # Until its outcome is committed, a status the platform sends about it waits.
            self._unrecorded.setdefault(delivery_id, asyncio.get_running_loop().create_future())
            return _Result(row, delivery_id=delivery_id)
        except DeliveryError as exc:
            return _Result(row, error=exc)
        except Exception as exc:  # an adapter bug must not stop other members' messages
            log.exception("adapter %s failed to send", row.platform)
            return _Result(row, error=DeliveryError(f"{type(exc).__name__}: {exc}"))

    async def _record(self, results: list[_Result]) -> None:
        try:
            await self._record_outcomes(results)
        finally:  # recorded, or never will be by this attempt: nobody waits for it any more
            for result in results:
                self._held.pop(result.row.id or 0, None)
                recorded = self._unrecorded.pop(result.delivery_id or "", None)
                if recorded is not None and not recorded.done():
                    recorded.set_result(None)

    async def _record_outcomes(self, results: list[_Result]) -> None:
        now = self.clock()
        async with self._writing, self.db.transaction() as session:
            await outbox.mark_sent(
                session,
                [
                    (r.row.id or 0, r.delivery_id or "")
                    for r in results
                    if r.attempted and r.error is None
                ],
                now,
            )
            await outbox.release(
                session, [r.row.id or 0 for r in results if not r.attempted and not r.cancelled]
            )
            stopped = [r.row.id or 0 for r in results if r.cancelled]
            if stopped:
                await outbox.cancel_leased(session, stopped)
                await campaigns.record_cancelled(session, stopped, now)
            for result in results:
                if result.error is not None:
                    result.retrying = await self._record_failure(
                        session, result.row, result.error, now
                    )
            await _record_campaigns(session, results, now)
        for result in results:
            outcome = (
                "not_attempted"
                if not result.attempted
                else ("sent" if result.error is None else "failed_attempt")
            )
            self.stats[f"{result.row.platform}.{outcome}"] += 1
            if result.attempted:
                _count(result)
            for waiting in self._waiters.pop(result.row.id or 0, []):
                waiting.tick()

    async def _record_failure(
        self, session: Session, row: Outbox, error: DeliveryError, now: datetime
    ) -> bool:
        """Schedule the next attempt, or give up; True if there will be another attempt."""
        assert row.id is not None
        if error.retry_after is not None and not error.permanent:
            # Throttling is the platform asking us to wait, not a failure of the message.
            await outbox.retry_later(
                session,
                row.id,
                now + timedelta(seconds=error.retry_after),
                error.reason,
                count_attempt=False,
            )
            self._retry_in(error.retry_after, row)
            return True
        if error.permanent or row.attempts >= self.settings.max_attempts:
            log.warning(
                "message failed for good",
                extra={"platform": row.platform, "reason": error.reason[:200]},
            )
            await outbox.mark_failed(session, row.id, error.reason)
            return False
        delay = min(
            self.settings.max_backoff_seconds,
            self.settings.backoff_seconds * 2 ** (row.attempts - 1),
        )
        delay *= random.uniform(0.8, 1.2)
        await outbox.retry_later(session, row.id, now + timedelta(seconds=delay), error.reason)
        self._retry_in(delay, row)
        return True

    def _retry_in(self, seconds: float, row: Outbox) -> None:
        """Try again as soon as the row is due, rather than at the next sweep; the member's
        later messages wait for it, and go once it is recorded."""
        if seconds >= self.settings.sweep_seconds:
            return
        recipient = (row.platform, row.recipient)
        self._sending[recipient] += 1

        def due() -> None:
            self._done_sending(recipient)
            self.kick((row.id or 0,))

        asyncio.get_running_loop().call_later(seconds, due)


async def _record_campaigns(session: Session, results: list[_Result], now: datetime) -> None:
    """The outcome of campaign messages on their recipient rows, in the same transaction."""
    ours = [r for r in results if r.attempted and r.row.payload.get("campaign") is not None]
    if not ours:
        return
    sent = [(r.row.id or 0, r.delivery_id or "") for r in ours if r.error is None]
    failed = [
        (r.row.id or 0, r.error.reason, not r.error.permanent)
        for r in ours
        if r.error is not None and not r.retrying
    ]
    await campaigns.record_sent(session, sent, now)
    await campaigns.record_failed(session, failed, now)


def _count(result: _Result) -> None:
    """Metrics for one committed outcome of a delivery attempt."""
    platform = result.row.platform
    if result.error is None:
        metrics.sent(platform)
    elif result.retrying:
        metrics.retried(platform)
    else:
        metrics.failed(platform)


class _Countdown:
    """Resolves a future once `remaining` rows have had their attempt (one per event)."""

    __slots__ = ("future", "remaining")

    def __init__(self, future: asyncio.Future[None], remaining: int) -> None:
        self.future = future
        self.remaining = remaining

    def tick(self) -> None:
        self.remaining -= 1
        if self.remaining <= 0 and not self.future.done():
            self.future.set_result(None)


class GroupCommit:
    """Writes the outcomes that arrive together in one transaction (a group commit), while
    each caller waits until its own outcome is durable."""

    def __init__(self, write: Callable[[list[_Result]], Awaitable[None]]) -> None:
        self._write = write
        self._pending: list[tuple[_Result, asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def record(self, result: _Result) -> None:
        await self.record_all([result])

    async def record_all(self, results: list[_Result]) -> None:
        if not results:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.extend((r, future) for r in results)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        while self._pending:
            await asyncio.sleep(0)  # let every sender that is ready join this commit
            batch, self._pending = self._pending, []
            try:
                await self._write([result for result, _ in batch])
            except BaseException as exc:  # every waiter learns of it, whatever it is
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(None)
