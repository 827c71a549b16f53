"""The outbox sender: delivers committed messages, in order per member, with durable retries.

Every attempt is leased in the database first, so a message is never lost (a crashed send is
retried once its lease runs out) and never sent twice by two workers. A process renews the
leases of the messages it holds (waiting for their turn under a rate limit, say) while it
lives, so a backlog longer than one lease stays with the process that holds it. The one gap
no system can close is a crash between the platform accepting a message and our recording
it: that message is sent again after the lease expires (at-least-once at the wire, for that
instant).

With several replicas on PostgreSQL, one of them sends: the one holding the sender's lock
(`bot.leadership`), so one throttle keeps each platform within its limits (a throttle per
replica sent N times the limit, and the platforms answered 429). The others commit their
messages and tell it (`NOTIFY`); it listens (`lead`) and sweeps them at once. If it dies,
another replica takes the lock over and sweeps what its leases held once they run out.

Here: the send loop, leases, and the order of each member's messages. What became of each
attempt is written by `bot.outcomes` (with `bot.retry_policy` deciding retries), in group
commits (`bot.group_commit`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from bot import metrics
from bot.adapter import Adapter, DeliveryError
from bot.messages import OutgoingMessage
from bot.outcomes import Outcome, Outcomes
from bot.settings import SenderSettings
from bot.throttle import Sent, Throttle, bulk_limits
from storage import campaigns, database, outbox
from storage.models import Outbox
from storage.session import Database, Session

log = logging.getLogger("onramp.sender")
LEASE_ROOM_SECONDS = 15.0  # a send must start this long before its lease runs out
BEHIND_RETRY_SECONDS = (0.0, 0.25, 1.0, 3.0)  # rows behind a message sent elsewhere, then sweep
HELD_BATCHES = 10  # the sweep leases no more while this many batches' rows are held
CAMPAIGN_STATE_SECONDS = 1.0  # how stale a campaign's cancelled-or-not may be at a send
LISTEN_CHECK_SECONDS = 5.0  # the sending replica checks its listening connection this often
BATCH_PATIENCE = 0.05  # seconds new rows wait for the batch in flight before going beside it


class Sender:
    """Delivers the outbox of the platforms in `adapters`: `run` is its loop."""

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
        self._semaphore = asyncio.Semaphore(settings.concurrency)
        self.outcomes = Outcomes(db, settings, clock, self._retry_in, self._let_go)
        self._deliveries: set[asyncio.Task[Any]] = set()
        self.throttle = Throttle()
        self.stats = self.outcomes.stats
        # Per campaign: when its state was read (loop time), and whether it was cancelled.
        self._campaigns: dict[int, tuple[float, bool]] = {}
        self._campaigns_read = asyncio.Lock()
        # Whether this process sends: on PostgreSQL, while it holds the sender's lock (the
        # runtime sets this); SQLite has one process.
        self.leading: Callable[[], bool] = lambda: True
        self._sweep_asked = False
        self._telling: asyncio.Task[None] | None = None
        self._tell_again = False

    def kick(self, outbox_ids: Iterable[int]) -> None:
        """Deliver these soon (they were just committed); or, where another replica sends,
        tell it."""
        if not self.leading():
            self._tell_the_sender()
            return
        self._wanted.update(outbox_ids)
        self._wake.set()

    def sweep_soon(self) -> None:
        """Sweep now (another replica committed messages), or once the sweep in progress is
        over."""
        self._sweep_asked = True
        self._wake.set()

    def _tell_the_sender(self) -> None:
        """NOTIFY the sending replica: one statement at a time, and one more for whatever
        was committed while it was on its way."""
        self._tell_again = True
        if self._telling is None or self._telling.done():
            self._telling = asyncio.create_task(self._tell(), name="onramp-tell-sender")

    async def _tell(self) -> None:
        while self._tell_again:
            self._tell_again = False
            try:
                await outbox.notify(self.db)
            except Exception as exc:  # it sweeps every `sweep_seconds` anyway
                log.warning("could not tell the sending replica: %s", exc)

    async def lead(self) -> None:
        """The sending replica's work, while it holds the sender's lock (`bot.leadership`
        cancels it when the lock is lost): hear the other replicas' messages and sweep them
        at once; first, whatever waited for a sender."""
        async with self.db.engine.connect() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
            assert raw is not None

            def heard(*_: object) -> None:
                self.sweep_soon()

            await raw.add_listener(outbox.CHANNEL, heard)
            try:
                self.sweep_soon()
                # raises once the connection is gone: the lock's owner restarts it
                await database.watch(connection, LISTEN_CHECK_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    await raw.remove_listener(outbox.CHANNEL, heard)

    async def recorded(self, delivery_id: str) -> None:
        """Wait until a message this process has just sent is recorded with its delivery id,
        if it is not yet: the platform may report on it (WhatsApp statuses) within
        milliseconds, before the sender's commit."""
        await self.outcomes.recorded(delivery_id)

    async def claim_in(self, session: Session, outbox_ids: list[int]) -> list[Outbox]:
        """Lease rows within the transaction that wrote them, saving a transaction of its own;
        hand what this returns to `deliver_claimed` once that transaction has committed. Rows
        behind an earlier undelivered message to the same recipient are not leased: they go
        once that message's outcome is recorded (or with the sweep, if another process or a
        retry holds it). None are leased where another replica sends."""
        if not outbox_ids or not self.leading():
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
        return self.outcomes.settled(outbox_ids)

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
                if loop.time() >= next_sweep or self._sweep_asked:
                    if sweeping is None or sweeping.done():
                        self._sweep_asked = False  # (asked during a sweep: one more after it)
                        sweeping = self._start(self._renew_then_sweep())
                        next_sweep = loop.time() + self.settings.sweep_seconds
                    elif loop.time() >= next_sweep:
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
        async with self.outcomes.writing, self.db.transaction() as session:
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
        if not self.leading():
            return  # another replica sends (this one still renews what it holds)
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
                await self.outcomes.record(result)
            finally:
                if result.holds_slot:
                    self._semaphore.release()
            if result.error is not None:
                await self.outcomes.record_all(
                    [Outcome(later, attempted=False) for later in rows[position + 1 :]]
                )
                return

    async def _send_one(self, row: Outbox) -> Outcome:
        adapter = self.adapters[row.platform]
        message = OutgoingMessage.from_payload(row.platform, row.recipient, row.payload, row.id)
        counted: Sent | None = None
        if self._lease_left(row) <= 0:
            return Outcome(row, attempted=False, lease_lost=True)
        limits = adapter.rate_limits(message)
        if limits:
            # Wait for the platform's limits, but only while the lease lasts (with room for
            # the send): a longer wait hands the message back to the outbox until then.
            bulk = message.campaign is not None
            if bulk:
                limits = bulk_limits(limits, self.campaign_reserve)
            taken = await self.throttle.acquire(
                row.platform, limits, max_wait=lambda: self._lease_left(row), bulk=bulk
            )
            if not isinstance(taken, Sent):
                reason = "held back to stay within the platform's rate limit"
                return Outcome(row, error=DeliveryError(reason, retry_after=taken))
            counted = taken
        try:
            # A slot from here until the outcome is recorded (the caller lets it go): what a
            # crash would send again, handed over but unrecorded, stays within `concurrency`
            # however fast the platforms take messages. Waiting for a limit holds no slot.
            await self._semaphore.acquire()
            try:
                if self._lease_left(row) <= 0:
                    result = Outcome(row, attempted=False, lease_lost=True)
                elif message.campaign is not None and await self._cancelled(message.campaign):
                    result = Outcome(row, attempted=False, cancelled=True)
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

    async def _delivered(self, adapter: Adapter, message: OutgoingMessage, row: Outbox) -> Outcome:
        if row.last_error == outbox.OUTCOME_UNKNOWN:
            found = await self._already_sent(adapter, message)
            if found is not None:
                return Outcome(row, delivery_id=found)
        try:
            delivery_id = await adapter.send(message)
            self.outcomes.handed_over(delivery_id)
            return Outcome(row, delivery_id=delivery_id)
        except DeliveryError as exc:
            return Outcome(row, error=exc)
        except Exception as exc:  # an adapter bug must not stop other members' messages
            log.exception("adapter %s failed to send", row.platform)
            return Outcome(row, error=DeliveryError(f"{type(exc).__name__}: {exc}"))

    async def _already_sent(self, adapter: Adapter, message: OutgoingMessage) -> str | None:
        """After an attempt whose outcome was lost: the platform's id for the message if it
        has it already (then it is recorded as sent, not sent twice)."""
        try:
            found = await adapter.already_sent(message)
        except Exception:  # an adapter bug: sending again is what happens without the check
            log.exception("adapter %s could not say whether it had a message", adapter.name)
            return None
        if found is not None:
            metrics.not_resent(adapter.name)
            log.info(
                "message already on the platform; not sent again", extra={"platform": adapter.name}
            )
        return found

    def _let_go(self, outbox_id: int) -> None:
        """Its outcome is recorded, or never will be by this attempt: not ours to renew."""
        self._held.pop(outbox_id, None)

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
