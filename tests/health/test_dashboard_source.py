"""The dashboard asks the database what `onramp report` asks it: the same onboarding flow and,
for the campaigns page, the content's survey questions, so a survey's choices are counted by
value on both (and typed text on neither)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.health.dashboard import source
from bot.health.report import questions
from bot.runtime import Onramp
from storage.health.types import Campaigns, Filters
from tests.clock import FakeClock


async def test_the_campaigns_page_asks_with_the_content_s_questions(
    onramp: Onramp, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[Any, ...]] = []

    async def campaigns(session: Any, filters: Filters, *more: Any) -> Campaigns:
        asked.append((filters, *more))
        return Campaigns([], [])

    monkeypatch.setattr(source.health, "campaigns", campaigns)
    filters = Filters(clock.now - timedelta(days=90), clock.now)
    assert await source.StorageSource(onramp).campaigns(filters) == Campaigns([], [])
    ((given, survey),) = asked
    assert given == filters
    assert survey == questions(onramp.content)
    assert survey["onboarding_survey"]["going"].choices >= {"well", "slow", "stuck", "stopped"}
