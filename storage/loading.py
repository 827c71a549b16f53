"""ORM objects from one row of a fixed statement, without the ORM's general loader; and new
objects written with one INSERT, without its unit of work.

Every event loads the member behind it (with their identity and flow run), and every `/kudos`
its receiver. Through `Session.execute` each such load cost about 0.2 ms, most of it in the
ORM's loading machinery (a compile state, row processors, an identity-map protocol for every
kind of mapping); the row itself, run as Core (`Session.core`, a prepared statement on
SQLite), costs a tenth of that. Here the row's columns become the objects directly: each
entity's columns go into a new instance's dictionary, which is then made persistent in the
session as a query would make it (`make_transient_to_detached`, then `add`), so the session
tracks its changes and writes them back as before. An object already in the session is
returned as it is, as a query returns it.

A new object is written the same way (`add_new`): one INSERT … RETURNING of its columns, run
prepared on SQLite, instead of a flush (about a twentieth of an onboarding's CPU went to the
flushes that wrote a new member, their identity and their first flow run); the row it returns
fills the object (its key, any value the database gave), which is then persistent as above.

Only plain column mappings are supported (no relationships, deferred columns or polymorphic
loading); `_shape` refuses anything else when it first sees a statement. Plain columns may
follow the entities (a count beside a mentor, say): they come back as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, inspect
from sqlalchemy.orm import Mapper, make_transient_to_detached

from storage.session import Session


@dataclass(frozen=True)
class _Part:
    mapper: Mapper[Any]
    keys: tuple[str, ...]  # attribute names, in the row's order
    start: int  # where this entity's columns begin in the row
    primary_key: int  # the position of its primary key in the row


@dataclass(frozen=True)
class _Shape:
    parts: tuple[_Part, ...]
    columns: int  # plain columns after the entities' own


_SHAPES: dict[Any, _Shape] = {}


def _shape(statement: Any) -> _Shape:
    """Which columns of the statement's row belong to which entity (worked out once)."""
    shape = _SHAPES.get(statement)
    if shape is not None:
        return shape
    columns = list(statement.selected_columns)
    descriptions = list(statement.column_descriptions)
    plain = 0
    while descriptions and descriptions[-1]["expr"] is not descriptions[-1]["entity"]:
        descriptions.pop()  # a plain column after the entities
        plain += 1
    parts, start = [], 0
    for description in descriptions:
        entity = description["entity"]
        if entity is None or description["expr"] is not entity:  # a column, not an entity
            raise TypeError("select whole entities, then plain columns, and nothing else")
        mapper: Mapper[Any] = inspect(entity)
        if mapper.relationships or mapper.polymorphic_on is not None:
            raise TypeError(f"{mapper.class_.__name__}: only plain column mappings load here")
        own = columns[start : start + len(mapper.columns)]
        whole = len(own) == len(mapper.columns) and all(
            column is mine for column, mine in zip(own, mapper.columns, strict=True)
        )
        if not whole or len(mapper.primary_key) != 1:
            raise TypeError(f"{mapper.class_.__name__}: select whole entities, one key each")
        keys = tuple(mapper.get_property_by_column(column).key for column in own)
        parts.append(_Part(mapper, keys, start, start + own.index(mapper.primary_key[0])))
        start += len(own)
    if not parts or start + plain != len(columns):
        raise TypeError("select whole entities, then plain columns, and nothing else")
    shape = _SHAPES[statement] = _Shape(tuple(parts), plain)
    return shape


async def first(session: Session, statement: Any, params: dict[str, Any]) -> tuple[Any, ...] | None:
    """The entities of the statement's first row, persistent in `session` (None for an
    entity whose key is NULL, as an outer join gives), then its plain columns; None when
    there is no row."""
    shape = _shape(statement)
    row = (await session.core(statement, params)).first()
    if row is None:
        return None
    return _objects(session, shape, row)


async def one(session: Session, statement: Any, params: dict[str, Any]) -> Any:
    """The one entity a statement selects, from its first row; None when there is none."""
    found = await first(session, statement, params)
    return found[0] if found is not None else None


async def every(session: Session, statement: Any, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """`first`, for every row of the statement."""
    shape = _shape(statement)
    rows = (await session.core(statement, params)).all()
    return [_objects(session, shape, row) for row in rows]


def _objects(session: Session, shape: _Shape, row: Any) -> tuple[Any, ...]:
    orm = session.orm
    identities = orm.identity_map
    found: list[Any] = []
    for part in shape.parts:
        key_value = row[part.primary_key]
        if key_value is None:
            found.append(None)
            continue
        identity = part.mapper.identity_key_from_primary_key((key_value,))
        instance = identities.get(identity)
        if instance is None:
            instance = part.mapper.class_manager.new_instance()
            start = part.start
            instance.__dict__.update(
                zip(part.keys, row[start : start + len(part.keys)], strict=True)
            )
            make_transient_to_detached(instance)
            orm.add(instance)
        found.append(instance)
    if shape.columns:
        found.extend(row[len(row) - shape.columns :])
    return tuple(found)


_INSERTS: dict[Any, Any] = {}


async def add_new(session: Session, instance: Any) -> None:
    """Write a new (transient) object with one INSERT and make it persistent in `session`, as
    a flush would: the mapper's `before_insert` and `after_insert` hooks run around it, and
    every column is read back from the inserted row."""
    mapper: Mapper[Any] = inspect(type(instance))
    state = inspect(instance)
    if not state.transient:
        raise ValueError(f"{mapper.class_.__name__}: only a new object is inserted")
    if mapper.relationships or len(mapper.primary_key) != 1:
        raise TypeError(f"{mapper.class_.__name__}: only plain column mappings, one key each")
    statement = _INSERTS.get(mapper)
    if statement is None:
        returned = [attribute.columns[0] for attribute in mapper.column_attrs]
        table: Any = mapper.local_table
        statement = _INSERTS[mapper] = insert(table).returning(*returned)
    bind = session.get_bind()
    mapper.dispatch.before_insert(mapper, bind, state)
    given = instance.__dict__
    values = {}
    for attribute in mapper.column_attrs:
        value = given.get(attribute.key)
        if value is None and attribute.columns[0].primary_key:
            continue  # the database's to give
        if attribute.key in given:
            values[attribute.columns[0].key] = value
    row = (await session.core(statement, values)).first()
    for attribute, value in zip(mapper.column_attrs, row, strict=True):
        given[attribute.key] = value
    make_transient_to_detached(instance)
    session.orm.add(instance)
    mapper.dispatch.after_insert(mapper, bind, state)
