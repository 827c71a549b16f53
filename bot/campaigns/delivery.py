"""Sending a planned campaign: due work per send time feeds the outbox, a little at a time.

Each send time's work puts into the outbox only as many messages as each platform can take
in the next `[campaigns] backlog_seconds`, then comes back: the shared sender delivers them
at the platform's pace (campaigns take at most `1 - reserve_share` of it while members are
chatting), a cancel finds little in flight, and one-to-one conversations never queue behind
a campaign. Each message is written with its recipient row's change in one transaction, so
a crash at any point neither loses nor repeats one; the member's language, name and address
are those frozen at plan time. A member who opted out or withdrew consent since the plan is
left out at send time.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import col

from bot.adapter import Adapter
from bot.campaigns import planning, timing
from bot.campaigns.segments import Reach
from bot.clock import SystemWork
from bot.conversation import start_flow
from bot.messages import OutgoingMessage, TemplateRef
from bot.registry import Registry
from bot.settings import CampaignSettings, ClockSettings
from bot.turn import member_turn
from flows.campaigns import Campaign
from flows.text import render, render_template
from storage import campaigns as store
from storage.models import Campaign as CampaignRow
from storage.models import CampaignRecipient, Member, Outbox
from storage.session import Session
from storage.statuses import CampaignState, RecipientStatus

log = logging.getLogger("onramp.campaigns")

_QUEUE = insert(Outbox.__table__).returning(  # type: ignore[attr-defined]
    Outbox.__table__.c.id,  # type: ignore[attr-defined]
    Outbox.__table__.c.dedupe_key,  # type: ignore[attr-defined]
)


@dataclass
class Context:
    """What the runtime tells campaign work: its settings and what the platforms allow."""

    settings: CampaignSettings = field(default_factory=CampaignSettings)
    clock: ClockSettings = field(default_factory=ClockSettings)
    reach: Reach = field(default_factory=Reach)


UNLIMITED_RATE = 50.0  # messages a second assumed where an adapter names no limits


def platform_rates(adapters: Mapping[str, Adapter]) -> dict[str, float]:
    """Each platform's pace for a campaign: the most generous of its limits for one message
    (a workspace's or a bot's, not one chat's)."""
    rates = {}
    for name, adapter in adapters.items():
        probe = OutgoingMessage(platform=name, recipient="campaign-probe", text="")
        limits = adapter.rate_limits(probe)
        rates[name] = max((limit.count / limit.seconds for limit in limits), default=UNLIMITED_RATE)
    return rates


def context_of(work: SystemWork) -> Context:
    found = getattr(work.runner, "campaigns", None)
    return found if isinstance(found, Context) else Context()


def expiry(campaign: Campaign, send_at: datetime) -> datetime | None:
    """When the messages of one send time are dropped, if not sent by then."""
    times = [t for t in (campaign.expires_at,) if t is not None]
    if campaign.expire_after is not None:
        times.append(send_at + campaign.expire_after)
    return min(times) if times else None


_resuming: set[asyncio.Task[Any]] = set()


async def resume_plan(work: SystemWork) -> datetime | None:
    """A plan whose planner died: the bot finishes it, in transactions of its own, once this
    one has committed; the work comes back later in case this process dies too (finishing
    the plan cancels it)."""
    context = context_of(work)
    row = await store.by_id(work.session, int(work.work.payload["campaign"]))
    if row is None or row.state != "planning":
        return None
    task = asyncio.create_task(
        planning.resume(
            work.db,
            row.id or 0,
            work.content,
            context.clock,
            context.settings,
            context.reach,
            work.now,
        )
    )
    _resuming.add(task)
    task.add_done_callback(_resumed)
    return work.now + planning.PLAN_TAKEOVER


def _resumed(task: asyncio.Task[Any]) -> None:
    _resuming.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("resuming a campaign's plan failed", exc_info=task.exception())


async def send_due(work: SystemWork) -> datetime | None:
    """Queue the next messages of one send time; come back while any are left."""
    session, now = work.session, work.now
    context = context_of(work)
    campaign_id = int(work.work.payload["campaign"])
    send_at = datetime.fromisoformat(work.work.payload["send_at"])
    row = await store.by_id(session, campaign_id, lock=True)
    if row is None or row.state not in ("scheduled", "sending"):
        return None
    campaign = timing.thawed(row)
    if row.state == "scheduled":
        row.state = CampaignState.SENDING
    ends = expiry(campaign, send_at)
    if ends is not None and now >= ends:
        expired = await store.expire(session, campaign_id, send_at, now)
        log.info("campaign messages expired", extra={"campaign": row.key, "count": expired})
        await _finish_if_done(session, row, now)
        return None
    queued = await store.queued_by_platform(session, campaign_id)
    more = False
    for platform in await store.planned_platforms(session, campaign_id, send_at):
        rate = work.runner.platform_rates.get(platform)
        if rate is None:
            more |= await _not_served(session, campaign_id, send_at, platform, now)
            continue
        room = math.ceil(rate * context.settings.backlog_seconds) - queued.get(platform, 0)
        if room <= 0:
            more = True
            continue
        due = await store.due(session, campaign_id, send_at, platform, room, campaign.purpose)
        more |= len(due) == room
        work.queued.extend(await _queue(work, row, campaign, due))
    if more or await _slot_open(session, campaign_id, send_at):
        return now + timedelta(seconds=context.settings.feed_seconds)
    await _finish_if_done(session, row, now)
    return None


async def _not_served(
    session: Session, campaign_id: int, send_at: datetime, platform: str, now: datetime
) -> bool:
    """Recipients on a platform this process does not serve wait (another replica may), for
    a while; then they fail, retryable once the platform is enabled."""
    if now - send_at < timedelta(minutes=10):
        return True
    due = await store.due(session, campaign_id, send_at, platform, 10_000, None)
    await store.mark_failed_unsent(
        session, [r.id or 0 for r in due], f"{platform} is not enabled on this bot", now
    )
    return len(due) == 10_000


async def _slot_open(session: Session, campaign_id: int, send_at: datetime) -> bool:
    return await store.open_in_slot(session, campaign_id, send_at) > 0


async def _finish_if_done(session: Session, row: CampaignRow, now: datetime) -> None:
    if row.state == "sending" and await store.open_count(session, row.id or 0) == 0:
        row.state, row.finished_at = CampaignState.DONE, now
        log.info("campaign done", extra={"campaign": row.key})


async def _queue(
    work: SystemWork, row: CampaignRow, campaign: Campaign, due: list[Any]
) -> list[int]:
    """Write the outbox rows of these recipients (or start their flow), and mark them."""
    session, now = work.session, work.now
    left_out = [(r.CampaignRecipient.id, r.left_out) for r in due if r.left_out]
    await store.mark_skipped(session, left_out, RecipientStatus.EXCLUDED, now)
    going: list[CampaignRecipient] = [r.CampaignRecipient for r in due if not r.left_out]
    if not going:
        return []
    if campaign.flow is not None:
        return await _start_flows(work, row, campaign, going)
    modes = await _modes(work, going)
    messages = [_message_row(row, campaign, r, now, modes[r.member_id]) for r in going]
    result = await session.core(_QUEUE, messages)
    ids = {key: outbox_id for outbox_id, key in result.all()}
    await store.mark_queued(session, [(r.id or 0, ids[_dedupe_key(row, r)]) for r in going], now)
    return sorted(ids.values())


def _dedupe_key(row: CampaignRow, recipient: CampaignRecipient) -> str:
    return f"campaign:{row.id}:{recipient.member_id}:{recipient.attempts}"


def render_message(row: CampaignRow, campaign: Campaign, recipient: CampaignRecipient) -> str:
    """The message as frozen at plan time, in the recipient's language, with the opt-out
    hint."""
    frozen = row.definition
    variables = _variables(frozen, recipient)
    assert campaign.message is not None
    text = render(campaign.message, recipient.locale, frozen["default_locale"], variables)
    footer = frozen["footers"].get(recipient.locale) or ""
    return f"{text.rstrip()}\n\n{footer}" if footer else text


def _variables(frozen: dict[str, Any], recipient: CampaignRecipient) -> dict[str, Any]:
    return {
        "member": {"name": recipient.name, "locale": recipient.locale},
        "community": frozen["community"],
        "answers": {},
        "context": {},
        "count": None,
    }


def _template(
    row: CampaignRow, campaign: Campaign, recipient: CampaignRecipient
) -> TemplateRef | None:
    template = campaign.whatsapp_template
    if template is None:
        return None
    variables = _variables(row.definition, recipient)
    parameters = tuple(render_template(p, variables) for p in template.parameters)
    return TemplateRef(template.name, template.language or recipient.locale, parameters)


async def _modes(work: SystemWork, going: list[CampaignRecipient]) -> dict[int, str]:
    """How each recipient wants messages (/mode, else their platform's `default_mode`), read
    when their messages are queued: in lite mode a campaign goes without link previews. Its
    links stay in the text: they are what a campaign is for."""
    ids = {r.member_id for r in going}
    found = await work.session.execute(
        select(col(Member.id), col(Member.mode)).where(col(Member.id).in_(ids))
    )
    chosen = {member_id: mode for member_id, mode in found.all()}
    defaults = work.content.community.default_mode
    return {
        r.member_id: chosen.get(r.member_id) or defaults.get(r.platform) or "rich" for r in going
    }


def _message_row(
    row: CampaignRow, campaign: Campaign, recipient: CampaignRecipient, now: datetime, mode: str
) -> dict[str, Any]:
    message = OutgoingMessage(
        platform=recipient.platform,
        recipient=recipient.recipient,
        text=render_message(row, campaign, recipient),
        locale=recipient.locale,
        template=_template(row, campaign, recipient),
        last_inbound_at=recipient.last_inbound_at,
        workspace=recipient.workspace,
        campaign=row.id,
        mode=mode,
    )
    return {
        "dedupe_key": _dedupe_key(row, recipient),
        "member_id": recipient.member_id,
        "platform": recipient.platform,
        "recipient": recipient.recipient,
        "payload": message.to_payload(),
        "not_before": now,
        "created_at": now,
    }


async def _start_flows(
    work: SystemWork, row: CampaignRow, campaign: Campaign, going: list[CampaignRecipient]
) -> list[int]:
    """A survey: each recipient's flow starts (their onboarding, if any, waits for it); its
    first message carries the opt-out hint."""
    flow = work.content.flows.get(campaign.flow or "")
    session, now = work.session, work.now
    if flow is None:
        reason = f"flow '{campaign.flow}' is not in this bot's content"
        await store.mark_failed_unsent(session, [r.id or 0 for r in going], reason, now)
        return []
    queued: list[int] = []
    marks: list[tuple[int, int]] = []
    gone: list[tuple[int, str]] = []
    for recipient in going:
        key = _dedupe_key(row, recipient)
        turn = await member_turn(
            session, work.db, work.content, recipient.member_id, now, key, work.runner.registry
        )
        if turn is None:
            gone.append((recipient.id or 0, "no_account"))
            continue
        turn.campaign = row.id
        turn.footer = row.definition["footers"].get(recipient.locale) or None
        await start_flow(turn, flow)
        ids = await turn.flush()
        if ids:
            marks.append((recipient.id or 0, min(ids)))
            queued.extend(ids)
    await session.flush()
    await store.mark_skipped(session, gone, RecipientStatus.EXCLUDED, now)
    await store.mark_queued(session, marks, now)
    return queued


def register(registry: Registry) -> None:
    """A campaign's planning and sending, as due work about no one member."""
    registry.system_due(planning.PLAN_KIND)(resume_plan)
    registry.system_due(planning.SEND_KIND)(send_due)
