"""From event to committed state: dedupe, identity, routing, one transaction per event."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from bot import commands, conversation, failed_events
from bot.adapter import Receipt, opt_out_keywords
from bot.events import (
    ChoiceMade,
    CommandInvoked,
    DeliveryUpdate,
    Event,
    MemberJoined,
    MessageReceived,
    ProfileChanged,
    UnsupportedReceived,
)
from bot.group_commit import GroupCommit
from bot.messages import Invite
from bot.registry import Registry
from bot.turn import Turn
from flows.content import ContentTree
from flows.engine import Pick, Reply, Resume
from storage import activity, campaigns, members, outbox, privacy, runs, writeback
from storage import failed_events as failed_store
from storage.models import FlowRun, Identity, Member, ProcessedEvent
from storage.privacy import pseudonym
from storage.session import Database, Session, dialect_insert

log = logging.getLogger("onramp.dispatch")
BATCH = 64  # events per group commit on SQLite
ACTIVITY_GRANULARITY = timedelta(minutes=1)
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


Claim = Callable[[Session, list[int]], Awaitable[list[Any]]]


class Dispatcher:
    def __init__(
        self,
        db: Database,
        content: ContentTree,
        clock: Clock = utcnow,
        claim: Claim | None = None,
        attempts: int = 3,
        *,
        registry: Registry,
    ) -> None:
        self.db = db
        self.content = content
        self.registry = registry  # every turn runs the commands, actions and hooks found here
        self.clock = clock
        # How many times an event is tried before it is recorded as failed ([events] attempts).
        self.attempts = max(1, attempts)
        # Leases the replies for delivery in the event's own transaction (the sender's
        # `claim_in`), so the sender need not open one of its own to claim them.
        self.claim = claim
        table = ProcessedEvent.__table__  # type: ignore[attr-defined]
        self._group: GroupCommit[Event, Receipt] = GroupCommit(
            self._apply_together, max_batch=BATCH, split_on_failure=True
        )
        self.dialect = db.engine.dialect.name
        self._first_time = dialect_insert(self.dialect)(table).on_conflict_do_nothing()

    async def handle(self, event: Event) -> Receipt:
        """Apply one event exactly once. Returns the outbox rows to deliver after commit.

        An event whose handling raises is tried again, each time in a transaction of its own,
        up to `attempts` times in all; then it is recorded as failed, its member is told, it
        is marked processed (a redelivery is a duplicate), and this returns normally, so the
        platform is answered and the events after it carry on. This raises only when even the
        failure cannot be recorded (the database is down): the platform delivers it again."""
        try:
            return await (self._batched(event) if self.db.sqlite else self._alone(event))
        except Exception as exc:
            error = exc
        attempts = 1
        while attempts < self.attempts:
            log.warning(
                "event handling failed; trying again",
                extra={
                    "platform": event.platform,
                    "kind": type(event).__name__,
                    "attempt": attempts,
                    "error": failed_events.error_name(error),
                },
            )
            attempts += 1
            try:
                return await self._alone(event)
            except Exception as exc:
                error = exc
        return await self._failed(event, error, attempts)

    async def _failed(self, event: Event, error: Exception, attempts: int) -> Receipt:
        """Record the failed event and queue the member's apology, in one transaction."""
        try:
            async with self.db.transaction() as session:
                now = self.clock()
                if not await self._first_time_seen(session, event, now):
                    return Receipt(duplicate=True)  # handled meanwhile: a redelivery elsewhere
                member_id, outbox_ids = await failed_events.record(
                    session,
                    self.db,
                    self.content,
                    event,
                    error,
                    attempts,
                    now,
                    self._supported_locale(event.locale_hint),
                )
                [receipt] = await self._claimed(
                    session, [Receipt(duplicate=False, outbox_ids=outbox_ids)]
                )
        except Exception:
            failed_events.log_unrecorded(event, error, attempts)
            raise
        failed_events.log_failure(event, error, attempts, member_id)
        return receipt

    async def replay(self, dedupe_key: str) -> Receipt | None:
        """Run a failed event again (`onramp events retry`), in one transaction, past the
        dedupe that stops its redeliveries: on success it is marked retried and the event no
        longer kept; if it raises, nothing changes but its count of attempts. None if there
        is no failed event with this key still to replay."""
        try:
            async with self.db.transaction() as session:
                failed = await failed_store.replayable(session, dedupe_key)
                if failed is None or failed.event is None:
                    return None
                event = failed_events.decode(failed.event)
                [receipt] = await self._claimed(session, [await self._handled(session, event)])
                await failed_store.retried(session, failed, self.clock())
        except Exception:
            async with self.db.transaction() as session:
                await failed_store.failed_again(session, dedupe_key)
            raise
        return receipt

    async def _alone(self, event: Event) -> Receipt:
        """The event in a transaction of its own."""
        for attempt in range(3):
            try:
                async with self.db.transaction() as session:
                    [receipt] = await self._claimed(session, [await self._apply(session, event)])
                    return receipt
            except IntegrityError:
                # Two first contacts of the same new member raced to create them; the loser
                # retries and finds the winner's member.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _batched(self, event: Event) -> Receipt:
        """SQLite has one writer: events waiting for it are applied together in one
        transaction and all answered once it commits (a group commit). If any of them fails,
        the batch is rolled back and its events are applied one transaction each, so one bad
        event never takes the others down with it."""
        return await self._group.submit(event)

    async def _apply_together(self, events: list[Event]) -> list[Receipt]:
        """These events in one transaction (a batch of the group commit, or one event alone)."""
        async with self.db.transaction() as session:
            receipts = [await self._apply(session, event) for event in events]
            return await self._claimed(session, receipts)

    async def _claimed(self, session: Session, receipts: list[Receipt]) -> list[Receipt]:
        """The receipts, each with its replies leased for delivery (one statement for all)."""
        ids = [outbox_id for receipt in receipts for outbox_id in receipt.outbox_ids]
        if self.claim is None or not ids:
            return receipts
        rows = {row.id: row for row in await self.claim(session, ids)}
        return [
            replace(r, claimed=tuple(rows[i] for i in r.outbox_ids if i in rows))
            if r.outbox_ids
            else r
            for r in receipts
        ]

    async def _apply(self, session: Session, event: Event) -> Receipt:
        if not await self._first_time_seen(session, event, self.clock()):
            log.info("duplicate event", extra={"platform": event.platform})
            return Receipt(duplicate=True)
        return await self._handled(session, event)

    async def _first_time_seen(self, session: Session, event: Event, now: datetime) -> bool:
        """Mark the event processed; False if it was already (a redelivery)."""
        inserted = await session.core(
            self._first_time,
            {"dedupe_key": event.dedupe_key, "platform": event.platform, "received_at": now},
        )
        return bool(inserted.rowcount)

    async def _handled(self, session: Session, event: Event) -> Receipt:
        """What the event does, once it is known to be new."""
        now = self.clock()
        if isinstance(event, DeliveryUpdate):  # about a message, not from a member
            await self._delivery(session, event, now)
            return Receipt(duplicate=False)
        if isinstance(event, ProfileChanged):  # a rename on the platform: nothing to answer
            found = await members.find_identity_and_run(
                session, event.platform, event.workspace, event.actor
            )
            if found is not None and event.display_name:
                found[1].display_name = event.display_name[:200]
            return Receipt(duplicate=False)
        if isinstance(event, MemberJoined) and await self._erased(session, event):
            # They asked to be erased: a workspace join does not bring them back. If they
            # write to the bot themselves, they start fresh.
            log.info(
                "a join of someone who was erased: not welcomed", extra={"platform": event.platform}
            )
            return Receipt(duplicate=False)
        identity, member, run, created = await self._member(event, session)
        if event.display_name and not member.display_name:  # unknown on first contact
            member.display_name = event.display_name[:200]
        if identity.dm_conversation is None and event.conversation and event.private:
            identity.dm_conversation = event.conversation
        if (
            event.private
            and not isinstance(event, MemberJoined)
            and (
                identity.last_inbound_at is None
                or now - identity.last_inbound_at >= ACTIVITY_GRANULARITY
            )
        ):
            identity.last_inbound_at = now  # they wrote: WhatsApp's 24-hour window opens
        turn = Turn(
            session,
            self.db,
            self.content,
            member,
            identity,
            now,
            key=f"event:{event.dedupe_key}",
            registry=self.registry,
            newcomer=created,
            group=None if event.private else (event.conversation or None),
        )
        if event.username and identity.username != event.username.casefold()[:64]:
            identity.username = event.username.casefold()[:64]
        await self._route(turn, event, run)
        if not isinstance(event, MemberJoined):  # joining is not something they did
            await self._active(session, event, member, created, now)
        outbox_ids = await turn.flush()
        await writeback.write_back(session)  # the next event of a group commit may see it
        if log.isEnabledFor(logging.INFO):
            log.info(
                "event handled",
                extra={
                    "platform": event.platform,
                    "kind": type(event).__name__,
                    "member": pseudonym(member.id or 0),
                    "queued": len(outbox_ids),
                },
            )
        return Receipt(duplicate=False, outbox_ids=outbox_ids)

    async def _erased(self, session: Session, event: MemberJoined) -> bool:
        """Whether someone unknown joining was a member erased at their request."""
        where = (session, event.platform, event.workspace, event.actor)
        if await members.find_identity(*where) is not None:
            return False
        return await privacy.was_erased(*where)

    async def _active(
        self, session: Session, event: Event, member: Member, created: bool, now: datetime
    ) -> None:
        """The member did something: `last_active_at` moves (to the minute, which saves a write
        a turn), and their first event of a UTC day is recorded as a day of activity. Only a
        member's own events move it, so a day it already shows is one already recorded; or,
        if it still shows when they were created, they had done nothing since."""
        last = member.last_active_at
        day = now.astimezone(UTC).date()
        if created or last.astimezone(UTC).date() != day or last <= member.created_at:
            await activity.record(session, self.dialect, member.id or 0, day, event.platform)
            member.last_active_at = now
        elif now - last >= ACTIVITY_GRANULARITY:
            member.last_active_at = now

    async def _delivery(self, session: Session, event: DeliveryUpdate, now: datetime) -> None:
        recorded = await outbox.record_delivery(
            session, event.platform, event.delivery_id, event.status, now, event.error
        )
        if recorded:  # a campaign's message: its recipient row too
            await campaigns.record_delivery(
                session, event.platform, event.delivery_id, event.status, now, event.error
            )
        if not recorded:
            log.info(
                "delivery status for no message of ours, or older than what we know",
                extra={"platform": event.platform, "status": event.status},
            )

    async def _member(
        self, event: Event, session: Session
    ) -> tuple[Identity, Member, FlowRun | None, bool]:
        """The member behind the event, their active run, and whether they were just created."""
        where = (session, event.platform, event.workspace, event.actor)
        if self.db.sqlite:  # one writer: nobody else can change them meanwhile
            found = await members.find_identity_and_run(*where)
            if found is not None:
                return *found, False
        else:
            # Concurrent events of one member (workers, replicas) are serialised on the
            # member's row lock; the member, then their run, are read once it is ours: read
            # before it, they could be what the event ahead went on to change.
            locked = await members.find_identity(*where, locked=True)
            if locked is not None:
                identity, member = locked
                return identity, member, await runs.current_run(session, member.id or 0), False
        identity, member = await members.create_member(
            session,
            platform=event.platform,
            workspace=event.workspace,
            external_id=event.actor,
            display_name=event.display_name or "",
            locale=self._supported_locale(event.locale_hint),
            conversation=(event.conversation or None) if event.private else None,
            source=getattr(event, "source", None),
            now=self.clock(),
        )
        return identity, member, None, True

    def _supported_locale(self, hint: str | None) -> str | None:
        if not hint:
            return None
        locales = self.content.community.locales
        normalized = hint.replace("-", "_")
        base = normalized.split("_")[0].lower()
        return normalized if normalized in locales else (base if base in locales else None)

    async def _route(self, turn: Turn, event: Event, run: FlowRun | None) -> None:
        if isinstance(event, CommandInvoked):
            await commands.run_command(turn, event.name.casefold(), event.args)
            await conversation.ask_again(turn, run)
            return
        if turn.member.opted_out:
            return
        if run is not None and conversation.is_expired(run, turn.now):
            await conversation.expire(turn, run)
            run = None
        match event:
            case MemberJoined(can_dm=False) if turn.identity.dm_conversation is None:
                self._welcome_in_group(turn, event)
            case MemberJoined():
                await self._joined(turn, run)
            case MessageReceived(text=text):
                await self._message(turn, run, text)
            case UnsupportedReceived(private=False):
                pass  # something in a group the bot cannot read: not addressed to it
            case UnsupportedReceived():
                turn.reply(turn.system_text("unsupported_message"))
                if run is None and await self._onboarding_status(turn) in ("never", "expired"):
                    await conversation.start_flow(turn, self.content.onboarding)
            case ChoiceMade(step_id=step_id, choice_ids=choice_ids):
                if run is not None and run.step_id == step_id and run.state.get("waiting"):
                    await conversation.continue_flow(turn, run, Pick(tuple(choice_ids)))
                elif await commands.late_answer(turn, step_id, tuple(choice_ids)):
                    pass  # a feature knew the question and answered
                elif run is not None:  # a button from an earlier question
                    await conversation.continue_flow(turn, run, Resume())
                else:
                    turn.reply(turn.system_text("nothing_pending"))

    async def _joined(self, turn: Turn, run: FlowRun | None) -> None:
        if run is not None:
            turn.reply(turn.system_text("welcome_back"))
            await conversation.continue_flow(turn, run, Resume())
        elif await self._onboarding_status(turn) in ("never", "expired"):
            await conversation.start_flow(turn, self.content.onboarding)

    def _welcome_in_group(self, turn: Turn, event: MemberJoined) -> None:
        """The bot may not write to them first: greet them where they joined, with a button
        that opens a private chat, where `/start` begins onboarding."""
        source = event.source or "group"
        turn.reply(
            turn.system_text("group_welcome"),
            to=event.conversation,
            invite=Invite(turn.system_text("group_welcome_button"), source),
        )

    async def _message(self, turn: Turn, run: FlowRun | None, text: str) -> None:
        typed = turn.registry.typed_command(text) or _opt_out_keyword(turn.identity.platform, text)
        if typed is not None:  # e.g. "kudos @ada for …" on Zulip and WhatsApp
            await commands.run_command(turn, *typed)
            await conversation.ask_again(turn, run)
            return
        if run is not None:
            await conversation.continue_flow(turn, run, Reply(text))
            return
        flow = self.content.flow_for_keyword(text)
        if flow is not None:
            await conversation.start_flow(turn, flow)
        elif (status := await self._onboarding_status(turn)) in ("never", "expired"):
            # Someone who writes first (WhatsApp, a DM) is a newcomer too.
            if status == "expired":
                turn.reply(turn.system_text("run_expired"))
            await conversation.start_flow(turn, self.content.onboarding)
        else:
            turn.reply(turn.system_text("nothing_pending"))

    async def _onboarding_status(self, turn: Turn) -> str:
        """never | expired | done: has this member been through onboarding?"""
        if turn.newcomer:
            return "never"
        if turn.member.consent is False:
            return "done"  # they said no; they can still /start any time
        statement = select(col(FlowRun.status)).where(
            col(FlowRun.member_id) == turn.member.id,
            col(FlowRun.flow_id) == self.content.community.onboarding_flow,
        )
        statuses = set((await turn.session.execute(statement)).scalars())
        if "completed" in statuses:
            return "done"
        return "expired" if statuses else "never"


_EDGES = re.compile(r"^\W+|\W+$")


def _opt_out_keyword(platform: str, text: str) -> tuple[str, str] | None:
    """The platform's own word for "no more of these" (WhatsApp's STOP), sent alone: the
    member opts out of announcements, and of nothing else (/stop is that)."""
    keywords = opt_out_keywords(platform)
    if keywords and _EDGES.sub("", text).casefold() in keywords:
        return "announcements", "off"
    return None
