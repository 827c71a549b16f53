"""What became of each delivery attempt, written down: sent (with its delivery id), to be tried
again (when, by the retry policy), failed for good, handed back unsent, or cancelled with its
campaign; and the news passed on to whoever waits for it.

Outcomes that arrive together are written in one transaction (a group commit), and each
sender waits until its own is durable before it sends the member's next message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from bot import metrics
from bot.adapter import DeliveryError
from bot.group_commit import GroupCommit
from bot.messages import IF_UNDELIVERED, OutgoingMessage, deleted_once_settled
from bot.retry_policy import JITTER, GiveUp, RetryAt, next_attempt
from bot.settings import SenderSettings
from storage import activity, campaigns, outbox
from storage.models import Outbox
from storage.session import Database, Session

log = logging.getLogger("onramp.sender")
RECORDING_WAIT_SECONDS = 5.0  # a status about a message waits this long for its record


@dataclass
class Outcome:
    """One delivery attempt of one outbox row, as it ended."""

    row: Outbox
    delivery_id: str | None = None
    error: DeliveryError | None = None
    attempted: bool = True
    retrying: bool = False  # after an error: the row was scheduled for another attempt
    lease_lost: bool = False  # its lease ran out before it could go: it is the sweep's now
    holds_slot: bool = False  # holds one of the `concurrency` slots until it is recorded
    cancelled: bool = False  # its campaign was cancelled while it waited: it never goes


class Outcomes:
    """Records outcomes for the sender. `retry_in(seconds, row)` is told of each retry it
    schedules (the sender may try sooner than the sweep), and `let_go(outbox_id)` of each row
    whose outcome is written or will never be by this attempt (its lease is no longer ours to
    renew)."""

    def __init__(
        self,
        db: Database,
        settings: SenderSettings,
        clock: Callable[[], datetime],
        retry_in: Callable[[float, Outbox], None],
        let_go: Callable[[int], None],
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.stats: dict[str, int] = defaultdict(int)
        # Renewing leases and recording outcomes update the same rows in no common order: on
        # PostgreSQL, side by side, they deadlock, and the outcomes rolled back with the loser
        # are sent again once their leases run out. One at a time, then (the sender's lease
        # renewal takes this lock too).
        self.writing = asyncio.Lock()
        self._retry_in = retry_in
        self._let_go = let_go
        self._unrecorded: dict[str, asyncio.Future[None]] = {}
        self._waiters: dict[int, list[_Countdown]] = defaultdict(list)
        self._group: GroupCommit[Outcome, None] = GroupCommit(self._record, join_ready=True)

    def handed_over(self, delivery_id: str) -> None:
        """The platform took a message: until its outcome is committed, a status the platform
        sends about it waits (`recorded`)."""
        self._unrecorded.setdefault(delivery_id, asyncio.get_running_loop().create_future())

    async def recorded(self, delivery_id: str) -> None:
        """Wait until a message just handed over is recorded with its delivery id, if it is
        not yet (for at most `RECORDING_WAIT_SECONDS`)."""
        pending = self._unrecorded.get(delivery_id)
        if pending is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(pending), RECORDING_WAIT_SECONDS)

    def settled(self, outbox_ids: Iterable[int]) -> asyncio.Future[None]:
        """Resolves once each of these rows has had its delivery attempt recorded."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        unique = set(outbox_ids)
        waiting = _Countdown(done, len(unique))
        for outbox_id in unique:
            self._waiters[outbox_id].append(waiting)
        if waiting.remaining == 0:
            done.set_result(None)
        return done

    async def record(self, outcome: Outcome) -> None:
        """Write this outcome (with whatever others are ready); returns once it is durable."""
        await self._group.submit(outcome)

    async def record_all(self, outcomes: list[Outcome]) -> None:
        await self._group.submit_all(outcomes)

    async def _record(self, outcomes: list[Outcome]) -> list[None]:
        try:
            await self._write(outcomes)
        finally:  # recorded, or never will be by this attempt: nobody waits for it any more
            for outcome in outcomes:
                self._let_go(outcome.row.id or 0)
                recorded = self._unrecorded.pop(outcome.delivery_id or "", None)
                if recorded is not None and not recorded.done():
                    recorded.set_result(None)
        return [None] * len(outcomes)

    async def _write(self, outcomes: list[Outcome]) -> None:
        now = self.clock()
        sent = [o for o in outcomes if o.attempted and o.error is None]
        async with self.writing, self.db.transaction() as session:
            await outbox.mark_sent(
                session, [(o.row.id or 0, o.delivery_id or "") for o in sent], now
            )
            await activity.first_reached(
                session, [o.row.member_id for o in sent if o.row.member_id is not None], now
            )
            await outbox.release(
                session, [o.row.id or 0 for o in outcomes if not o.attempted and not o.cancelled]
            )
            stopped = [o.row.id or 0 for o in outcomes if o.cancelled]
            if stopped:
                await outbox.cancel_leased(session, stopped)
                await campaigns.record_cancelled(session, stopped, now)
            for outcome in outcomes:
                if outcome.error is not None:
                    outcome.retrying = await self._record_failure(
                        session, outcome.row, outcome.error, now
                    )
            await _record_campaigns(session, outcomes, now)
            settled = [
                o.row.id or 0
                for o in outcomes
                if deleted_once_settled(o.row.payload) and o.attempted and not o.retrying
            ]
            for outcome in outcomes:
                notice = outcome.row.payload.get(IF_UNDELIVERED)
                if notice and outcome.error is not None and not outcome.retrying:
                    await _tell_undelivered(session, outcome.row, notice, now)
            if settled:  # an erased member's last message, a data export: gone with delivery
                await outbox.delete_settled(session, settled)
                session.scrub_after_commit()  # and from the database's files
        for outcome in outcomes:
            kind = (
                "not_attempted"
                if not outcome.attempted
                else ("sent" if outcome.error is None else "failed_attempt")
            )
            self.stats[f"{outcome.row.platform}.{kind}"] += 1
            if outcome.attempted:
                _count(outcome)
            for waiting in self._waiters.pop(outcome.row.id or 0, []):
                waiting.tick()

    async def _record_failure(
        self, session: Session, row: Outbox, error: DeliveryError, now: datetime
    ) -> bool:
        """Schedule the next attempt, or give up; True if there will be another attempt."""
        assert row.id is not None
        decision = next_attempt(
            error, row.attempts, self.settings, now, jitter=random.uniform(*JITTER)
        )
        if isinstance(decision, GiveUp):
            log.warning(
                "message failed for good",
                extra={"platform": row.platform, "reason": error.reason[:200]},
            )
            await outbox.mark_failed(session, row.id, error.reason)
            return False
        assert isinstance(decision, RetryAt)
        await outbox.retry_later(
            session, row.id, decision.at, error.reason, count_attempt=decision.counts_attempt
        )
        self._retry_in(decision.delay, row)
        return True


async def _record_campaigns(session: Session, outcomes: list[Outcome], now: datetime) -> None:
    """The outcome of campaign messages on their recipient rows, in the same transaction."""
    ours = [o for o in outcomes if o.attempted and o.row.payload.get("campaign") is not None]
    if not ours:
        return
    sent = [(o.row.id or 0, o.delivery_id or "") for o in ours if o.error is None]
    failed = [
        (o.row.id or 0, o.error.reason, not o.error.permanent)
        for o in ours
        if o.error is not None and not o.retrying
    ]
    await campaigns.record_sent(session, sent, now)
    await campaigns.record_failed(session, failed, now)


async def _tell_undelivered(session: Session, row: Outbox, text: str, now: datetime) -> None:
    """A message given up on had a notice for that case (`IF_UNDELIVERED`): it goes, as plain
    text, to the same recipient, in this transaction (the next sweep sends it)."""
    message = OutgoingMessage.from_payload(row.platform, row.recipient, row.payload)
    notice = replace(message, text=text, choices=(), step_id=None, document=None)
    await outbox.queue(
        session,
        {
            "dedupe_key": f"undelivered:{row.id}",
            "member_id": row.member_id,
            "platform": row.platform,
            "recipient": row.recipient,
            "payload": notice.to_payload(),
            "not_before": now,
            "created_at": now,
        },
    )


def _count(outcome: Outcome) -> None:
    """Metrics for one committed outcome of a delivery attempt."""
    platform = outcome.row.platform
    if outcome.error is None:
        metrics.sent(platform)
    elif outcome.retrying:
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
