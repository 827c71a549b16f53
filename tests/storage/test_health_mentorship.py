"""The Mentorship page's numbers on a small community built by hand, on SQLite and PostgreSQL.

The period is January and February 2026. Newcomers Nia, Noor and Ned are on Slack, Tom and Tia
on Telegram, Sol (mentored in the autumn) on Slack; mentors Mia and Mo on Slack, Max on
Telegram. Every number expected below is counted by hand from the rows. Durations are compared to a
millionth: SQLite measures them in Julian days, a float that misses whole seconds slightly.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pytest import approx

from storage.health.mentorship import absence_factor, mentorship
from storage.health.types import Filters, MentorLoad, MonthCount, Spread
from storage.models import (
    CheckIn,
    Identity,
    Member,
    MentorOffer,
    MentorProfile,
    MentorRequest,
)
from storage.models import Mentorship as MentorshipRow
from storage.session import Database
from tests.storage.rows import add

JAN, FEB = date(2026, 1, 1), date(2026, 2, 1)
PERIOD = Filters(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
SLACK = Filters(PERIOD.start, PERIOD.end, platform="slack")
TELEGRAM = Filters(PERIOD.start, PERIOD.end, platform="telegram")


def at(month: int, day: int, hour: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


async def person(db: Database, name: str, platform: str) -> int:
    joined = at(9, 1, year=2025)
    (member_id,) = await add(
        db, Member(display_name=name, created_at=joined, last_active_at=joined)
    )
    await add(
        db, Identity(member_id=member_id, platform=platform, external_id=name, created_at=joined)
    )
    return member_id


def offer(
    newcomer: int, mentor: int, offered: datetime, status: str, answered: datetime | None
) -> MentorOffer:
    return MentorOffer(
        newcomer_id=newcomer,
        mentor_id=mentor,
        status=status,
        offered_at=offered,
        expires_at=offered + timedelta(days=2),
        answered_at=answered,
    )


def request(
    member_id: int, requested: datetime, status: str, matched: datetime | None = None
) -> MentorRequest:
    """A request; a matched one keeps when the offer the newcomer accepted matched it, as
    storage/mentorship.request_moved writes it."""
    return MentorRequest(
        member_id=member_id,
        status=status,
        requested_at=requested,
        updated_at=matched or requested,
        matched_at=matched,
    )


def pair(
    newcomer: int, mentor: int, started: datetime, ended: datetime | None = None
) -> MentorshipRow:
    status = "active" if ended is None else "ended"
    return MentorshipRow(
        newcomer_id=newcomer, mentor_id=mentor, status=status, started_at=started, ended_at=ended
    )


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


async def community(db: Database) -> None:
    nia, noor, ned = [await person(db, name, "slack") for name in ("Nia", "Noor", "Ned")]
    tom, tia = [await person(db, name, "telegram") for name in ("Tom", "Tia")]
    sol = await person(db, "Sol", "slack")
    mia, mo = [await person(db, name, "slack") for name in ("Mia", "Mo")]
    max_ = await person(db, "Max", "telegram")
    since = at(9, 1, year=2025)
    await add(
        db,
        MentorProfile(member_id=mia, capacity=3, created_at=since, updated_at=since),
        MentorProfile(member_id=mo, capacity=2, created_at=since, updated_at=since),
        MentorProfile(member_id=max_, capacity=1, created_at=since, updated_at=since),
    )
    await add(
        db,
        request(nia, at(1, 5, 10), "matched", at(1, 5, 12)),  # waits 2 h
        # declined by Mo, then waits 24 h for Mia
        request(noor, at(1, 20), "matched", at(1, 21)),
        request(ned, at(2, 10), "offered"),  # no accepted offer yet
        request(tom, at(2, 14), "matched", at(2, 14, 4)),  # waits 4 h
        request(tia, at(12, 20, year=2025), "matched", at(1, 2)),  # asked before the period
    )
    await add(
        db,
        offer(nia, mia, at(1, 5, 11), "accepted", at(1, 5, 12)),
        offer(noor, mo, at(1, 20, 1), "declined", at(1, 20, 6)),
        offer(noor, mia, at(1, 20, 12), "accepted", at(1, 21)),
        offer(ned, max_, at(2, 10, 1), "expired", None),
        offer(tom, max_, at(2, 14, 1), "accepted", at(2, 14, 4)),
        offer(tia, mo, at(12, 21, year=2025), "accepted", at(1, 2)),  # offered before
        offer(ned, mo, at(2, 28, 23), "offered", None),
    )
    first, second, third, _, _ = await add(
        db,
        pair(nia, mia, at(1, 5, 12)),
        pair(noor, mia, at(1, 21)),
        pair(tom, max_, at(2, 14, 4)),
        pair(tia, mo, at(1, 2), ended=at(2, 1)),
        pair(sol, mo, at(10, 1, year=2025), ended=at(11, 1, year=2025)),  # before the period
    )
    await add(
        db,
        checkin(first, nia, 0, at(1, 12), at(1, 13)),
        checkin(first, mia, 0, at(1, 12), None),
        checkin(second, noor, 0, at(1, 28), at(3, 2)),  # answered after the period
        checkin(third, tom, 0, at(2, 21), at(2, 22)),
        checkin(first, nia, 1, at(3, 3), None),  # asked after the period
    )


async def test_the_period_s_mentoring(db: Database) -> None:
    await community(db)
    async with db.reading() as session:
        found = await mentorship(session, PERIOD)
    assert found.requests == [MonthCount(JAN, 2), MonthCount(FEB, 2)]
    # Waits of 2 h, 24 h and 4 h: the median is 4 h, the 90th percentile (nearest rank) 24 h.
    assert found.wait == Spread(3, approx(14400), approx(86400))
    assert found.offers == {
        "offered": 1,
        "accepted": 3,
        "declined": 1,
        "expired": 1,
        "withdrawn": 0,
    }
    # Mia holds 2 of 3 places, Max 1 of 1, Mo none of 2 (Tia's mentorship ended).
    assert found.load == [MentorLoad(2, 3), MentorLoad(1, 1), MentorLoad(0, 2)]
    # Started in the period: Mia 2, Mo 1, Max 1; Mia alone carries half of the 4.
    assert found.absence_factor == 1
    assert found.mentors_active == 3  # Mia, Max, and Mo until Tia's ended on 1 February
    assert (found.checkins_asked, found.checkins_answered) == (4, 2)


async def test_a_platform_keeps_its_own_members(db: Database) -> None:
    await community(db)
    async with db.reading() as session:
        slack = await mentorship(session, SLACK)
        telegram = await mentorship(session, TELEGRAM)
    assert slack.requests == [MonthCount(JAN, 2), MonthCount(FEB, 1)]
    assert slack.wait == Spread(2, approx(46800), approx(86400))
    assert slack.offers == {
        "offered": 1,
        "accepted": 2,
        "declined": 1,
        "expired": 1,
        "withdrawn": 0,
    }
    assert slack.load == [MentorLoad(2, 3), MentorLoad(0, 2)]  # Slack's mentors, Mia and Mo
    assert (slack.absence_factor, slack.mentors_active) == (1, 1)
    assert (slack.checkins_asked, slack.checkins_answered) == (3, 1)

    assert telegram.requests == [MonthCount(JAN, 0), MonthCount(FEB, 1)]
    assert telegram.wait == Spread(1, approx(14400), approx(14400))
    assert telegram.offers == {
        "offered": 0,
        "accepted": 1,
        "declined": 0,
        "expired": 0,
        "withdrawn": 0,
    }
    assert telegram.load == [MentorLoad(1, 1)]
    assert (telegram.absence_factor, telegram.mentors_active) == (1, 2)  # Tia with Mo, Tom with Max
    assert (telegram.checkins_asked, telegram.checkins_answered) == (1, 1)


async def test_an_empty_community(db: Database) -> None:
    async with db.reading() as session:
        found = await mentorship(session, PERIOD)
    assert found.requests == [MonthCount(JAN, 0), MonthCount(FEB, 0)]
    assert found.wait == Spread(0, None, None)
    assert found.offers == {
        "offered": 0,
        "accepted": 0,
        "declined": 0,
        "expired": 0,
        "withdrawn": 0,
    }
    assert found.load == []
    assert (found.absence_factor, found.mentors_active) == (0, 0)
    assert (found.checkins_asked, found.checkins_answered) == (0, 0)


@pytest.mark.parametrize(
    ("per_mentor", "fewest"),
    [([], 0), ([5], 1), ([1, 1, 1, 1], 2), ([1, 3, 1, 1], 1), ([1, 2, 1, 2, 1], 2), ([1, 1, 1], 2)],
)
def test_the_absence_factor_is_the_fewest_mentors_carrying_half(
    per_mentor: list[int], fewest: int
) -> None:
    assert absence_factor(per_mentor) == fewest
