"""Members and their platform identities."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, bindparam, cast, func, literal_column, select
from sqlmodel import col

from storage import loading
from storage.models import FlowRun, Identity, Member, name_key, utcnow
from storage.session import Session
from storage.statuses import RunStatus

_FIND_IDENTITY = (
    select(Identity, Member)
    .join(Member, Member.id == Identity.member_id)
    .where(
        Identity.platform == bindparam("platform"),
        Identity.workspace == bindparam("workspace"),
        Identity.external_id == bindparam("external_id"),
    )
)


# PostgreSQL: the member row locked as it is read, so the member is read as it is once the
# lock is ours (READ COMMITTED gives a locked row's latest version), never from before.
_FIND_IDENTITY_LOCKED = _FIND_IDENTITY.with_for_update(of=Member)


async def find_identity(
    session: Session, platform: str, workspace: str, external_id: str, *, locked: bool = False
) -> tuple[Identity, Member] | None:
    """The identity and its member; `locked`, holding the member's row lock until the
    transaction ends: concurrent events of one member (two workers, two replicas) are taken
    one after the other, each seeing what the one before wrote."""
    row = await loading.first(
        session,
        _FIND_IDENTITY_LOCKED if locked else _FIND_IDENTITY,
        {"platform": platform, "workspace": workspace, "external_id": external_id},
    )
    return (row[0], row[1]) if row else None


_FIND_WITH_RUN = (
    select(Identity, Member, FlowRun)
    .join(Member, Member.id == Identity.member_id)
    .outerjoin(FlowRun, and_(FlowRun.member_id == Member.id, FlowRun.status == RunStatus.ACTIVE))
    .where(
        Identity.platform == bindparam("platform"),
        Identity.workspace == bindparam("workspace"),
        Identity.external_id == bindparam("external_id"),
    )
    .order_by(FlowRun.id.desc())
    .limit(1)
)


async def find_identity_and_run(
    session: Session, platform: str, workspace: str, external_id: str
) -> tuple[Identity, Member, FlowRun | None] | None:
    """The member behind a platform identity, with their active flow run: one query a turn."""
    row = await loading.first(
        session,
        _FIND_WITH_RUN,
        {"platform": platform, "workspace": workspace, "external_id": external_id},
    )
    return (row[0], row[1], row[2]) if row else None


async def create_member(
    session: Session,
    *,
    platform: str,
    workspace: str,
    external_id: str,
    display_name: str = "",
    locale: str | None = None,
    conversation: str | None = None,
    source: str | None = None,
    now: datetime | None = None,
) -> tuple[Identity, Member]:
    now = now or utcnow()
    member = Member(
        display_name=display_name[:200],
        locale=locale,
        source=source,
        created_at=now,
        last_active_at=now,
    )
    await loading.add_new(session, member)
    assert member.id is not None
    identity = Identity(
        member_id=member.id,
        platform=platform,
        workspace=workspace,
        external_id=external_id,
        dm_conversation=conversation,
        created_at=now,
    )
    await loading.add_new(session, identity)
    return identity, member


MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL


async def find_member(session: Session, reference: str) -> Member | None:
    """A member by id ('42') or by identity ('console:ada', 'slack:T0123:U0456')."""
    if reference.isascii() and reference.isdigit():
        member_id = int(reference)
        return await session.get(Member, member_id) if member_id <= MAX_ID else None
    parts = reference.split(":")
    if len(parts) == 2:
        platform, workspace, external_id = parts[0], "", parts[1]
    elif len(parts) == 3:
        platform, workspace, external_id = parts
    else:
        return None
    found = await find_identity(session, platform, workspace, external_id)
    if found is not None:
        return found[1]
    # An operator typing `console:priya` for the console's "Priya": the one identity that
    # matches regardless of case, if there is exactly one (platform ids are never ambiguous).
    alike = (
        (
            await session.execute(
                select(Member)
                .join(Identity, col(Identity.member_id) == col(Member.id))
                .where(
                    col(Identity.platform) == platform,
                    col(Identity.workspace) == workspace,
                    func.lower(col(Identity.external_id)) == external_id.lower(),
                )
                .limit(2)
            )
        )
        .scalars()
        .all()
    )
    return alike[0] if len(alike) == 1 else None


async def identities_of(session: Session, member_id: int) -> list[Identity]:
    result = await session.execute(select(Identity).where(Identity.member_id == member_id))
    return list(result.scalars())


# Built once: every due check-in, nudge and match asks it (building it took a third of its time).
_MEMBER_AND_IDENTITY = (
    select(Member, Identity)
    .join(Identity, Identity.member_id == Member.id)
    .where(Member.id == bindparam("member_id"))
    .order_by(col(Identity.id).desc())
    .limit(1)
)


async def member_and_identity(session: Session, member_id: int) -> tuple[Member, Identity] | None:
    """A member and where to reach them (the identity seen last), in one query."""
    found = await loading.first(session, _MEMBER_AND_IDENTITY, {"member_id": member_id})
    return (found[0], found[1]) if found else None


async def reached_through(
    session: Session, platform: str, workspace: str, external_id: str
) -> tuple[Member, Identity] | None:
    """The member with this id on a platform's workspace, and where to reach them (the
    identity seen last, which may be another platform's), in one query: a mention resolved."""
    where = {"platform": platform, "workspace": workspace, "external_id": external_id}
    found = await loading.first(session, _REACHED_THROUGH, where)
    return (found[0], found[1]) if found else None


async def latest_identity(session: Session, member_id: int) -> Identity | None:
    """Where to reach a member: the platform identity they were seen on last."""
    result = await session.execute(
        select(Identity).where(Identity.member_id == member_id).order_by(Identity.id.desc())
    )
    return result.scalars().first()


async def with_role(session: Session, role: str) -> list[Member]:
    """Members who hold `role` (e.g. manager), by id."""
    statement = select(Member).where(
        cast(Member.roles, String).like(f'%"{role}"%'), Member.opted_out.is_(False)
    )
    found = (await session.execute(statement.order_by(Member.id))).scalars()
    return [member for member in found if role in member.roles]


# Built once: SQLite runs each as a prepared statement (storage/prepared.py); every `/kudos`
# names its receiver through one of them.
def _ids_on_platform(column: Any, name: str) -> Any:
    """The members with an identity of one platform and workspace whose `column` is `name`."""
    return (
        select(Identity.member_id)
        .where(
            Identity.platform == bindparam("platform"),
            Identity.workspace == bindparam("workspace"),
            column == bindparam(name),
        )
        .distinct()
    )


_BY_EXTERNAL_ID = _ids_on_platform(Identity.external_id, "external_id")
_REACHED_THROUGH = (
    select(Member, Identity)
    .join(Identity, Identity.member_id == Member.id)
    .where(col(Member.id).in_(_BY_EXTERNAL_ID))
    .order_by(col(Identity.id).desc())
    .limit(1)
)
_BY_HANDLE = _ids_on_platform(Identity.username, "handle")
# From the members of that name (ix_member_name_key), each with an identity there: joined
# the other way, SQLite would read every identity of the platform first.
_BY_NAME = select(Member.id).where(
    Member.name_key == bindparam("name_key"),
    select(literal_column("1"))
    .where(
        Identity.member_id == Member.id,
        Identity.platform == bindparam("platform"),
        Identity.workspace == bindparam("workspace"),
    )
    .exists(),
)


async def named(session: Session, platform: str, workspace: str, *, name: str) -> list[int]:
    """The ids of the members of one platform and workspace called `name`: their handle
    (username) if any member has it, else their display name, ignoring case in every script
    (`name_key`); each an index seek (ix_identity_handle, ix_member_name_key). A mention by
    id is `reached_through`."""
    where = {"platform": platform, "workspace": workspace}
    by_handle = await session.core(_BY_HANDLE, {**where, "handle": name.casefold()})
    ids = list(by_handle.scalars())
    if ids:
        return ids
    by_name = await session.core(_BY_NAME, {**where, "name_key": name_key(name)})
    return list(by_name.scalars())
