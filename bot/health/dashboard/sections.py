"""What a dashboard page is made of, before it becomes HTML or CSV: headline cards, and
sections of a chart with the table of its figures under it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from markupsafe import Markup

from bot.health.dashboard.formats import Formats
from bot.health.dashboard.texts import say
from flows.content import ContentTree
from storage.health.types import Filters

Raw = str | int | float | None


@dataclass(frozen=True)
class Cell:
    """One value of a table: as the reader reads it, and as a spreadsheet gets it (`raw`:
    plain numbers, ISO dates, seconds)."""

    shown: str
    raw: Raw = None
    number: bool = False
    shade: float | None = None  # 0–1: how strongly a heat-map cell is tinted


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[Cell]]


@dataclass(frozen=True)
class Section:
    """A chart with its title, what it measures (the CHAOSS metric and its parameters), the
    SVG, the figures under it, and where its CSV is. `key` names the CSV."""

    key: str
    title: str
    about: str
    table: Table
    chart: Markup | None = None
    warning: str | None = None
    action: str | None = None  # what a manager can do next (At risk)
    note: str | None = None  # "the first 100 of 240" (At risk), under the table
    heatmap: bool = False


@dataclass(frozen=True)
class Card:
    label: str
    value: str
    trend: str  # ▲ 12 % / ▼ 5 % / no change / new
    direction: str  # up, down, same
    previous: str  # "previous period: 40"


@dataclass(frozen=True)
class Page:
    sections: list[Section]
    cards: list[Card] = field(default_factory=list)
    notice: str | None = None


@dataclass(frozen=True)
class View:
    """Who reads the page and what they asked for: their language, formats and filters."""

    content: ContentTree
    locale: str | None
    formats: Formats
    filters: Filters

    def t(self, key: str, **values: str) -> str:
        return say(self.content, key, self.locale, **values)

    def count(self, value: int) -> Cell:
        return Cell(self.formats.number(value), value, number=True)

    def share(self, value: float | None) -> Cell:
        raw = None if value is None else round(value, 4)
        return Cell(self.formats.share(value), raw, number=True)

    def seconds(self, value: float | None) -> Cell:
        raw = None if value is None else round(value, 1)
        return Cell(self.formats.duration(value), raw, number=True)

    def month(self, first_day: date) -> Cell:
        return Cell(self.formats.month(first_day), first_day.strftime("%Y-%m"))

    def moment(self, value: datetime) -> Cell:
        return Cell(self.formats.moment(value), value.isoformat())

    def length(self, value: timedelta) -> str:
        return self.formats.length(value)

    def label(self, prefix: str, key: str) -> str:
        """A stored word (a status, a reason) in the reader's language, when dashboard.yaml
        has it; the word itself otherwise (a status added later still shows)."""
        if f"{prefix}_{key}" in self.content.dashboard.texts:
            return self.t(f"{prefix}_{key}")
        return key.replace("_", " ")
