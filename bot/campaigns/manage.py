"""What managers do with a campaign once asked for: follow it, cancel it, retry what failed,
and take away the results. The command line and `/campaign` in chat both call these."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bot.campaigns import planning, timing
from bot.campaigns.planning import CampaignError
from flows.content import ContentTree
from storage import campaigns as store
from storage import due
from storage.models import AuditLog, CampaignRecipient, Outbox
from storage.models import Campaign as CampaignRow
from storage.session import Database, Session
from storage.statuses import CampaignState, RecipientStatus

# How each recipient status is shown, in order of progress (the enum's own order).
STATUSES = tuple(RecipientStatus)
FINISHED = (CampaignState.DONE, CampaignState.CANCELLED)
_R: Any = CampaignRecipient.__table__  # type: ignore[attr-defined]
_OUTBOX: Any = Outbox.__table__  # type: ignore[attr-defined]


@dataclass
class Status:
    row: CampaignRow
    per_platform: dict[str, dict[str, int]]  # platform -> recipient status -> count
    reasons: dict[tuple[str, str], int]  # (status, reason) -> count, for failed and excluded
    file_changed: bool | None  # None: the file is gone
    rates: dict[str, float] = field(default_factory=dict)

    def total(self, status: str) -> int:
        return sum(counts.get(status, 0) for counts in self.per_platform.values())

    def remaining(self, platform: str) -> int:
        counts = self.per_platform.get(platform, {})
        return counts.get("planned", 0) + counts.get("queued", 0)

    def eta_seconds(self, now: datetime) -> float | None:
        """How long what is left will take at each platform's pace (platforms go side by
        side; a later send time waits for its time). None when unknown."""
        longest = 0.0
        for platform in self.per_platform:
            left = self.remaining(platform)
            if not left:
                continue
            rate = self.rates.get(platform)
            if not rate:
                return None
            longest = max(longest, left / rate)
        return longest


async def status(
    db: Database, content: ContentTree | None, key: str, rates: dict[str, float] | None = None
) -> Status:
    async with db.reading() as session:
        return await status_in(session, content, key, rates)


async def status_in(
    session: Session,
    content: ContentTree | None,
    key: str,
    rates: dict[str, float] | None = None,
) -> Status:
    """`status`, read in the caller's session (a manager's turn)."""
    row = await store.by_key(session, key)
    if row is None:
        raise CampaignError(f"campaign '{key}' has not been sent yet (try preview)", "not_sent")
    counts = await store.counts(session, row.id or 0)
    per_platform: dict[str, dict[str, int]] = defaultdict(dict)
    reasons: dict[tuple[str, str], int] = defaultdict(int)
    for platform, state, reason, count in counts:
        shown = platform or "(none)"
        per_platform[shown][state] = per_platform[shown].get(state, 0) + count
        if reason and state in ("failed", "excluded", "expired"):
            reasons[(state, reason)] += count
    changed: bool | None = None
    if content is not None and key in content.campaigns:
        current = timing.definition_hash(content, content.campaigns[key])
        changed = current != row.definition_hash
    return Status(row, dict(per_platform), dict(reasons), changed, dict(rates or {}))


PACE_WINDOW = timedelta(minutes=5)


async def recent_pace(session: Session, campaign_id: int, now: datetime) -> dict[str, float]:
    """Messages a second the campaign went out at on each platform over the last few minutes
    (what the platform's limits and members' own conversations left it), where at least two
    went out: for an ETA where the platforms' configured rates are not at hand (chat)."""
    statement = (
        select(_R.c.platform, func.count(), func.min(_OUTBOX.c.sent_at))
        .join(_OUTBOX, _OUTBOX.c.id == _R.c.outbox_id)
        .where(_R.c.campaign_id == campaign_id, _OUTBOX.c.sent_at >= now - PACE_WINDOW)
        .group_by(_R.c.platform)
    )
    rates = {}
    for platform, count, first in (await session.execute(statement)).all():
        seconds = (now - first).total_seconds() if first is not None else 0.0
        if count >= 2 and seconds > 0:
            rates[platform] = count / seconds
    return rates


async def cancel(db: Database, key: str, now: datetime, *, actor: str) -> int:
    """Stop everything not yet sent; how many messages were stopped."""
    async with db.transaction() as session:
        return await cancel_in(session, key, now, actor=actor)


async def cancel_in(session: Session, key: str, now: datetime, *, actor: str) -> int:
    """`cancel`, in the caller's transaction (a manager's turn)."""
    row = await store.by_key(session, key, lock=True)
    if row is None:
        raise CampaignError(
            f"campaign '{key}' has not been sent; there is nothing to cancel", "not_sent"
        )
    if row.state in FINISHED:
        raise CampaignError(
            f"campaign '{key}' is already {row.state}; nothing to cancel", row.state
        )
    stopped = await store.cancel(session, row.id or 0, now)
    row.state, row.finished_at = CampaignState.CANCELLED, now
    await due.cancel_prefix(session, f"{planning.SEND_KIND}:{row.id}:")
    await due.cancel(session, f"{planning.PLAN_KIND}:{row.id}")
    session.add(
        AuditLog(
            actor=actor[:128],
            action="campaign.cancelled",
            detail={"campaign": key, "stopped": stopped},
        )
    )
    return stopped


async def retry_failed(db: Database, key: str, now: datetime, *, actor: str) -> int:
    """Send again the failures another attempt may cure (a platform error, a timeout, a
    platform enabled since); not those that cannot (blocked the bot, no such user)."""
    async with db.transaction() as session:
        row = await store.by_key(session, key, lock=True)
        if row is None:
            raise CampaignError(f"campaign '{key}' has not been sent; there is nothing to retry")
        if row.state == "cancelled":
            raise CampaignError(f"campaign '{key}' was cancelled; nothing is retried")
        at = now.replace(microsecond=0)
        again = await store.requeue_failed(session, row.id or 0, at)
        if not again:
            raise CampaignError(
                f"campaign '{key}' has no failures another attempt could cure; nothing to retry"
            )
        row.state, row.finished_at = CampaignState.SENDING, None
        await due.schedule(
            session,
            key=f"{planning.SEND_KIND}:{row.id}:{int(at.timestamp())}",
            kind=planning.SEND_KIND,
            due_at=at,
            payload={"campaign": row.id, "send_at": at.isoformat()},
        )
        session.add(
            AuditLog(
                actor=actor[:128],
                action="campaign.retried",
                detail={"campaign": key, "count": again},
            )
        )
    return again


RESULT_COLUMNS = (
    "member",
    "platform",
    "locale",
    "status",
    "reason",
    "send_at",
    "updated_at",
)


async def results(db: Database, key: str) -> tuple[list[str], list[dict[str, Any]]]:
    """One row per member of the segment: what became of their message, and for a survey,
    their answers (one column per question)."""
    async with db.reading() as session:
        row = await store.by_key(session, key)
        if row is None:
            raise CampaignError(f"campaign '{key}' has not been sent; there are no results")
        recipients = await store.recipients(session, row.id or 0)
        campaign = timing.thawed(row)
        answers: dict[int, dict[str, Any]] = {}
        if campaign.flow is not None:
            since = (row.planned_at or row.created_at) - timedelta(minutes=1)
            answers = await store.answers(
                session, campaign.flow, [r.member_id for r in recipients], since
            )
    steps = sorted({step for found in answers.values() for step in found})
    columns = [*RESULT_COLUMNS, *steps]
    rows = []
    for recipient in recipients:
        line: dict[str, Any] = {
            "member": recipient.member_id,
            "platform": recipient.platform,
            "locale": recipient.locale,
            "status": recipient.status,
            "reason": recipient.reason or "",
            "send_at": recipient.send_at.isoformat() if recipient.send_at else "",
            "updated_at": recipient.updated_at.isoformat() if recipient.updated_at else "",
        }
        for step in steps:
            value = answers.get(recipient.member_id, {}).get(step)
            line[step] = ";".join(map(str, value)) if isinstance(value, list) else value
        rows.append(line)
    return columns, rows


async def retryable(db: Database, key: str) -> int:
    """How many failures `retry_failed` would send again."""
    async with db.reading() as session:
        row = await store.by_key(session, key)
        if row is None:
            raise CampaignError(f"campaign '{key}' has not been sent; there is nothing to retry")
        return await store.curable_count(session, row.id or 0)
