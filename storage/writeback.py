"""Writing a turn's changed members and flow runs back with plain UPDATEs.

The ORM's unit of work is general and costly: it was a quarter of a turn's time. A turn only
ever changes these kinds of rows in place, so their changed columns are written with one
prepared UPDATE each, and the objects are then detached; anything else (new rows, audit
entries) still goes through the ORM's flush.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, inspect, update

from storage.models import FlowRun, Identity, Member
from storage.session import Session

_WRITABLE: dict[type[Any], tuple[str, ...]] = {
    Member: (
        "display_name",
        "locale",
        "timezone",
        "roles",
        "profile",
        "consent",
        "consent_at",
        "opted_out",
        "source",
        "last_active_at",
        "mode",
        "links",
    ),
    FlowRun: ("step_id", "state", "status", "updated_at", "finished_at", "expires_at"),
    Identity: ("dm_conversation", "last_inbound_at", "username"),
}


def _statement(model: type[Any]) -> Any:
    table = model.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({name: bindparam(f"new_{name}") for name in _WRITABLE[model]})
    )


_UPDATES = {model: _statement(model) for model in _WRITABLE}


async def write_back(session: Session, *, keep: bool = False) -> None:
    """Write every changed member and run of this session, then flush whatever else is new.
    The objects written are detached, or, with `keep` (mid-turn, so that a query sees the
    changes), kept in the session as just written: clean, their later changes tracked."""
    orm_session = session.orm
    others_changed = bool(orm_session.new or orm_session.deleted)
    for instance in list(orm_session.dirty):
        if not inspect(instance).modified:
            continue  # touched but not changed: nothing to write
        model = type(instance)
        if model not in _UPDATES or instance.id is None:
            others_changed = True
            continue
        values = {f"new_{name}": getattr(instance, name) for name in _WRITABLE[model]}
        await session.core(_UPDATES[model], {"row_id": instance.id, **values})
        if keep:  # as a flush leaves what it wrote: its values now the committed ones
            state = inspect(instance)
            state._commit_all(state.dict, orm_session.identity_map)
        else:
            orm_session.expunge(instance)
    if others_changed:
        await session.flush()
