"""From event to committed state: dedupe, identity, routing, one transaction per event."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot import commands, conversation
from bot.adapter import Receipt
from bot.events import ChoiceMade, CommandInvoked, Event, MemberJoined, MessageReceived
from bot.turn import Turn
from flows.content import ContentTree
from flows.engine import Pick, Reply, Resume
from storage import members, runs
from storage.models import FlowRun, Identity, Member, ProcessedEvent
from storage.privacy import pseudonym
from storage.session import Database

log = logging.getLogger("onramp.dispatch")
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    def __init__(self, db: Database, content: ContentTree, clock: Clock = utcnow) -> None:
        self.db = db
        self.content = content
        self.clock = clock

    async def handle(self, event: Event) -> Receipt:
        """Apply one event exactly once. Returns the outbox rows to deliver after commit."""
        for attempt in range(3):
            try:
                return await self._handle_once(event)
            except IntegrityError:
                # Two first contacts of the same new member raced to create them; the loser
                # retries and finds the winner's member.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _handle_once(self, event: Event) -> Receipt:
        now = self.clock()
        async with self.db.transaction() as session:
            inserted = await session.execute(
                self.db.insert_ignoring_conflicts(
                    ProcessedEvent,
                    dedupe_key=event.dedupe_key,
                    platform=event.platform,
                    received_at=now,
                )
            )
            if inserted.rowcount == 0:  # type: ignore[attr-defined]
                log.info("duplicate event", extra={"platform": event.platform})
                return Receipt(duplicate=True)
            identity, member = await self._member(event, session)
            member.last_active_at = now
            if identity.dm_conversation is None and event.conversation:
                identity.dm_conversation = event.conversation
            turn = Turn(
                session,
                self.db,
                self.content,
                member,
                identity,
                now,
                key=f"event:{event.dedupe_key}",
            )
            await self._route(turn, event)
            outbox_ids = await turn.flush()
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

    async def _member(self, event: Event, session: AsyncSession) -> tuple[Identity, Member]:
        found = await members.find_identity(session, event.platform, event.workspace, event.actor)
        if found is not None:
            identity, member = found
            if not self.db.sqlite:
                # Serialise concurrent events of one member across workers and replicas.
                await session.execute(
                    select(col(Member.id)).where(col(Member.id) == member.id).with_for_update()
                )
            return identity, member
        return await members.create_member(
            session,
            platform=event.platform,
            workspace=event.workspace,
            external_id=event.actor,
            display_name=event.display_name or "",
            locale=self._supported_locale(event.locale_hint),
            conversation=event.conversation or None,
            source=getattr(event, "source", None),
            now=self.clock(),
        )

    def _supported_locale(self, hint: str | None) -> str | None:
        if not hint:
            return None
        locales = self.content.community.locales
        normalized = hint.replace("-", "_")
        base = normalized.split("_")[0].lower()
        return normalized if normalized in locales else (base if base in locales else None)

    async def _route(self, turn: Turn, event: Event) -> None:
        if isinstance(event, CommandInvoked):
            await commands.run_command(turn, event.name.casefold(), event.args)
            return
        if turn.member.opted_out:
            return
        run = await runs.current_run(turn.session, commands.member_id(turn))
        if run is not None and conversation.is_expired(run, turn.now):
            await conversation.expire(turn, run)
            run = None
        match event:
            case MemberJoined():
                await self._joined(turn, run)
            case MessageReceived(text=text):
                await self._message(turn, run, text)
            case ChoiceMade(step_id=step_id, choice_ids=choice_ids):
                if run is not None and run.step_id == step_id and run.state.get("waiting"):
                    await conversation.continue_flow(turn, run, Pick(tuple(choice_ids)))
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

    async def _message(self, turn: Turn, run: FlowRun | None, text: str) -> None:
        if run is not None:
            await conversation.continue_flow(turn, run, Reply(text))
            return
        flow = self.content.flow_for_keyword(text)
        status = await self._onboarding_status(turn)
        if flow is not None:
            await conversation.start_flow(turn, flow)
        elif status in ("never", "expired"):
            # Someone who writes first (WhatsApp, a DM) is a newcomer too.
            if status == "expired":
                turn.reply(turn.system_text("run_expired"))
            await conversation.start_flow(turn, self.content.onboarding)
        else:
            turn.reply(turn.system_text("nothing_pending"))

    async def _onboarding_status(self, turn: Turn) -> str:
        """never | expired | done: has this member been through onboarding?"""
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
