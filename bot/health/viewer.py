"""Who is looking at the dashboard: a signed-in manager, in their language and time zone."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from starlette.requests import Request

from storage import access
from storage.models import AuditLog

if TYPE_CHECKING:
    from bot.runtime import Onramp

COOKIE = "onramp_dashboard"
# last_seen_at is a hint for operators, not a lock: one write a minute per manager at most.
SEEN_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Viewer:
    member_id: int
    name: str
    locale: str | None  # None: the community's default language
    timezone: str | None  # None: UTC
    # The sign-out form's hidden field (bot/health/access.py checks it): bound to the session.
    sign_out_token: str = ""


async def signed_in(request: Request, onramp: Onramp) -> Viewer | None:
    """The manager whose session cookie came with `request`, or None: no cookie, an unknown
    or expired session, or a member who no longer holds the manager role (whose session then
    ends, so losing the role loses access at the next request)."""
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    now = onramp.clock()
    async with onramp.db.reading() as session:
        found = await access.session_of(session, value, now)
    if found is None:
        return None
    row, member = found
    if not access.is_manager(member):
        async with onramp.db.transaction() as session:
            if await access.end_session(session, value) is not None:
                session.add(
                    AuditLog(
                        at=now,
                        actor=f"member:{member.id}",
                        action="dashboard.session_ended",
                        member_id=member.id,
                        detail={"reason": "not_a_manager"},
                    )
                )
        return None
    if now - row.last_seen_at >= SEEN_EVERY:
        async with onramp.db.transaction() as session:
            await access.seen(session, row.id or 0, now)
    return Viewer(
        member_id=member.id or 0,
        name=member.display_name,
        locale=member.locale,
        timezone=member.timezone,
        sign_out_token=sign_out_token(value),
    )


def sign_out_token(cookie: str) -> str:
    """The sign-out form's proof that it comes from a page of this session: derived from the
    cookie, which another site can neither read (HttpOnly) nor guess."""
    return hashlib.sha256(f"onramp.sign-out:{cookie}".encode()).hexdigest()
