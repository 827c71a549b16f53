"""Consent per purpose ("announcements", "leaderboards"…): what a member agreed to, and when.

No row means never asked, which counts as the purpose's default: no for most (`granted` below
is that), or what community.yaml says (`allows`, `allowing` and `choices` take it). A purpose
is written with one upsert, so two changes racing never make two rows, and what a change
replaced is decided by the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, exists, select
from sqlmodel import col

from storage import lists
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


async def said(session: Session, member_id: int, purpose: str) -> bool | None:
    """What the member said about `purpose`: granted, withdrawn, or None (never said)."""
    result = await session.core(_SAID, {"member": member_id, "purpose": purpose})
    row = result.first()
    return None if row is None else bool(row[0])


# Built once (each build of a statement leaves objects in reference cycles): `said` runs as
# every flow run closes.
_SAID = select(col(Consent.granted)).where(
    col(Consent.member_id) == bindparam("member"), col(Consent.purpose) == bindparam("purpose")
)


async def granted(session: Session, member_id: int, purpose: str) -> bool:
    """Whether the member agreed to `purpose` and has not withdrawn."""
    return bool(await said(session, member_id, purpose))


def allows(member_id: Any, purpose: str, default: bool) -> Any:
    """SQL: whether the member in `member_id` (a column) allows `purpose`, which counts as
    `default` until they say. One seek of the (member, purpose) unique index per member."""
    said = exists().where(
        col(Consent.member_id) == member_id,
        col(Consent.purpose) == purpose,
        col(Consent.granted).is_(not default),
    )
    return ~said if default else said


async def allowing(
    session: Session, member_ids: Iterable[int], purpose: str, default: bool
) -> set[int]:
    """Which of these members allow `purpose` (counted as `default` until they say)."""
    ids = set(member_ids)
    if not ids:
        return set()
    dialect = session.get_bind().dialect.name
    said = await session.core(
        _allowing(dialect), {"ids": lists.value(dialect, sorted(ids)), "purpose": purpose}
    )
    answered = {member_id: bool(granted) for member_id, granted in said.all()}
    return {member_id for member_id in ids if answered.get(member_id, default)}


@cache
def _allowing(dialect: str) -> Any:
    return select(col(Consent.member_id), col(Consent.granted)).where(
        col(Consent.member_id).in_(lists.one_of(dialect, "ids")),
        col(Consent.purpose) == bindparam("purpose"),
    )


async def choices(
    session: Session, member_id: int, defaults: Mapping[str, bool]
) -> dict[str, bool]:
    """The member's choice for each purpose of `defaults`: what they said, else its default."""
    said = await consents(session, member_id)
    return {
        purpose: said[purpose].granted if purpose in said else default
        for purpose, default in defaults.items()
    }
