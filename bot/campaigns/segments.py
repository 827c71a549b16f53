"""A campaign's segment compiled to one SQL query, the same on SQLite and PostgreSQL.

The query reads each member once, with the identity they were seen on last (where the
message goes), whether they are in the segment, and if so why they may not be sent it
(`reason`): sent /stop, no consent for the campaign's purpose, no platform account, a
platform where the bot may not write first and they never wrote to it, or WhatsApp's closed
24-hour window with no template.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from babel.core import get_global
from sqlalchemy import String, and_, case, cast, exists, func, literal, not_, or_, select
from sqlalchemy.dialects import postgresql

from flows.campaigns import Between, Campaign, Segment
from flows.content import ContentTree
from storage.models import (
    Consent,
    FlowRun,
    Identity,
    Kudos,
    Member,
    MentorProfile,
    Mentorship,
)

M: Any = Member.__table__  # type: ignore[attr-defined]
IDENT: Any = Identity.__table__  # type: ignore[attr-defined]
RUN: Any = FlowRun.__table__  # type: ignore[attr-defined]
CONSENT: Any = Consent.__table__  # type: ignore[attr-defined]
KUDOS: Any = Kudos.__table__  # type: ignore[attr-defined]
MENTOR: Any = MentorProfile.__table__  # type: ignore[attr-defined]
MENTORSHIP: Any = Mentorship.__table__  # type: ignore[attr-defined]

# Why a member of the segment is not sent the campaign, in the order they are judged.
REASONS = {
    "opted_out": "sent /stop",
    "no_consent": "no consent for this purpose",
    "no_account": "no platform account",
    "never_started": "never wrote to the bot, which may not write first there",
    "reply_window": "outside the 24-hour window, and the campaign has no template",
    "platform_off": "their platform is not enabled here",
    # Not from the query: the campaign's expires_at has passed (`previewing.preview_in`).
    "expired": "the campaign's expiry has passed",
}


@dataclass(frozen=True)
class Reach:
    """What the platforms allow: where the bot may not write first, where a reply window
    closes (hours) unless a template is sent, and which platforms are enabled (None: all)."""

    no_first_message: tuple[str, ...] = ()
    reply_windows: tuple[tuple[str, float], ...] = ()
    enabled: tuple[str, ...] | None = None


def compile_segment(segment: Segment, content: ContentTree, now: datetime, dialect: str) -> Any:
    """The segment as a WHERE clause over `member` (M) and its chosen identity (IDENT)."""
    name, value = segment.test()
    match name:
        case "all":
            return and_(*(compile_segment(s, content, now, dialect) for s in value))
        case "any":
            return or_(*(compile_segment(s, content, now, dialect) for s in value))
        case "not":
            return not_(compile_segment(value, content, now, dialect))
        case "platform":
            return IDENT.c.platform.in_(value)
        case "locale":
            return _locale(content).in_(value)
        case "country":
            zones = sorted({z for code in value for z in _zones_of(code)})
            return M.c.timezone.in_(zones)
        case "timezone":
            return M.c.timezone.in_(value)
        case "utc_offset":
            return M.c.timezone.in_(_zones_between(value.from_, value.to, now))
        case "role":
            return or_(*(_role(role) for role in value))
        case "interests":
            return _has_any(M.c.profile, "interests", value, dialect)
        case "joined":
            return _between(M.c.created_at, value, now)
        case "last_active":
            return _between(M.c.last_active_at, value, now)
        case "onboarding":
            return _onboarding(value, content.community.onboarding_flow)
        case "stalled":
            return _stalled(value.for_, value.at, content.community.onboarding_flow, now)
        case "mentorship":
            active = exists().where(
                MENTORSHIP.c.status == "active",
                or_(MENTORSHIP.c.newcomer_id == M.c.id, MENTORSHIP.c.mentor_id == M.c.id),
            )
            return active if value == "active" else ~active
        case "kudos_received":
            received = select(func.count()).where(
                KUDOS.c.receiver_id == M.c.id, KUDOS.c.revoked_at.is_(None)
            )
            if value.within is not None:
                received = received.where(KUDOS.c.created_at >= now - value.within)
            return received.scalar_subquery() >= value.at_least
        case "consent":
            return _consented(value)
    raise ValueError(f"unknown segment test {name!r}")


def _locale(content: ContentTree) -> Any:
    """The language a member is written to: theirs if the community has it, else the default."""
    community = content.community
    return case(
        (M.c.locale.in_(community.locales), M.c.locale), else_=literal(community.default_locale)
    )


@cache
def _zones_of(country: str) -> tuple[str, ...]:
    zones = get_global("territory_zones").get(country.upper(), ())
    return tuple(zones)


def _zones_between(low: float, high: float, now: datetime) -> list[str]:
    found = []
    for zone in sorted(_all_zones()):
        offset = now.astimezone(zoneinfo.ZoneInfo(zone)).utcoffset()
        hours = offset.total_seconds() / 3600 if offset is not None else 0.0
        if low <= hours <= high:
            found.append(zone)
    return found


@cache
def _all_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _role(role: str) -> Any:
    def holds(name: str) -> Any:
        return cast(M.c.roles, String).like(f'%"{name}"%')

    mentor = or_(holds("mentor"), exists().where(MENTOR.c.member_id == M.c.id))
    if role == "mentor":
        return mentor
    if role == "newcomer":
        return and_(~mentor, ~holds("manager"))
    return holds(role)


def _has_any(document: Any, key: str, wanted: Sequence[str], dialect: str) -> Any:
    """The JSON document's list `key` holds one of `wanted`."""
    if dialect == "postgresql":
        return document[key].op("?|")(postgresql.array(list(wanted)))
    items = func.json_each(document, f"$.{key}").table_valued("value")
    return exists(select(1).select_from(items).where(items.c.value.in_(list(wanted))))


def _moment(value: datetime | timedelta, now: datetime) -> datetime:
    return now - value if isinstance(value, timedelta) else value


def _between(column: Any, between: Between, now: datetime) -> Any:
    tests = []
    if between.before is not None:
        tests.append(column < _moment(between.before, now))
    if between.after is not None:
        tests.append(column >= _moment(between.after, now))
    return and_(*tests)


def _runs(flow_id: str, *statuses: str) -> Any:
    return exists().where(
        RUN.c.member_id == M.c.id, RUN.c.flow_id == flow_id, RUN.c.status.in_(statuses)
    )


def _onboarding(state: str, flow_id: str) -> Any:
    completed = _runs(flow_id, "completed")
    if state == "completed":
        return completed
    going = _runs(flow_id, "active", "paused")
    if state == "in_progress":
        return and_(going, ~completed)
    return ~exists().where(RUN.c.member_id == M.c.id, RUN.c.flow_id == flow_id)


def _stalled(idle: timedelta, step: str | None, flow_id: str, now: datetime) -> Any:
    """Onboarding started, not finished, and untouched for `idle` (at `step` if given)."""
    conditions = [
        RUN.c.member_id == M.c.id,
        RUN.c.flow_id == flow_id,
        RUN.c.status.in_(("active", "paused")),
        RUN.c.updated_at < now - idle,
    ]
    if step is not None:
        conditions.append(RUN.c.step_id == step)
    return and_(exists().where(*conditions), ~_runs(flow_id, "completed"))


def _consented(purpose: str) -> Any:
    return exists().where(
        CONSENT.c.member_id == M.c.id,
        CONSENT.c.purpose == purpose,
        CONSENT.c.granted.is_(True),
    )


def _reason(campaign: Campaign, reach: Reach, window_at: datetime) -> Any:
    """Why a member of the segment is left out (NULL: they are not)."""
    whens: list[tuple[Any, str]] = [
        (M.c.opted_out.is_(True), "opted_out"),
        (~_consented(campaign.purpose), "no_consent"),
        (IDENT.c.id.is_(None), "no_account"),
    ]
    if reach.enabled is not None:
        whens.append((IDENT.c.platform.not_in(reach.enabled), "platform_off"))
    if reach.no_first_message:
        whens.append(
            (
                and_(
                    IDENT.c.platform.in_(reach.no_first_message), IDENT.c.dm_conversation.is_(None)
                ),
                "never_started",
            )
        )
    if campaign.whatsapp_template is None:
        for platform, hours in reach.reply_windows:
            closed = or_(
                IDENT.c.last_inbound_at.is_(None),
                IDENT.c.last_inbound_at < window_at - timedelta(hours=hours),
            )
            whens.append((and_(IDENT.c.platform == platform, closed), "reply_window"))
    return case(*((test, literal(reason)) for test, reason in whens), else_=None)


def _latest_identity() -> Any:
    """Where a member is reached: the identity they were seen on last (the newest)."""
    newer = IDENT.alias("newer")
    return select(func.max(newer.c.id)).where(newer.c.member_id == M.c.id).scalar_subquery()


def segment_query(
    campaign: Campaign,
    content: ContentTree,
    now: datetime,
    dialect: str,
    reach: Reach,
    window_at: datetime | None = None,
) -> Any:
    """One row per member of the segment: who, where, in which language, and `reason` (why
    they are left out, or NULL)."""
    return (
        select(
            M.c.id.label("member_id"),
            M.c.display_name.label("name"),
            M.c.timezone.label("timezone"),
            _locale(content).label("locale"),
            func.coalesce(IDENT.c.platform, "").label("platform"),
            func.coalesce(IDENT.c.workspace, "").label("workspace"),
            func.coalesce(IDENT.c.dm_conversation, IDENT.c.external_id, "").label("recipient"),
            IDENT.c.last_inbound_at.label("last_inbound_at"),
            _reason(campaign, reach, window_at or now).label("reason"),
        )
        .select_from(M.outerjoin(IDENT, IDENT.c.id == _latest_identity()))
        .where(compile_segment(campaign.segment, content, now, dialect))
    )


def preview_query(
    campaign: Campaign,
    content: ContentTree,
    now: datetime,
    dialect: str,
    reach: Reach,
    window_at: datetime,
) -> Any:
    """How many per platform, language and reason (NULL: sent), in one query."""
    rows = segment_query(campaign, content, now, dialect, reach, window_at).subquery("segment")
    return select(rows.c.platform, rows.c.locale, rows.c.reason, func.count()).group_by(
        rows.c.platform, rows.c.locale, rows.c.reason
    )
