"""Who may see the dashboard: one-time sign-in links and managers' sessions.

A link row is what a signed token points to (its nonce): used once, then never again. A
session row holds the SHA-256 of the cookie's value, so the value itself is stored nowhere.
Both cascade from `member`: forgetting a manager ends their sessions and links.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlmodel import col

from storage.models import DashboardLink, DashboardSession, Member
from storage.session import Session

MANAGER = "manager"


def token_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def new_link(
    session: Session, member_id: int, now: datetime, expires_at: datetime
) -> DashboardLink:
    link = DashboardLink(
        nonce=secrets.token_urlsafe(24),
        member_id=member_id,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(link)
    await session.flush()
    return link


async def link_by_nonce(session: Session, nonce: str) -> DashboardLink | None:
    statement = select(DashboardLink).where(col(DashboardLink.nonce) == nonce).with_for_update()
    found: DashboardLink | None = (await session.execute(statement)).scalar_one_or_none()
    return found


async def use_link(session: Session, link: DashboardLink, now: datetime) -> bool:
    """Mark the link used; False if another request used it first (two clicks at once)."""
    result = await session.execute(
        update(DashboardLink)
        .where(col(DashboardLink.id) == link.id, col(DashboardLink.used_at).is_(None))
        .values(used_at=now)
    )
    return int(result.rowcount) == 1


async def new_session(session: Session, member_id: int, now: datetime, expires_at: datetime) -> str:
    """A session for the member; returns the cookie's value (only its hash is stored)."""
    value = secrets.token_urlsafe(32)
    session.add(
        DashboardSession(
            token_hash=token_hash(value),
            member_id=member_id,
            created_at=now,
            expires_at=expires_at,
            last_seen_at=now,
        )
    )
    await session.flush()
    return value


async def session_of(
    session: Session, value: str, now: datetime
) -> tuple[DashboardSession, Member] | None:
    """The unexpired session whose cookie is `value`, and its member."""
    found = (
        await session.execute(
            select(DashboardSession, Member)
            .join(Member, col(Member.id) == col(DashboardSession.member_id))
            .where(col(DashboardSession.token_hash) == token_hash(value))
            .where(col(DashboardSession.expires_at) > now)
        )
    ).first()
    return (found[0], found[1]) if found else None


async def seen(session: Session, session_id: int, now: datetime) -> None:
    await session.execute(
        update(DashboardSession)
        .where(col(DashboardSession.id) == session_id)
        .values(last_seen_at=now)
    )


async def end_session(session: Session, value: str) -> int | None:
    """Delete the session whose cookie is `value`; its member's id, if there was one."""
    hashed = token_hash(value)
    found: int | None = (
        await session.execute(
            select(col(DashboardSession.member_id)).where(
                col(DashboardSession.token_hash) == hashed
            )
        )
    ).scalar_one_or_none()
    await session.execute(
        delete(DashboardSession).where(col(DashboardSession.token_hash) == hashed)
    )
    return found


async def end_sessions_of(session: Session, member_id: int) -> int:
    """Every session of a member (one who lost the manager role)."""
    result = await session.execute(
        delete(DashboardSession).where(col(DashboardSession.member_id) == member_id)
    )
    return int(result.rowcount)


async def prune(session: Session, now: datetime) -> tuple[int, int]:
    """Links and sessions that expired before `now`: (links, sessions) deleted."""
    links = await session.execute(delete(DashboardLink).where(col(DashboardLink.expires_at) < now))
    sessions = await session.execute(
        delete(DashboardSession).where(col(DashboardSession.expires_at) < now)
    )
    return int(links.rowcount), int(sessions.rowcount)


def is_manager(member: Member | None) -> bool:
    return member is not None and MANAGER in member.roles
