"""The At-risk lists and the /metrics gauges on a small community built by hand, on SQLite and
PostgreSQL.

The period ends on 1 March 2026: a flow untouched since before 22 February (7 days) is stalled,
a mentor request made before 27 February (48 hours) has waited too long. Ana is on Slack (and
later Telegram), Ben, Eve and Max on Telegram, Cid, Dee and Mo on Slack; Mo and Max mentor.
Every row expected below is picked by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime

from storage.health.at_risk import at_risk
from storage.health.gauges import gauges
from storage.health.types import (
    AtRisk,
    AtRiskCounts,
    Filters,
    SilentMentorship,
    StalledNewcomer,
    WaitingRequest,
)
from storage.models import (
    CheckIn,
    DueWork,
    FlowRun,
    Identity,
    Member,
    MentorRequest,
    Mentorship,
)
from storage.session import Database
from tests.storage.rows import add

END = datetime(2026, 3, 1, tzinfo=UTC)
PERIOD = Filters(datetime(2026, 2, 1, tzinfo=UTC), END)
SLACK = Filters(PERIOD.start, END, platform="slack")
TELEGRAM = Filters(PERIOD.start, END, platform="telegram")


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


async def person(db: Database, name: str, *platforms: str) -> int:
    (member_id,) = await add(
        db, Member(display_name=name, created_at=at(1, 1), last_active_at=at(1, 1))
    )
    await add(
        db,
        *(
            Identity(
                member_id=member_id,
                platform=platform,
                external_id=f"{name}-{platform}",
                created_at=at(1, 1),
            )
            for platform in platforms
        ),
    )
    return member_id


def run(member_id: int, flow: str, step: str | None, status: str, moved: datetime) -> FlowRun:
    return FlowRun(
        member_id=member_id,
        flow_id=flow,
        step_id=step,
        status=status,
        started_at=at(1, 1),
        updated_at=moved,
    )


def request(member_id: int, status: str, requested: datetime) -> MentorRequest:
    return MentorRequest(
        member_id=member_id, status=status, requested_at=requested, updated_at=requested
    )


def pair(newcomer: int, mentor: int, status: str = "active") -> Mentorship:
    return Mentorship(newcomer_id=newcomer, mentor_id=mentor, status=status, started_at=at(1, 20))


def checkin(
    mentorship_id: int, member_id: int, number: int, asked: datetime, answered: datetime | None
) -> CheckIn:
    return CheckIn(
        mentorship_id=mentorship_id,
        member_id=member_id,
        number=number,
        asked_at=asked,
        answered_at=answered,
    )


def due(key: str, status: str) -> DueWork:
    return DueWork(key=key, kind="checkin", due_at=at(2, 1), status=status, created_at=at(1, 1))


async def community(db: Database) -> None:
    ana = await person(db, "Ana", "slack", "telegram")
    ben, eve = [await person(db, name, "telegram") for name in ("Ben", "Eve")]
    cid, dee = [await person(db, name, "slack") for name in ("Cid", "Dee")]
    mo, max_ = await person(db, "Mo", "slack"), await person(db, "Max", "telegram")
    await add(
        db,
        run(ana, "onboarding", "intro", "active", at(2, 10)),
        run(ben, "onboarding", "goals", "paused", at(2, 1)),  # paused under the survey
        run(ben, "feedback", "rating", "active", at(2, 28)),  # recent
        run(cid, "onboarding", None, "completed", at(1, 1)),
        run(dee, "onboarding", "intro", "active", at(2, 25)),  # recent
        run(eve, "onboarding", "goals", "expired", at(1, 5)),  # ended: not open
        run(eve, "profile", None, "active", at(2, 21, 23)),  # an hour older than the limit
    )
    await add(
        db,
        request(ana, "waiting", at(2, 20)),
        request(ben, "offered", at(2, 26, 12)),
        request(cid, "waiting", at(2, 28)),  # not 48 hours yet
        request(dee, "matched", at(1, 10)),
        request(eve, "cancelled", at(1, 10)),
    )
    dee_mo, cid_max, eve_mo, ben_max = await add(
        db, pair(dee, mo), pair(cid, max_), pair(eve, mo, "ended"), pair(ben, max_)
    )
    await add(
        db,
        checkin(dee_mo, dee, 0, at(2, 1), at(2, 2)),
        checkin(dee_mo, mo, 0, at(2, 1), None),
        checkin(dee_mo, dee, 1, at(2, 15), None),
        checkin(dee_mo, mo, 1, at(2, 15), None),
        checkin(cid_max, cid, 0, at(2, 20), None),
        checkin(cid_max, cid, 1, at(3, 3), None),  # asked after the end
        checkin(eve_mo, eve, 0, at(2, 25), None),  # the mentorship ended
        checkin(ben_max, ben, 0, at(2, 10), at(2, 11)),
    )
    await add(
        db,
        due("a", "pending"),
        due("b", "pending"),
        due("c", "failed"),
        due("d", "done"),
    )


STALLED_BEN = StalledNewcomer(2, "Ben", "telegram", "onboarding", "goals", at(2, 1))
STALLED_ANA = StalledNewcomer(1, "Ana", "slack", "onboarding", "intro", at(2, 10))
STALLED_EVE = StalledNewcomer(3, "Eve", "telegram", "profile", None, at(2, 21, 23))
WAITING_ANA = WaitingRequest(1, "Ana", "slack", at(2, 20))
WAITING_BEN = WaitingRequest(2, "Ben", "telegram", at(2, 26, 12))
SILENT_CID = SilentMentorship(2, "Cid", "Max", 1, at(2, 20))
SILENT_DEE = SilentMentorship(1, "Dee", "Mo", 3, at(2, 15))


async def test_who_is_at_risk(db: Database) -> None:
    await community(db)
    async with db.reading() as session:
        found = await at_risk(session, PERIOD)
    assert found == AtRisk(
        stalled=[STALLED_BEN, STALLED_ANA, STALLED_EVE],  # oldest first
        waiting=[WAITING_ANA, WAITING_BEN],  # oldest first
        silent=[SILENT_CID, SILENT_DEE],  # newest unanswered check-in first
        counts=AtRiskCounts(stalled=3, waiting=2, silent=2),
    )


async def test_each_list_is_capped(db: Database) -> None:
    await community(db)
    async with db.reading() as session:
        found = await at_risk(session, PERIOD, limit=1)
    # Capped lists, counted whole: "the first 1 of 3".
    assert found == AtRisk([STALLED_BEN], [WAITING_ANA], [SILENT_CID], AtRiskCounts(3, 2, 2))


async def test_a_platform_keeps_its_own_members(db: Database) -> None:
    await community(db)
    async with db.reading() as session:
        slack = await at_risk(session, SLACK)
        telegram = await at_risk(session, TELEGRAM)
    assert slack == AtRisk(
        [STALLED_ANA], [WAITING_ANA], [SILENT_CID, SILENT_DEE], AtRiskCounts(1, 1, 2)
    )
    # Ana is on Telegram too; her platform stays the one she came from.
    assert telegram == AtRisk(
        [STALLED_BEN, STALLED_ANA, STALLED_EVE],
        [WAITING_ANA, WAITING_BEN],
        [],
        AtRiskCounts(3, 2, 0),
    )


async def test_an_empty_community(db: Database) -> None:
    async with db.reading() as session:
        assert await at_risk(session, PERIOD) == AtRisk([], [], [], AtRiskCounts(0, 0, 0))
        assert await gauges(session, "onboarding", END) == {
            "members_by_onboarding": {
                "not_started": 0,
                "in_progress": 0,
                "completed": 0,
                "stalled": 0,
            },
            "mentor_requests": {"waiting": 0, "offered": 0, "matched": 0, "cancelled": 0},
            "due_work": {
                "pending": 0,
                "running": 0,
                "done": 0,
                "skipped": 0,
                "failed": 0,
                "cancelled": 0,
            },
        }


async def test_the_gauges_count_what_stands_now(db: Database) -> None:
    await community(db)
    async with db.reading() as session:
        found = await gauges(session, "onboarding", END)
    assert found == {
        # Mo and Max never started; Dee is going; Cid finished; Ana and Ben stopped over a
        # week ago, Eve's run expired.
        "members_by_onboarding": {
            "not_started": 2,
            "in_progress": 1,
            "completed": 1,
            "stalled": 3,
        },
        "mentor_requests": {"waiting": 2, "offered": 1, "matched": 1, "cancelled": 1},
        "due_work": {
            "pending": 2,
            "running": 0,
            "done": 1,
            "skipped": 0,
            "failed": 1,
            "cancelled": 0,
        },
    }
