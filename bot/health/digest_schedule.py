"""When each manager's weekly digest goes out, as due work that survives restarts.

A manager gets it on the content's day and time (`digest:` in content/dashboard.yaml), or on
the day and time they chose with /digest (kept in their profile), in their own time zone (UTC
when unknown). Each week's digest is one due-work row whose key names the manager and the ISO
week of its local day (`health.digest:42:2026-W10`): however many times a start-up, a /digest
or two replicas plan it, the week has one row, and once it has gone the week is taken, so
nothing plans it again. Sending one plans the next.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlmodel import col

from bot.health.digest_words import parse_time, weekday_of
from flows.content import ContentTree
from storage import due, members
from storage.models import DueWork, Member, utcnow
from storage.session import Database, Session, dialect_insert
from storage.statuses import DueStatus

log = logging.getLogger("onramp.digest")

KIND = "health.digest"
MANAGER = "manager"
PROFILE_KEY = (
    "digest"  # member.profile["digest"]: {"enabled": bool, "day": "friday", "time": "17:30"}
)
OPEN = (DueStatus.PENDING, DueStatus.RUNNING)
# A week's row that may still be (re)planned: any other status means that week's digest went
# out, was skipped or is going out now.
REPLANNABLE = (DueStatus.PENDING, DueStatus.CANCELLED)


@dataclass(frozen=True)
class DigestSettings:
    """The content's `digest:` block: whether digests go at all, and the default day/time."""

    enabled: bool = True
    day: int = 0  # Monday, as datetime.weekday()
    at: time = time(9, 0)


@dataclass(frozen=True)
class Choice:
    """When one manager gets it: a day of their week and a time on their clock."""

    day: int
    at: time


def content_settings(content: ContentTree) -> DigestSettings:
    """The content's `digest:` block (content/dashboard.yaml), read once it is validated."""
    found = content.dashboard.digest
    day = weekday_of(found.day)
    return DigestSettings(
        enabled=found.enabled,
        day=0 if day is None else day,
        at=parse_time(found.time) or time(9, 0),
    )


def own_choice(member: Member) -> dict[str, Any]:
    found = member.profile.get(PROFILE_KEY)
    return dict(found) if isinstance(found, dict) else {}


def with_choice(member: Member, **changes: Any) -> None:
    """Keep the manager's choice in their profile (a new dict, so the change is saved)."""
    member.profile = {**member.profile, PROFILE_KEY: {**own_choice(member), **changes}}


def choice_of(member: Member, content: ContentTree) -> Choice | None:
    """When this member gets the digest; None when they get none (not a manager, stopped,
    turned it off, or the content turned digests off)."""
    settings = content_settings(content)
    own = own_choice(member)
    if not settings.enabled or member.opted_out or MANAGER not in member.roles:
        return None
    if own.get("enabled") is False:
        return None
    day = weekday_of(str(own.get("day") or ""))
    at = parse_time(str(own.get("time") or ""))
    return Choice(settings.day if day is None else day, at or settings.at)


def zone_of(member: Member) -> ZoneInfo:
    try:
        return ZoneInfo(member.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def next_time(choice: Choice, zone: ZoneInfo, after: datetime) -> datetime:
    """The first time strictly after `after` that is `choice` on the zone's clock (UTC)."""
    local = after.astimezone(zone)
    day = local.date() + timedelta(days=(choice.day - local.weekday()) % 7)
    for _ in range(3):
        candidate = datetime.combine(day, choice.at, tzinfo=zone).astimezone(UTC)
        if candidate > after:
            return candidate
        day += timedelta(days=7)
    raise AssertionError("unreachable: a week later is later")


def week_key(member_id: int, due_at: datetime, zone: ZoneInfo) -> str:
    year, week, _ = due_at.astimezone(zone).isocalendar()
    return f"{key_prefix(member_id)}{year}-W{week:02d}"


def key_prefix(member_id: int) -> str:
    return f"{KIND}:{member_id}:"


def planned_at(work: DueWork) -> datetime:
    """When the row was planned for (quiet hours may have moved its `due_at` since)."""
    text = work.payload.get("at")
    return datetime.fromisoformat(text) if isinstance(text, str) else work.due_at


async def plan(
    session: Session, member: Member, choice: Choice, after: datetime
) -> tuple[str, datetime] | None:
    """The next week whose digest has not gone yet: its key and time."""
    zone = zone_of(member)
    due_at = next_time(choice, zone, after)
    for _ in range(4):
        key = week_key(member.id or 0, due_at, zone)
        status = (
            await session.execute(select(col(DueWork.status)).where(col(DueWork.key) == key))
        ).scalar()
        if status is None or status in REPLANNABLE:
            return key, due_at
        due_at = next_time(choice, zone, due_at)
    return None


async def schedule_next(
    session: Session, member: Member, content: ContentTree, after: datetime
) -> datetime | None:
    """Plan the member's next digest after `after` (the one being sent is taken)."""
    choice = choice_of(member, content)
    planned = None if choice is None else await plan(session, member, choice, after)
    if planned is None:
        return None
    key, due_at = planned
    await _put(session, key, member.id or 0, due_at)
    return due_at


async def refresh(
    session: Session, member: Member, content: ContentTree, now: datetime
) -> datetime | None:
    """Make the member's planned digest match who they are and what they chose: planned if
    missing, moved if their day, time or zone changed, cancelled if they get none. One that
    is due already (or waiting out the night) is left as it is. When the next one goes."""
    member_id = member.id or 0
    rows: list[DueWork] = list(
        (
            await session.execute(
                select(DueWork).where(
                    col(DueWork.key).startswith(key_prefix(member_id), autoescape=True),
                    col(DueWork.status).in_(OPEN),
                )
            )
        ).scalars()
    )
    choice = choice_of(member, content)
    if choice is None:
        if rows:
            await due.cancel_for_member(session, member_id, key_prefix(member_id))
        return None
    if any(row.status == DueStatus.RUNNING for row in rows):
        return None  # going out now: it plans the next itself
    planned = await plan(session, member, choice, now)
    for row in rows:
        at = planned_at(row)
        if at <= now:
            return row.due_at
        if planned is not None and (row.key, at) == planned:
            return at
    if rows:
        await due.cancel_for_member(session, member_id, key_prefix(member_id))
    if planned is None:
        return None
    await _put(session, planned[0], member_id, planned[1])
    return planned[1]


async def start_all(db: Database, content: ContentTree, now: datetime) -> int:
    """At start-up (and now and then): every manager's next digest planned, and none when
    the content turned digests off. How many managers have one planned."""
    planned = 0
    async with db.transaction() as session:
        if not content_settings(content).enabled:
            await due.cancel_prefix(session, f"{KIND}:")
            return 0
        for manager in await members.with_role(session, MANAGER):
            if await refresh(session, manager, content, now) is not None:
                planned += 1
    log.debug("digests planned", extra={"managers": planned})
    return planned


async def _put(session: Session, key: str, member_id: int, due_at: datetime) -> None:
    """Insert the week's row, or move it if it is still pending or was cancelled; a week
    that went out (or is going) is never touched."""
    table: Any = DueWork.__table__  # type: ignore[attr-defined]
    values = {
        "key": key,
        "kind": KIND,
        "due_at": due_at,
        "member_id": member_id,
        "payload": {"at": due_at.isoformat()},
        "status": DueStatus.PENDING,
        "attempts": 0,
        "lease_until": None,
        "last_error": None,
        "done_at": None,
        "created_at": utcnow(),
    }
    insert = dialect_insert(session.get_bind().dialect.name)(table).values(values)
    moved = ("due_at", "payload", "status", "attempts", "lease_until", "last_error", "done_at")
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["key"],
            set_={name: insert.excluded[name] for name in moved},
            where=table.c.status.in_(REPLANNABLE),
        )
    )
