"""Column types shared by every table."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import JSON, DateTime, Dialect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator
from sqlmodel.sql.sqltypes import AutoString


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC on every database and always hands back an aware UTC datetime.

    SQLite keeps no time zone, PostgreSQL `timestamptz` does: storing naive UTC on both keeps
    comparisons in SQL identical across the two.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use datetime.now(UTC)")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


JSONDocument: Any = JSON().with_variant(JSONB(), "postgresql")

E = TypeVar("E", bound=StrEnum)


class StatusColumn(TypeDecorator[E]):
    """A status (`storage.statuses`) stored as its plain string and read back as its name
    (the enum's member). The column is the same `VARCHAR(length)` the migrations create:
    SQLAlchemy's own `Enum` type would store the members' names (`ACTIVE`) and, on PostgreSQL,
    a native enum type. A string no status has is refused on the way in, so a typo never
    reaches a row."""

    impl = AutoString
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length=length)
        self.enum = enum
        self.length = length

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)
