"""A turn: everything one event (or one piece of due work) does, inside one transaction."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import UnknownLocaleError
from babel.dates import format_date, format_datetime
from sqlalchemy import insert

from bot.adapter import can_start_dm
from bot.messages import (
    DELETE_ONCE_SETTLED,
    IF_UNDELIVERED,
    Choice,
    Document,
    Invite,
    OutgoingMessage,
    TemplateRef,
)
from bot.modes import as_text, without_links
from flows.content import ContentTree
from flows.text import render
from storage import due, members
from storage.models import AuditLog, FlowRun, Identity, Member, Outbox
from storage.session import Database, Session

if TYPE_CHECKING:
    from bot.registry import Registry

_QUEUE_MESSAGE = insert(Outbox.__table__).returning(Outbox.__table__.c.id)  # type: ignore[attr-defined]


_AUDIT = insert(AuditLog.__table__)  # type: ignore[attr-defined]


@dataclass
class Turn:
    session: Session
    db: Database
    content: ContentTree
    member: Member
    identity: Identity
    now: datetime
    key: str  # base of every outgoing message's dedupe key: replaying the turn queues nothing new
    registry: Registry  # what the features add: the commands, flow actions and hooks it runs
    newcomer: bool = False  # created by this very turn: no flow runs to look up yet
    # Where the event happened, when not in the member's private chat (a group, a channel).
    group: str | None = None
    # While a flow's action runs: its run (with `state["context"]`) and the answers so far.
    run: FlowRun | None = None
    run_answers: Mapping[str, Any] = field(default_factory=dict)
    # A flow of this member was started or carried on in this turn: it has said where they
    # are, so a command's reply needs no question after it.
    flow_moved: bool = False
    # Turns of other members this one writes to (a mentor offered a newcomer): flushed with it.
    others: list[Turn] = field(default_factory=list)
    # A campaign's turn (a survey it starts): its messages carry the campaign, and the first
    # one ends with `footer` (how to opt out).
    campaign: int | None = None
    footer: str | None = None
    _queued: list[dict[str, Any]] = field(default_factory=list)
    _audits: list[dict[str, Any]] = field(default_factory=list)
    _links: list[str] | None = None  # lite mode: the links taken out of this turn's messages

    @property
    def locale(self) -> str:
        return self.member.locale or self.content.community.default_locale

    @property
    def mode(self) -> str:
        """How the member's messages go (/mode): their choice, else their platform's default
        in community.yaml, else rich. From the member row the turn already holds."""
        platform_default = self.content.community.default_mode.get(self.identity.platform)
        return self.member.mode or platform_default or "rich"

    def profile(self) -> dict[str, Any]:
        """The member as flows see it: built-in fields plus the community's own."""
        return {
            **self.member.profile,
            "locale": self.member.locale,
            "timezone": self.member.timezone,
            "display_name": self.member.display_name,
            "consent": self.member.consent,
            "roles": list(self.member.roles),
        }

    def name_of(self, member: Member | None, locale: str | None = None) -> str:
        """How this turn's member reads another member's name (or their own): the name, or
        "someone" in their language (or `locale`) when the platform gave none."""
        name = member.display_name if member is not None else ""
        return name or self.system_text("someone", locale=locale)

    def written_date(self, value: Any, locale: str | None = None) -> Any:
        """A date or time as the member reads it ("6 décembre 2026", "6 dic 2026, 14:05" in
        their own time zone); any other value as it is."""
        shown = locale or self.locale
        try:
            if isinstance(value, datetime):
                zone = ZoneInfo(self.member.timezone or "UTC")
                return format_datetime(value, "medium", tzinfo=zone, locale=shown)
            if isinstance(value, date):
                return format_date(value, "long", locale=shown)
        except (ZoneInfoNotFoundError, ValueError, UnknownLocaleError):
            return value.isoformat()
        return value

    def template_variables(
        self, count: Any = None, context: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        return {
            "member": {"name": self.member.display_name, **self.profile()},
            "answers": {},
            "community": community_variables(self.content),
            "context": context or {},
            "count": count,
        }

    def system_text(
        self, key: str, count: int | None = None, *, locale: str | None = None, **context: Any
    ) -> str:
        """A text of `content/system.yaml` in the member's language (or `locale`); `context`
        is what it sees as `{{ context.* }}`: member text there is escaped, `Markdown` (a
        mention, a text already rendered) goes in as it is. The text is itself `Markdown`."""
        shown = locale or self.member.locale
        if any(isinstance(value, date) for value in context.values()):
            context = {k: self.written_date(v, shown) for k, v in context.items()}
        try:
            return render(
                self.content.system[key],
                shown,
                self.content.community.default_locale,
                self.template_variables(count, context),
            )
        except Exception:  # which text, for the operator; `onramp check` says what is wrong
            where = {"text": key, "locale": locale or self.member.locale}
            logging.getLogger("onramp.flows").error("a system text failed", extra=where)
            raise

    def reply(
        self,
        text: str,
        *,
        choices: tuple[Choice, ...] = (),
        multiple: bool = False,
        step_id: str | None = None,
        to: str | None = None,
        invite: Invite | None = None,
        template: TemplateRef | None = None,
        short: str | None = None,
        links: bool = False,
        document: Document | None = None,
        if_undelivered: str | None = None,
    ) -> None:
        """Queue a message to the member's private chat, or to conversation `to` (a group).

        In the member's private chat their mode applies (bot/modes.py): `short` is said
        instead of `text` in lite mode, where links become markers, unless `links` (/links).
        A `document` goes with the text as its caption (where the platform carries files: the
        caller checks `Capabilities.max_document_bytes`), and its outbox row is deleted once
        delivered or given up on: a file is never kept in the outbox. `if_undelivered` is told
        them, as a message of its own, if this one is given up on."""
        mode = self.mode if to is None else "rich"  # a group reads the message as it is
        if mode == "lite" and short is not None:
            text = short
        hint = submit = choose = None
        if choices:
            hint = self.system_text("choose_many" if multiple else "choose_one")
            submit = self.system_text("submit_choices") if multiple else None
            choose = self.system_text("open_choices")
        message = OutgoingMessage(
            platform=self.identity.platform,
            recipient=to or self.identity.dm_conversation or self.identity.external_id,
            invite=invite,
            template=template,
            last_inbound_at=self.identity.last_inbound_at,
            workspace=self.identity.workspace,
            text=text,
            choices=choices,
            multiple=multiple,
            step_id=step_id,
            answer_hint=hint,
            submit_label=submit,
            choose_label=choose,
            locale=self.locale,
            campaign=self.campaign,
            mode=mode,
            document=document,
        )
        if self.footer:
            message = replace(message, text=f"{text.rstrip()}\n\n{self.footer}")
            self.footer = None
        if mode != "rich":
            message = as_text(message)
        if mode == "lite" and not links:
            message = self._links_taken_out(message)
        payload = message.to_payload()
        if document is not None:
            payload[DELETE_ONCE_SETTLED] = True
        if if_undelivered is not None:
            payload[IF_UNDELIVERED] = if_undelivered
        self._queued.append(
            {
                "dedupe_key": f"{self.key}#{len(self._queued)}",
                "member_id": self.member.id,
                "platform": message.platform,
                "recipient": message.recipient,
                "payload": payload,
                "not_before": self.now,
                "created_at": self.now,
            }
        )

    def farewell(self, text: str) -> None:
        """The last message to a member whose data this turn erases: queued about no member
        (their rows go with the erasure), under a key that names nobody, and deleted from the
        outbox once delivered or given up on, so that their address does not stay behind."""
        self.reply(text)
        last = self._queued[-1]
        last |= {"member_id": None, "dedupe_key": f"farewell:{secrets.token_hex(12)}"}
        last["payload"] |= {DELETE_ONCE_SETTLED: True}

    def _links_taken_out(self, message: OutgoingMessage) -> OutgoingMessage:
        """Lite mode: the message's links as markers, kept on the member for /links (those
        of this turn's messages, numbered on from one message to the next; the first says
        how to get them)."""
        taken = self._links or []
        text, found = without_links(message.text, first=len(taken) + 1)
        if not found:
            return message
        self._links = [*taken, *found]
        self.member.links = list(self._links)
        if taken:  # the turn's first message with links said how to get them
            return replace(message, text=text)
        return replace(message, text=f"{text.rstrip()}\n\n{self.system_text('links_hint')}")

    def unreachable_in_private(self, text_key: str, source: str) -> bool:
        """Asked in a group by someone the bot may not write to privately yet (Telegram,
        before they started it): they are asked, in the group, with the `text_key` text and a
        button that opens a private chat (`source` says where they came from), to come over;
        nothing else is said there, and the caller does nothing more (True)."""
        if self.group is None or self.identity.dm_conversation is not None:
            return False
        if can_start_dm(self.identity.platform):
            return False
        self.reply(
            self.system_text(text_key),
            to=self.group,
            invite=Invite(self.system_text("group_welcome_button"), source),
        )
        return True

    def spoke_privately(self) -> bool:
        """Whether this turn queued a message to the member's private chat (so far)."""
        private = self.identity.dm_conversation or self.identity.external_id
        return any(row["recipient"] == private for row in self._queued)

    async def schedule(
        self, kind: str, key: str, due_at: datetime, payload: Mapping[str, Any] | None = None
    ) -> None:
        await due.schedule(
            self.session,
            key=key,
            kind=kind,
            due_at=due_at,
            member_id=self.member.id,
            payload=dict(payload or {}),
        )

    def audit(self, action: str, actor: str = "member", **detail: Any) -> None:
        """Record who did what; written with the turn's messages, in the same transaction."""
        self._audits.append(
            {
                "at": self.now,
                "actor": actor,
                "action": action,
                "member_id": self.member.id,
                "detail": detail,
            }
        )

    async def flush(self) -> tuple[int, ...]:
        """Write the queued messages and audit entries; the messages' ids come back for
        delivery right after commit."""
        while self.others:
            other = self.others.pop(0)
            self.others.extend(other.others)
            self._queued.extend(other._queued)
            self._audits.extend(other._audits)
            other._queued.clear()
            other._audits.clear()
            other.others.clear()
        if self._audits:
            await self.session.core(_AUDIT, self._audits)
            self._audits.clear()
        if not self._queued:
            return ()
        result = await self.session.core(_QUEUE_MESSAGE, self._queued)
        self._queued.clear()
        return tuple(sorted(result.scalars()))


async def member_turn(
    session: Session,
    db: Database,
    content: ContentTree,
    member_id: int,
    now: datetime,
    key: str,
    registry: Registry,
) -> Turn | None:
    """A turn for a member the bot reaches out to by itself (due work, a match, an erasure):
    on the platform they were seen on last. None if they are gone or have no identity."""
    found = await members.member_and_identity(session, member_id)
    if found is None:
        return None
    member, identity = found
    return Turn(session, db, content, member, identity, now, key=key, registry=registry)


async def turn_for(turn: Turn, member_id: int) -> Turn | None:
    """A turn of another member inside this one's transaction: what it queues is written when
    this turn's is. None if they cannot be reached (no identity, or they sent /stop)."""
    known = _known(turn, member_id)
    if known is not None:
        return known
    found = await members.member_and_identity(turn.session, member_id)
    return turn_with(turn, *found) if found is not None else None


def _known(turn: Turn, member_id: int | None) -> Turn | None:
    """This turn, if it is the member's, or the turn of theirs it holds already."""
    if member_id == turn.member.id:
        return turn
    return next((other for other in turn.others if other.member.id == member_id), None)


def turn_with(turn: Turn, member: Member, identity: Identity) -> Turn | None:
    """`turn_for` a member this turn has read already, with where to reach them (their
    identity seen last): no query."""
    known = _known(turn, member.id)
    if known is not None:
        return known
    if member.opted_out:
        return None
    key = f"{turn.key}>{member.id}"
    other = Turn(
        turn.session, turn.db, turn.content, member, identity, turn.now, key, turn.registry
    )
    turn.others.append(other)
    return other


def community_variables(content: ContentTree) -> dict[str, Any]:
    return {"name": content.community.name, "links": dict(content.community.links)}
