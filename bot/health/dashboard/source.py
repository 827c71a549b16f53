"""Where the dashboard's figures come from: the storage.health queries, each in its own
read-only session, or (in tests) anything with the same methods."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

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


class Source(Protocol):
    async def overview(self, filters: Filters) -> Overview: ...
    async def onboarding(self, filters: Filters) -> Onboarding: ...
    async def mentorship(self, filters: Filters) -> Mentorship: ...
    async def recognition(self, filters: Filters) -> Recognition: ...
    async def retention(self, filters: Filters) -> Retention: ...
    async def campaigns(self, filters: Filters) -> Campaigns: ...
    async def at_risk(self, filters: Filters) -> AtRisk: ...


class StorageSource:
    """The figures from the runtime's database, one read-only session per page."""

    def __init__(self, onramp: Onramp) -> None:
        self.onramp = onramp

    async def overview(self, filters: Filters) -> Overview:
        from storage import health

        flow = self.onramp.content.community.onboarding_flow
        async with self.onramp.db.reading() as session:
            return await health.overview(session, filters, flow)

    async def onboarding(self, filters: Filters) -> Onboarding:
        from storage import health

        flow = self.onramp.content.community.onboarding_flow
        async with self.onramp.db.reading() as session:
            return await health.onboarding(session, filters, flow)

    async def mentorship(self, filters: Filters) -> Mentorship:
        from storage import health

        async with self.onramp.db.reading() as session:
            return await health.mentorship(session, filters)

    async def recognition(self, filters: Filters) -> Recognition:
        from storage import health

        async with self.onramp.db.reading() as session:
            return await health.recognition(session, filters)

    async def retention(self, filters: Filters) -> Retention:
        from storage import health

        async with self.onramp.db.reading() as session:
            return await health.retention(session, filters)

    async def campaigns(self, filters: Filters) -> Campaigns:
        from storage import health

        async with self.onramp.db.reading() as session:
            return await health.campaigns(session, filters)

    async def at_risk(self, filters: Filters) -> AtRisk:
        from storage import health

        async with self.onramp.db.reading() as session:
            return await health.at_risk(session, filters)
