"""Consent per purpose ("announcements"…): what a member agreed to be contacted for, and when.

No row means never asked, which counts as no. A purpose is written with one upsert, so two
changes racing never make two rows, and what a change replaced is decided by the database.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlmodel import col

from storage.models import Consent
from storage.session import Session, dialect_insert


async def set_consent(
    session: Session,
    member_id: int,
    purpose: str,
    granted: bool,
    now: datetime,
    source: str | None,
) -> bool:
    """Record the member's choice for `purpose`; True if it changed anything.

    Granting sets `given_at` and clears `withdrawn_at`; withdrawing sets `withdrawn_at` and
    keeps `given_at` (when they had agreed). The same choice again changes nothing, so the
    first `given_at` and its `source` stay."""
    dialect = session.get_bind().dialect.name
    result = await session.core(
        _upsert(dialect, granted),
        {
            "new_member": member_id,
            "new_purpose": purpose,
            "new_when": now,
            "new_source": source,
        },
    )
    return result.first() is not None


@cache
def _upsert(dialect: str, granted: bool) -> Any:
    """Granting sets `given_at` and clears `withdrawn_at`; withdrawing sets `withdrawn_at`;
    a row that already says the same is left as it is (and returns nothing). Built once per
    dialect and choice (each build made an alias and its columns, in reference cycles): every
    newcomer records consent during onboarding."""
    when: Any = bindparam("new_when")
    statement = dialect_insert(dialect)(Consent).values(
        member_id=bindparam("new_member"),
        purpose=bindparam("new_purpose"),
        granted=granted,
        given_at=when if granted else None,
        withdrawn_at=None if granted else when,
        source=bindparam("new_source"),
    )
    changes: dict[str, Any] = {"granted": granted, "source": statement.excluded.source}
    if granted:
        changes |= {"given_at": statement.excluded.given_at, "withdrawn_at": None}
    else:
        changes |= {"withdrawn_at": statement.excluded.withdrawn_at}
    return statement.on_conflict_do_update(
        index_elements=["member_id", "purpose"],
        set_=changes,
        where=col(Consent.granted) != granted,
    ).returning(col(Consent.id))


async def consents(session: Session, member_id: int) -> dict[str, Consent]:
    """Every purpose the member has answered for, granted or not."""
    rows = await session.execute(
        select(Consent)
        .where(col(Consent.member_id) == member_id)
        .execution_options(populate_existing=True)  # as the upserts above left them
    )
    return {row.purpose: row for row in rows.scalars()}


async def granted(session: Session, member_id: int, purpose: str) -> bool:
    """Whether the member agreed to `purpose` and has not withdrawn."""
    result = await session.execute(
        select(col(Consent.granted)).where(
            col(Consent.member_id) == member_id, col(Consent.purpose) == purpose
        )
    )
    return bool(result.scalar_one_or_none())
