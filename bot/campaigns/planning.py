"""Previewing and planning a campaign.

`preview` counts, in one query, who would receive it per platform and language and who is
left out and why. `send` freezes the campaign (its file as it is now, the opt-out hint and
the community's variables), then materialises one row per member of the segment in batches
— each with their platform, address, language and name frozen, their send time (in their
own time zone, out of their quiet hours) and a shuffled position — and finally one piece of
due work per distinct send time. A plan interrupted at any point resumes where it stopped
(`resume`), and a second `send` changes nothing.

From chat, a send's first step (`open_send`) and an approval (`approve_in`) run inside the
manager's turn, and the bot plans it right after, as its own due work (`campaign.plan`, which
`delivery.resume_plan` runs outside the claim's transaction): the turn commits at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bot.adapter import available_adapters
from bot.campaigns.segments import M, Reach, preview_query, segment_query
from bot.clock import quiet_until
from bot.settings import CampaignSettings, ClockSettings
from bot.turn import community_variables
from flows.campaigns import Campaign, Lateness, LocalSendTime, lateness, utc_text
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
OPEN_STATES = ("awaiting_approval", "planning", "scheduled", "sending")


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


def frozen(content: ContentTree, campaign: Campaign) -> dict[str, Any]:
    """Everything a send needs to render its messages, as it is now: the file's own data, the
    opt-out hint in each language, and the community's template variables."""
    document = content.documents[content.campaign_files[campaign.id]]
    community = content.community
    hint = content.system.get("campaign_opt_out")
    footers = {
        locale: render(hint, locale, community.default_locale, {}) if hint else ""
        for locale in community.locales
    }
    return {
        "file": json.loads(json.dumps(document.data, default=_iso)),
        "footers": footers,
        "community": community_variables(content),
        "default_locale": community.default_locale,
    }


def _iso(value: Any) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} in a campaign file")


def definition_hash(content: ContentTree, campaign: Campaign) -> str:
    """The campaign file's content, hashed: `status` tells when the file has changed since."""
    document = content.documents[content.campaign_files[campaign.id]]
    data = json.dumps(document.data, sort_keys=True, default=_iso, ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()


def thawed(row: CampaignRow) -> Campaign:
    return Campaign.model_validate(row.definition["file"])


def first_send_time(campaign: Campaign, now: datetime, at: datetime | None) -> datetime:
    """When the campaign starts going (before time zones and quiet hours)."""
    if at is not None:
        return at
    if isinstance(campaign.send_at, datetime):
        return max(campaign.send_at, now)
    if isinstance(campaign.send_at, LocalSendTime):
        start = datetime.combine(campaign.send_at.date, campaign.send_at.clock_time(), UTC)
        return max(now, start - timedelta(hours=14))  # the earliest time zone's 10:00
    return now


def send_time(
    campaign: Campaign,
    timezone: str | None,
    now: datetime,
    at: datetime | None,
    quiet: tuple[int, int],
    default_timezone: str,
) -> datetime:
    """When one member is sent the campaign: `at` (or the file's time, or now), or the local
    time in their zone (the default zone if they gave none); never in the past, and moved out
    of their quiet hours to their morning."""
    zone_name = timezone or default_timezone
    try:
        zone = zoneinfo.ZoneInfo(zone_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone_name, zone = "UTC", zoneinfo.ZoneInfo("UTC")
    if at is not None:
        when = at
    elif isinstance(campaign.send_at, datetime):
        when = campaign.send_at
    elif isinstance(campaign.send_at, LocalSendTime):
        local = datetime.combine(campaign.send_at.date, campaign.send_at.clock_time(), zone)
        # A time that does not exist that day (the clocks jumped forward) is read in the
        # offset before the jump, landing just after it.
        when = local.astimezone(UTC)
    else:
        when = now
    when = max(when, now).astimezone(UTC)
    morning = quiet_until(when, zone_name, *quiet)
    return (morning or when).replace(microsecond=0)


def position(member_id: int, seed: int) -> int:
    """A member's place in the shuffled order: a hash of their id with the campaign's seed,
    so a resumed plan places everyone where the first pass did."""
    digest = hashlib.blake2b(f"{seed}:{member_id}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


@dataclass
class Preview:
    campaign: Campaign
    total: int  # members of the segment
    sending: dict[tuple[str, str], int]  # (platform, locale) -> recipients
    excluded: dict[str, int]  # reason -> members left out
    first_send: datetime
    samples: dict[tuple[str, str], str] = field(default_factory=dict)  # (platform, locale)
    late: Lateness = field(default_factory=Lateness)  # its send time or expiry has passed

    @property
    def recipients(self) -> int:
        return sum(self.sending.values())

    def per_platform(self) -> dict[str, int]:
        found: Counter[str] = Counter()
        for (platform, _), count in self.sending.items():
            found[platform] += count
        return dict(found)


async def preview(
    db: Database,
    content: ContentTree,
    campaign: Campaign,
    now: datetime,
    reach_: Reach,
    at: datetime | None = None,
) -> Preview:
    async with db.reading() as session:
        return await preview_in(session, content, campaign, now, reach_, at)


async def preview_in(
    session: Session,
    content: ContentTree,
    campaign: Campaign,
    now: datetime,
    reach_: Reach,
    at: datetime | None = None,
) -> Preview:
    """`preview`, read in the caller's session (a manager's turn). An expired campaign
    reaches nobody: the members it would have reached are counted as left out, `expired`."""
    first = first_send_time(campaign, now, at)
    late = lateness(campaign, now, at)
    dialect = session.get_bind().dialect.name
    statement = preview_query(campaign, content, now, dialect, reach_, first)
    rows = (await session.execute(statement)).all()
    sending: dict[tuple[str, str], int] = defaultdict(int)
    excluded: dict[str, int] = defaultdict(int)
    for platform, locale, reason, count in rows:
        if reason is None and not late.expired:
            sending[(platform, locale)] += count
        else:
            excluded[reason or "expired"] += count
    total = sum(count for *_, count in rows)
    found = Preview(campaign, total, dict(sending), dict(excluded), first, late=late)
    for platform, locale in sorted(sending):
        found.samples[(platform, locale)] = sample_text(content, campaign, locale)
    return found


def sample_text(content: ContentTree, campaign: Campaign, locale: str) -> str:
    """The message as a member named Ada would get it in `locale` (for flows: its title)."""
    community = content.community
    variables = {
        "member": {"name": "Ada"},
        "community": community_variables(content),
        "answers": {},
        "context": {},
        "count": None,
    }
    if campaign.message is None:
        flow = content.flows.get(campaign.flow or "")
        title = render(flow.title, locale, community.default_locale, variables) if flow else ""
        return f"(starts the flow '{campaign.flow}': {title})"
    text = render(campaign.message, locale, community.default_locale, variables)
    hint = content.system.get("campaign_opt_out")
    if hint is not None:
        text += "\n\n" + render(hint, locale, community.default_locale, variables)
    return text


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


def expired_text(campaign: Campaign, now: datetime, at: datetime | None = None) -> str:
    """Why an expired campaign is refused, and what to do, in the core's words."""
    assert campaign.expires_at is not None
    until = utc_text(campaign.expires_at)
    if campaign.expires_at <= now:
        why = f"its expires_at ({until}) has passed (it is {utc_text(now)})"
    elif at is not None:
        why = f"its expires_at ({until}) comes before --at {utc_text(at)}"
    else:
        why = f"its expires_at ({until}) comes before its send_at"
    return (
        f"campaign '{campaign.id}' cannot be sent: {why}, so nobody would get it; nothing was "
        "planned. Set a later send_at and expires_at in its file, then send it again"
    )


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
