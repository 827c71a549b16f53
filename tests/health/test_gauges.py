"""The business gauges of /metrics: members by onboarding state, mentor requests by status and
due work by status, read from the database at each scrape, over real HTTP; and a scrape that
still answers, without them, when the database does not.

The bot starts on Monday 2 March 2026, 10:00 UTC (tests/clock.py); an onboarding run untouched
for more than 7 days is stalled.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.memory import MemoryAdapter
from bot.runtime import Onramp
from bot.settings import Settings
from storage.models import DueWork, FlowRun, Member, MentorRequest
from storage.session import Database
from tests.clock import START, FakeClock

# Nothing listens on port 9 (discard): a database that does not answer.
UNREACHABLE = "postgresql+asyncpg://onramp@127.0.0.1:9/onramp"


@pytest.fixture
async def served(
    settings: Settings, database_url: str, memory: MemoryAdapter, clock: FakeClock
) -> AsyncIterator[Onramp]:
    """The runtime serving /metrics, on SQLite and PostgreSQL."""
    settings.database.url = database_url
    settings.web.enabled, settings.web.host, settings.web.port = "always", "127.0.0.1", 0
    onramp = await Onramp.create(settings, {"memory": memory}, clock=clock)
    await onramp.start()
    try:
        yield onramp
    finally:
        await onramp.stop()


async def scrape(onramp: Onramp) -> dict[tuple[str, str], float]:
    """/metrics, as (metric, its one label's value) → value, for the business gauges."""
    assert onramp.web is not None
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{onramp.web.port}") as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    found: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name in {"onramp_members", "onramp_mentor_requests", "onramp_due_work"}:
                [value] = sample.labels.values()
                found[(sample.name, value)] = sample.value
    found[("onramp_build_info", "")] = float("onramp_build_info" in response.text)
    return found


async def a_small_community(onramp: Onramp) -> None:
    """Seven members: two who never started onboarding, one going (moved yesterday), one
    stalled (untouched for 8 days), one who left it unfinished (expired), two who completed
    it (one of them after an earlier expired run). Three mentor requests (two waiting, one
    matched). Due work: two pending, one failed, one done."""
    flow = onramp.content.community.onboarding_flow
    runs = {
        "going": [("active", timedelta(days=1))],
        "stalled": [("paused", timedelta(days=8))],
        "left": [("expired", timedelta(days=20))],
        "done": [("completed", timedelta(days=3))],
        "again": [("expired", timedelta(days=30)), ("completed", timedelta(days=2))],
    }
    async with onramp.db.transaction() as session:
        ids: dict[str, int] = {}
        for name in ("never", "not yet", *runs):
            member = Member(display_name=name, created_at=START - timedelta(days=40))
            session.add(member)
            await session.flush()
            ids[name] = member.id or 0
        for name, made in runs.items():
            for status, ago in made:
                session.add(
                    FlowRun(
                        member_id=ids[name],
                        flow_id=flow,
                        status=status,
                        started_at=START - ago,
                        updated_at=START - ago,
                    )
                )
        for name, status in (("never", "waiting"), ("not yet", "waiting"), ("done", "matched")):
            session.add(MentorRequest(member_id=ids[name], status=status))
        for number, status in enumerate(("pending", "pending", "failed", "done")):
            session.add(
                DueWork(
                    key=f"test:{number}",
                    kind="flow.nudge",
                    due_at=START + timedelta(days=1),
                    status=status,
                )
            )


async def test_metrics_show_the_business_gauges(served: Onramp) -> None:
    empty = await scrape(served)
    assert empty[("onramp_members", "not_started")] == 0  # named from the start, at 0
    assert empty[("onramp_mentor_requests", "waiting")] == 0
    assert empty[("onramp_due_work", "failed")] == 0
    await a_small_community(served)
    found = await scrape(served)
    assert {key: value for key, value in found.items() if key[0] == "onramp_members"} == {
        ("onramp_members", "not_started"): 2,
        ("onramp_members", "in_progress"): 1,
        ("onramp_members", "stalled"): 2,
        ("onramp_members", "completed"): 2,
    }
    assert found[("onramp_mentor_requests", "waiting")] == 2
    assert found[("onramp_mentor_requests", "matched")] == 1
    assert found[("onramp_due_work", "pending")] == 2
    assert found[("onramp_due_work", "failed")] == 1
    assert found[("onramp_due_work", "done")] == 1


async def test_gauges_follow_the_clock(served: Onramp, clock: FakeClock) -> None:
    await a_small_community(served)
    clock.advance(days=7)  # the member who moved yesterday has now stalled too
    found = await scrape(served)
    assert found[("onramp_members", "in_progress")] == 0
    assert found[("onramp_members", "stalled")] == 3


async def test_a_scrape_without_the_database_leaves_the_gauges_out(
    served: Onramp, caplog: pytest.LogCaptureFixture
) -> None:
    working, served.db = served.db, Database.from_url(UNREACHABLE)
    try:
        with caplog.at_level(logging.WARNING, logger="onramp.metrics"):
            found = await scrape(served)
    finally:
        await served.db.dispose()
        served.db = working
    assert found == {("onramp_build_info", ""): 1.0}  # the process's own metrics still there
    assert "business gauges unavailable" in caplog.text
    assert await scrape(served) != found  # back once the database answers
