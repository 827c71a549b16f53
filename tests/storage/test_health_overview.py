"""The Overview, Onboarding and Retention queries against a small community built by hand.

Every expected number below was counted by hand from the community's description, on SQLite
and on PostgreSQL. The period is March 2026; the one before it is the 31 days before.

Members (joined in 2026 unless said; "reached": seconds from joining to the first message):
- ada 03-02 10:00, slack, en: consents; onboarded 03-02; asks 03-03; matched 03-04; kudos
  03-10; active 03-02, 03-04, 03-12 (weeks 1 and 2 after onboarding: retained); reached 30.
- bea 03-03, telegram, fr: consents; onboarded 03-03; asks 03-04; a kudos 03-20, revoked;
  active 03-03, 03-05 (week 1 only); reached 60.
- cy 03-05 12:00, slack, es: consents; onboarding stalled at `city` since 03-06 12:00 (24 h
  after it started); active 03-05; reached 120.
- dee 03-10 08:00, telegram, en: says no; onboarding expired at `consent` after 10 minutes;
  active 03-10; reached 10.
- eli 03-15, slack, pt: consents; onboarded 03-15; matched 03-16 without asking; active
  03-15, 03-17, 03-24 (retained); never reached.
- fay 03-20, slack, en: consents; onboarding at `city`, last moved 03-30 (not stalled);
  active 03-20, 03-30; reached 300.
- gus 02-10, slack, en: onboarded 02-10; matched 02-12; kudos 02-15 (his first) and 03-05;
  a survey paused at `rating` since 03-07 01:00 (1 h after it started); active 02-10, 03-06.
- hal 02-20, telegram, fr-CA: onboarded 03-01 02:00; first kudos 03-08; active 02-20, 03-01.
- ivy 2025-10-01, slack, en: active 2025-10-15 and 2025-11-20, never since.
- jon 2025-09-01, slack, en: the mentor, who gives every kudos; active 2025-12-01, 03-04.
- kim 2025-06-01, slack, en: active 2025-06-10.
- lou 03-21 00:00, whatsapp, ar: never asked for consent; onboarding stalled at `city` 2 h
  after it started; reached 5.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from storage import activity
from storage.health.onboarding import onboarding
from storage.health.overview import overview
from storage.health.retention import retention
from storage.health.types import (
    Cohort,
    Filters,
    FunnelStep,
    Overview,
    Spread,
    StepDropoff,
    Trend,
)
from storage.models import (
    FlowRun,
    Identity,
    Kudos,
    Member,
    MemberActivity,
    MentorRequest,
    Mentorship,
)
from storage.session import Database
from storage.statuses import RunStatus
from tests.storage.conftest import DaySets
from tests.storage.rows import rebuild_milestones

MARCH = Filters(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
FLOW = "onboarding"


def at(month: int, day: int, hour: int = 9, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# name: joined, platform, locale, consent, seconds until first reached, activity days
MEMBERS: dict[str, tuple[datetime, str, str, bool | None, int | None, list[date]]] = {
    "ada": (at(3, 2, 10), "slack", "en", True, 30, [date(2026, 3, d) for d in (2, 4, 12)]),
    "bea": (at(3, 3), "telegram", "fr", True, 60, [date(2026, 3, 3), date(2026, 3, 5)]),
    "cy": (at(3, 5, 12), "slack", "es", True, 120, [date(2026, 3, 5)]),
    "dee": (at(3, 10, 8), "telegram", "en", False, 10, [date(2026, 3, 10)]),
    "eli": (at(3, 15), "slack", "pt", True, None, [date(2026, 3, d) for d in (15, 17, 24)]),
    "fay": (at(3, 20), "slack", "en", True, 300, [date(2026, 3, 20), date(2026, 3, 30)]),
    "gus": (at(2, 10), "slack", "en", None, None, [date(2026, 2, 10), date(2026, 3, 6)]),
    "hal": (at(2, 20), "telegram", "fr-CA", None, None, [date(2026, 2, 20), date(2026, 3, 1)]),
    "ivy": (
        at(10, 1, year=2025),
        "slack",
        "en",
        None,
        None,
        [date(2025, 10, 15), date(2025, 11, 20)],
    ),
    "jon": (at(9, 1, year=2025), "slack", "en", None, None, [date(2025, 12, 1), date(2026, 3, 4)]),
    "kim": (at(6, 1, year=2025), "slack", "en", None, None, [date(2025, 6, 10)]),
    "lou": (at(3, 21, 0), "whatsapp", "ar", None, 5, []),
}


def _run(member: int, flow: str, status: RunStatus, step: str | None, **times: Any) -> FlowRun:
    return FlowRun(
        member_id=member,
        flow_id=flow,
        step_id=step,
        status=status,
        started_at=times["started_at"],
        updated_at=times.get("updated_at", times.get("finished_at", times["started_at"])),
        finished_at=times.get("finished_at"),
    )


async def _community(db: Database) -> dict[str, int]:
    ids: dict[str, int] = {}
    async with db.transaction() as session:
        for name, (joined, platform, locale, consent, reached, days) in MEMBERS.items():
            member = Member(
                display_name=name.title(),
                locale=locale,
                consent=consent,
                consent_at=joined + timedelta(minutes=5) if consent is not None else None,
                created_at=joined,
                last_active_at=joined,
                first_reached_at=None if reached is None else joined + timedelta(seconds=reached),
            )
            session.add(member)
            await session.flush()
            assert member.id is not None
            ids[name] = member.id
            session.add(Identity(member_id=member.id, platform=platform, external_id=name))
            for day in days:
                session.add(MemberActivity(member_id=member.id, day=day, platform=platform))
        done, active, expired, paused = (
            RunStatus.COMPLETED,
            RunStatus.ACTIVE,
            RunStatus.EXPIRED,
            RunStatus.PAUSED,
        )
        session.add_all(
            [
                _run(
                    ids["ada"],
                    FLOW,
                    done,
                    None,
                    started_at=at(3, 2, 10),
                    finished_at=at(3, 2, 10, 30),
                ),
                _run(
                    ids["bea"], FLOW, done, None, started_at=at(3, 3), finished_at=at(3, 3, 9, 20)
                ),
                _run(
                    ids["cy"],
                    FLOW,
                    active,
                    "city",
                    started_at=at(3, 5, 12),
                    updated_at=at(3, 6, 12),
                ),
                _run(
                    ids["dee"],
                    FLOW,
                    expired,
                    "consent",
                    started_at=at(3, 10, 8),
                    updated_at=at(3, 10, 8, 10),
                ),
                _run(
                    ids["eli"], FLOW, done, None, started_at=at(3, 15), finished_at=at(3, 15, 9, 30)
                ),
                _run(ids["fay"], FLOW, active, "city", started_at=at(3, 20), updated_at=at(3, 30)),
                _run(
                    ids["gus"], FLOW, done, None, started_at=at(2, 10), finished_at=at(2, 10, 9, 30)
                ),
                _run(
                    ids["gus"],
                    "survey",
                    paused,
                    "rating",
                    started_at=at(3, 7, 0),
                    updated_at=at(3, 7, 1),
                ),
                _run(ids["hal"], FLOW, done, None, started_at=at(2, 28), finished_at=at(3, 1, 2)),
                _run(
                    ids["lou"],
                    FLOW,
                    active,
                    "city",
                    started_at=at(3, 21, 0),
                    updated_at=at(3, 21, 2),
                ),
                MentorRequest(member_id=ids["ada"], requested_at=at(3, 3)),
                MentorRequest(member_id=ids["bea"], requested_at=at(3, 4)),
                Mentorship(newcomer_id=ids["ada"], mentor_id=ids["jon"], started_at=at(3, 4)),
                Mentorship(newcomer_id=ids["eli"], mentor_id=ids["jon"], started_at=at(3, 16)),
                Mentorship(newcomer_id=ids["gus"], mentor_id=ids["jon"], started_at=at(2, 12)),
            ]
        )
        for receiver, when, revoked in (
            ("ada", at(3, 10), None),
            ("bea", at(3, 20), at(3, 21)),
            ("gus", at(2, 15), None),
            ("gus", at(3, 5), None),
            ("hal", at(3, 8), None),
        ):
            session.add(
                Kudos(
                    giver_id=ids["jon"],
                    receiver_id=ids[receiver],
                    category="docs",
                    reason="thanks",
                    created_at=when,
                    revoked_at=revoked,
                )
            )
    await rebuild_milestones(db)  # the rows went in directly, not through what keeps them
    return ids


def _funnel(*members: int, rates: tuple[float | None, ...]) -> list[FunnelStep]:
    keys = ("joined", "consented", "onboarded", "asked_mentor", "matched")
    keys += ("first_contribution", "retained")
    return [FunnelStep(*step) for step in zip(keys, members, rates, strict=True)]


async def test_the_overview_counts_the_period_and_the_one_before(
    db: Database, day_sets: DaySets
) -> None:
    await _community(db)
    await day_sets(db)
    async with db.reading() as session:
        result = await overview(session, MARCH, FLOW)
    assert result == Overview(
        new_members=Trend(7, 2),
        onboarded=Trend(4, 1),
        matched=Trend(2, 1),
        first_contributions=Trend(2, 1),
        active_members=Trend(9, 2),
    )


async def test_onboarded_counts_a_members_first_finish_only(
    db: Database, day_sets: DaySets
) -> None:
    """Gus, onboarded in February, goes through onboarding again in March: he was onboarded
    in February, not again in March."""
    ids = await _community(db)
    async with db.transaction() as session:
        again = at(3, 9)
        run = _run(ids["gus"], FLOW, RunStatus.COMPLETED, None, started_at=again)
        run.finished_at = again + timedelta(minutes=5)
        session.add(run)
        await session.flush()
        await activity.finished(session, ids["gus"], FLOW, again + timedelta(minutes=5))
    await day_sets(db)
    async with db.reading() as session:
        result = await overview(session, MARCH, FLOW)
    assert result.onboarded == Trend(4, 1)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (
            replace(MARCH, platform="telegram"),
            Overview(Trend(2, 1), Trend(2, 0), Trend(0, 0), Trend(1, 0), Trend(3, 1)),
        ),
        (
            replace(MARCH, locale="fr"),
            Overview(Trend(1, 1), Trend(2, 0), Trend(0, 0), Trend(1, 0), Trend(2, 1)),
        ),
    ],
    ids=["platform", "locale"],
)
async def test_the_overview_keeps_the_members_the_filters_name(
    db: Database, filters: Filters, expected: Overview, day_sets: DaySets
) -> None:
    await _community(db)
    await day_sets(db)
    async with db.reading() as session:
        assert await overview(session, filters, FLOW) == expected


async def test_the_funnel_counts_those_who_joined_at_each_step_they_reached(
    db: Database, day_sets: DaySets
) -> None:
    await _community(db)
    await day_sets(db)
    async with db.reading() as session:
        result = await onboarding(session, MARCH, FLOW)
    assert result.funnel == _funnel(
        7, 5, 3, 2, 2, 1, 2, rates=(None, 5 / 7, 3 / 5, 2 / 3, 1 / 2, 1 / 2, 1 / 1)
    )  # matched: of ada and bea (asked), only ada; eli matched without asking. first
    # contribution: ada, of the matched ada and eli; retained: ada and eli, of whom ada had one
    assert result.dropoff == [
        StepDropoff("onboarding", "city", 2, 46800.0),  # cy 24 h, lou 2 h; not fay
        StepDropoff("onboarding", "consent", 1, 600.0),
        StepDropoff("survey", "rating", 1, 3600.0),
    ]
    assert result.first_message == Spread(6, 45.0, 300.0)  # 5 10 30 60 120 300


async def test_the_onboarding_page_of_one_platform(db: Database, day_sets: DaySets) -> None:
    await _community(db)
    await day_sets(db)
    async with db.reading() as session:
        result = await onboarding(session, replace(MARCH, platform="telegram"), FLOW)
    assert result.funnel == _funnel(
        2, 1, 1, 1, 0, 0, 0, rates=(None, 0.5, 1.0, 1.0, 0.0, None, None)
    )
    assert result.dropoff == [StepDropoff("onboarding", "consent", 1, 600.0)]
    assert result.first_message == Spread(2, 35.0, 60.0)


async def test_retention_cohorts_and_inactive_contributors(db: Database, day_sets: DaySets) -> None:
    await _community(db)
    await day_sets(db)
    quarter = Filters(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    async with db.reading() as session:
        result = await retention(session, quarter)
    assert result.cohorts == [
        Cohort(date(2026, 1, 1), 0, [0, 0, 0]),
        Cohort(date(2026, 2, 1), 2, [2, 2]),  # gus and hal
        Cohort(date(2026, 3, 1), 7, [6]),  # lou was never active
    ]
    # Active from 2025-10-03 to 2025-12-31: ivy and jon; ivy not since.
    assert (result.inactive, result.active_before) == (1, 2)


async def test_retention_of_one_language(db: Database, day_sets: DaySets) -> None:
    await _community(db)
    await day_sets(db)
    quarter = Filters(
        datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC), locale="fr"
    )
    async with db.reading() as session:
        result = await retention(session, quarter)
    assert result.cohorts == [
        Cohort(date(2026, 2, 1), 1, [1, 1]),  # hal
        Cohort(date(2026, 3, 1), 1, [1]),  # bea
    ]
    assert (result.inactive, result.active_before) == (0, 0)


async def test_an_empty_community_has_zeros_and_no_rates(db: Database) -> None:
    async with db.reading() as session:
        assert await overview(session, MARCH, FLOW) == Overview(*([Trend(0, 0)] * 5))
        result = await onboarding(session, MARCH, FLOW)
        kept = await retention(session, MARCH)
    assert result.funnel == _funnel(0, 0, 0, 0, 0, 0, 0, rates=(None,) * 7)
    assert result.dropoff == []
    assert result.first_message == Spread(0, None, None)
    assert kept.cohorts == [Cohort(date(2026, 3, 1), 0, [0])]
    assert (kept.inactive, kept.active_before) == (0, 0)
