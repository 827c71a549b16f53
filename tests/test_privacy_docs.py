"""docs/operators/privacy.md lists every table, and every retention setting, so that a table
added without saying what it holds, why and for how long fails here."""

from __future__ import annotations

import re
from pathlib import Path

from sqlmodel import SQLModel

import storage.models  # noqa: F401  (the tables)
from bot.settings import RetentionSettings

PAGE = Path(__file__).resolve().parents[1] / "docs" / "operators" / "privacy.md"


def _section(title: str) -> str:
    text = PAGE.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _first_column(section: str) -> list[str]:
    return re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)


def test_the_page_lists_every_table_once() -> None:
    listed = _first_column(_section("Every table"))
    assert len(listed) == len(set(listed)), "a table is listed twice"
    tables = set(SQLModel.metadata.tables)
    assert sorted(tables - set(listed)) == [], "tables the privacy page does not list"
    assert sorted(set(listed) - tables) == [], "listed on the privacy page, but no such table"


def test_the_page_lists_every_retention_setting() -> None:
    listed = _first_column(_section("Retention, per kind of data"))
    assert sorted(listed) == sorted(RetentionSettings.model_fields)
