"""Who is looking at the dashboard: a signed-in manager, in their language and time zone."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Viewer:
    member_id: int
    name: str
    locale: str | None  # None: the community's default language
    timezone: str | None  # None: UTC
