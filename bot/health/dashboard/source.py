"""Where the dashboard's figures come from: the storage.health queries, each in its own
read-only session, or (in tests) anything with the same methods."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from bot.health.report import questions
from storage import health
from storage.health.types import (
    AtRisk,
    Campaigns,
    Filters,
    Mentorship,
    Onboarding,
    Overview,
    Recognition,
    Retention,
)

if TYPE_CHECKING:
    from bot.runtime import Onramp

T = TypeVar("T")


class Source(Protocol):
    async def overview(self, filters: Filters) -> Overview: ...
    async def onboarding(self, filters: Filters) -> Onboarding: ...
    async def mentorship(self, filters: Filters) -> Mentorship: ...
    async def recognition(self, filters: Filters) -> Recognition: ...
    async def retention(self, filters: Filters) -> Retention: ...
    async def campaigns(self, filters: Filters) -> Campaigns: ...
    async def at_risk(self, filters: Filters) -> AtRisk: ...


class StorageSource:
    """The figures from the runtime's database, one read-only session per page, asked as
    `onramp report` asks them (the same onboarding flow, the same survey questions)."""

    def __init__(self, onramp: Onramp) -> None:
        self.onramp = onramp

    async def _read(self, query: Callable[..., Awaitable[T]], *arguments: Any) -> T:
        async with self.onramp.db.reading() as session:
            return await query(session, *arguments)

    async def overview(self, filters: Filters) -> Overview:
        return await self._read(health.overview, filters, self._flow())

    async def onboarding(self, filters: Filters) -> Onboarding:
        return await self._read(health.onboarding, filters, self._flow())

    async def mentorship(self, filters: Filters) -> Mentorship:
        return await self._read(health.mentorship, filters)

    async def recognition(self, filters: Filters) -> Recognition:
        return await self._read(health.recognition, filters)

    async def retention(self, filters: Filters) -> Retention:
        return await self._read(health.retention, filters)

    async def campaigns(self, filters: Filters) -> Campaigns:
        # Which answers are choices or numbers, so a survey's choices are counted by value
        # here as in the report, and typed text never is.
        return await self._read(health.campaigns, filters, questions(self.onramp.content))

    async def at_risk(self, filters: Filters) -> AtRisk:
        return await self._read(health.at_risk, filters)

    def _flow(self) -> str:
        return self.onramp.content.community.onboarding_flow
