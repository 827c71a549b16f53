"""Planning a campaign: sending it, approving it, and materialising its recipients.

`send` freezes the campaign (`timing.frozen`), then materialises one row per member of the
segment in batches — each with their platform, address, language and name frozen, their
send time (in their own time zone, out of their quiet hours) and a shuffled position — and
finally one piece of due work per distinct send time. A plan interrupted at any point
resumes where it stopped (`resume`), and a second `send` changes nothing. Previewing is
`bot.campaigns.preview`; what is frozen and when each member is sent, `bot.campaigns.timing`.

From chat, a send's first step (`open_send`) and an approval (`approve_in`) run inside the
manager's turn, and the bot plans it right after, as its own due work (`campaign.plan`, which
`delivery.resume_plan` runs outside the claim's transaction): the turn commits at once.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.adapter import available_adapters
from bot.campaigns.segments import M, Reach, segment_query
from bot.campaigns.timing import (
    definition_hash,
    expired_text,
    first_send_time,
    frozen,
    position,
    send_time,
    thawed,
)
from bot.settings import CampaignSettings, ClockSettings
from flows.campaigns import Campaign, lateness, utc_text
from flows.content import ContentTree
from flows.text import render
from storage import campaigns as store
from storage import due
from storage.models import AuditLog, utcnow
from storage.models import Campaign as CampaignRow
from storage.session import Database, Session
from storage.statuses import CampaignState

log = logging.getLogger("onramp.campaigns")

SEND_KIND = "campaign.send"
PLAN_KIND = "campaign.plan"
PLAN_TAKEOVER = timedelta(minutes=2)  # a plan left unfinished this long is resumed by the bot


class CampaignError(Exception):
    """A request about a campaign that cannot be done as asked: the message says why, and
    `code` names the case for a caller that words it itself (chat, in the member's language)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


def reach(enabled: Iterable[str] | None = None) -> Reach:
    """What the installed platforms allow, from their adapters' declared capabilities."""
    no_first, windows = [], []
    for name, factory in sorted(available_adapters().items()):
        capabilities = factory.capabilities
        if not capabilities.can_start_dm:
            no_first.append(name)
        hours = capabilities.reply_window_hours
        if hours:
            windows.append((name, float(hours)))
    return Reach(tuple(no_first), tuple(windows), tuple(enabled) if enabled is not None else None)


@dataclass
class SendResult:
    row: CampaignRow
    created: bool  # False: it already existed, and nothing changed
    message: str


async def request_send(
    db: Database,
    content: ContentTree,
    campaign: Campaign,
    now: datetime,
    settings: CampaignSettings,
    clock_settings: ClockSettings,
    reach_: Reach,
    *,
    actor: str,
    at: datetime | None = None,
) -> SendResult:
    """Start sending (or ask for a second manager's approval first, with `require_approval`).
    A campaign that is already on its way, or done, is left as it is, and the answer says so."""
    async with db.transaction() as session:
        result = await open_send(session, content, campaign, now, settings, actor=actor, at=at)
    if not result.created or result.row.state == "awaiting_approval":
        return result
    row = await resume(db, result.row.id or 0, content, clock_settings, settings, reach_, now)
    return SendResult(row, True, "planned")


async def open_send(
    session: Session,
    content: ContentTree,
    campaign: Campaign,
    now: datetime,
    settings: CampaignSettings,
    *,
    actor: str,
    at: datetime | None = None,
    plan_after: timedelta | None = None,
) -> SendResult:
    """A send's first step, in the caller's transaction: the campaign row with its file
    frozen, the audit entry, and the bot's work that plans it `plan_after` from now (zero from
    chat; by default a takeover, as the caller plans it itself). A campaign that already exists is
    left as it is (`created` False): a second click, or a second manager, sends nothing twice."""
    if at is not None and at < now - timedelta(seconds=5):
        raise CampaignError(
            f"{at.isoformat()} is in the past; give a later time, or leave out --at to send now",
            "past",
        )
    existing = await store.by_key(session, campaign.id, lock=True)
    if existing is not None:
        return SendResult(existing, False, _already(existing))
    if lateness(campaign, now, at).expired:  # refused before its row exists: the id stays free
        raise CampaignError(expired_text(campaign, now, at), "expired")
    row = CampaignRow(
        key=campaign.id,
        title=render(campaign.title, None, content.community.default_locale, {}),
        definition=frozen(content, campaign),
        definition_hash=definition_hash(content, campaign),
        state=CampaignState.AWAITING_APPROVAL
        if settings.require_approval
        else CampaignState.PLANNING,
        send_at=at,
        expires_at=campaign.expires_at,
        seed=random.randrange(1, 2**31),
        requested_by=actor,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    await _audit(session, actor, "campaign.requested", row, at=at.isoformat() if at else None)
    if row.state == "awaiting_approval":
        return SendResult(row, True, "waiting for a second manager's approval")
    await _schedule_plan(session, row, now + _or_takeover(plan_after))
    return SendResult(row, True, "planning")


async def approve(
    db: Database,
    content: ContentTree,
    key: str,
    now: datetime,
    settings: CampaignSettings,
    clock_settings: ClockSettings,
    reach_: Reach,
    *,
    actor: str,
) -> SendResult:
    """The second manager's approval: the campaign is then planned and sent."""
    async with db.transaction() as session:
        result = await approve_in(session, key, now, actor=actor)
    if not result.created:
        return result
    row = await resume(db, result.row.id or 0, content, clock_settings, settings, reach_, now)
    return SendResult(row, True, "approved and planned")


async def approve_in(
    session: Session,
    key: str,
    now: datetime,
    *,
    actor: str,
    plan_after: timedelta | None = None,
) -> SendResult:
    """The approval, in the caller's transaction; the plan is the bot's work `plan_after`
    from now. Refuses the manager who asked for the send (the two-person rule)."""
    row = await store.by_key(session, key, lock=True)
    if row is None:
        raise CampaignError(f"campaign '{key}' has not been sent; send it first", "not_sent")
    if row.state != "awaiting_approval":
        return SendResult(row, False, _already(row))
    if row.requested_by == actor:
        raise CampaignError(
            "you asked for this send; another manager must approve it (two-person rule)",
            "own_request",
        )
    campaign = thawed(row)
    if lateness(campaign, now, row.send_at).expired:
        until = utc_text(campaign.expires_at) if campaign.expires_at else ""
        raise CampaignError(
            f"campaign '{key}' expired ({until}) while it waited for approval: nobody would get "
            f"it, so it was not approved; cancel it (onramp campaign cancel {key})",
            "expired",
        )
    row.state, row.approved_by = CampaignState.PLANNING, actor
    await _audit(session, actor, "campaign.approved", row)
    await _schedule_plan(session, row, now + _or_takeover(plan_after))
    return SendResult(row, True, "approved")


def _already(row: CampaignRow) -> str:
    if row.state == "awaiting_approval":
        return f"already waiting for approval (asked by {row.requested_by}); nothing changed"
    if row.state in ("planning", "scheduled", "sending"):
        return f"already {row.state}; nothing changed"
    when = row.finished_at.isoformat(timespec="minutes") if row.finished_at else "earlier"
    return (
        f"already {row.state} ({when}); nothing is sent twice. To send it again, copy the "
        "file under a new id"
    )


def _or_takeover(plan_after: timedelta | None) -> timedelta:
    return PLAN_TAKEOVER if plan_after is None else plan_after


async def _schedule_plan(session: Session, row: CampaignRow, due_at: datetime) -> None:
    """The bot plans the campaign at `due_at`: at once (chat), or if whoever is planning has
    died by then (a takeover)."""
    await due.schedule(
        session,
        key=f"{PLAN_KIND}:{row.id}",
        kind=PLAN_KIND,
        due_at=due_at,
        payload={"campaign": row.id},
    )


async def _audit(
    session: Session, actor: str, action: str, row: CampaignRow, **detail: Any
) -> None:

    session.add(
        AuditLog(
            actor=actor[:128],
            action=action,
            detail={"campaign": row.key, **{k: v for k, v in detail.items() if v is not None}},
        )
    )


async def resume(
    db: Database,
    campaign_id: int,
    content: ContentTree,
    clock_settings: ClockSettings,
    settings: CampaignSettings,
    reach_: Reach,
    now: datetime | None = None,
) -> CampaignRow:
    """Plan what is left to plan, batch by batch (each its own transaction), then schedule
    the sends. Safe to run again at any point, and by two processes at once."""
    now = now or utcnow()
    while True:
        async with db.transaction() as session:
            row = await store.by_id(session, campaign_id, lock=True)
            assert row is not None
            if row.state != "planning":
                return row
            done = await _plan_batch(session, row, content, clock_settings, settings, reach_, now)
            if done:
                await _schedule_sends(session, row, now)
                return row


async def _plan_batch(
    session: Session,
    row: CampaignRow,
    content: ContentTree,
    clock_settings: ClockSettings,
    settings: CampaignSettings,
    reach_: Reach,
    now: datetime,
) -> bool:
    """Plan the next batch of members; True once everyone is planned."""
    campaign = thawed(row)
    dialect = session.get_bind().dialect.name
    first = first_send_time(campaign, now, row.send_at)
    statement = (
        segment_query(campaign, content, now, dialect, reach_, first)
        .where(segment_member_after(row.planned_through))
        .order_by("member_id")
        .limit(settings.planning_batch)
    )
    found = (await session.execute(statement)).all()
    quiet = (clock_settings.quiet_hours_start, clock_settings.quiet_hours_end)
    times: dict[str | None, datetime] = {}
    windows = dict(reach_.reply_windows)
    rows = []
    for member in found:
        if member.timezone not in times:
            times[member.timezone] = send_time(
                campaign, member.timezone, now, row.send_at, quiet, settings.default_timezone
            )
        at = times[member.timezone]
        reason = member.reason
        hours = windows.get(member.platform)
        if reason is None and hours and campaign.whatsapp_template is None:
            # The window is judged at this member's own send time.
            last = member.last_inbound_at
            if last is None or last < at - timedelta(hours=hours):
                reason = "reply_window"
        rows.append(
            {
                "campaign_id": row.id,
                "member_id": member.member_id,
                "platform": member.platform,
                "workspace": member.workspace,
                "recipient": member.recipient,
                "locale": member.locale,
                "name": member.name or "",
                "last_inbound_at": member.last_inbound_at,
                "position": position(member.member_id, row.seed),
                "send_at": None if reason else at,
                "status": "excluded" if reason else "planned",
                "reason": reason,
                "retryable": False,
                "attempts": 0,
                "updated_at": now,
            }
        )
    await store.insert_recipients(session, rows)
    if found:
        row.planned_through = found[-1].member_id
    return len(found) < settings.planning_batch


def segment_member_after(member_id: int) -> Any:
    return M.c.id > member_id


async def _schedule_sends(session: Session, row: CampaignRow, now: datetime) -> None:
    """One piece of due work per distinct send time; the plan is done."""
    times = await store.send_times(session, row.id or 0)
    for at in times:
        await due.schedule(
            session,
            key=f"{SEND_KIND}:{row.id}:{int(at.timestamp())}",
            kind=SEND_KIND,
            due_at=at,
            payload={"campaign": row.id, "send_at": at.isoformat()},
        )
    row.state = (
        CampaignState.SENDING
        if times and times[0] <= now
        else (CampaignState.SCHEDULED if times else CampaignState.DONE)
    )
    row.planned_at = now
    if not times:
        row.finished_at = now
    await due.cancel(session, f"{PLAN_KIND}:{row.id}")
    await _audit(session, "bot", "campaign.planned", row, send_times=len(times))
