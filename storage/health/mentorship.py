"""The Mentorship page: requests over time, how long a newcomer waits for a mentor, what became
of the offers, each mentor's load, how few mentors carry the mentoring, and check-ins.

Requests, offers, the absence factor and check-ins follow the members the filters keep as
newcomers (the person asking, offered, mentored or checked on); the load follows mentors the
filters keep, since it is about the mentors themselves.
"""

from __future__ import annotations

from sqlalchemy import and_, case, func, or_, select
from sqlmodel import col

from storage.health.periods import during, every_month
from storage.health.sql import in_scope, month, seconds_between, spread
from storage.health.types import Filters, MentorLoad, Mentorship, MonthCount, Spread
from storage.models import CheckIn, MentorOffer, MentorProfile, MentorRequest
from storage.models import Mentorship as MentorshipRow
from storage.session import Session
from storage.statuses import MentorshipStatus, OfferStatus


async def mentorship(session: Session, filters: Filters) -> Mentorship:
    """The period's mentoring. `wait` is CHAOSS Time to First Response (request → accepted
    offer), `absence_factor` CHAOSS Contributor Absence Factor over mentors."""
    dialect = session.get_bind().dialect.name
    asked, answered = await _checkins(session, filters)
    return Mentorship(
        requests=await _requests(session, filters, dialect),
        wait=await _wait(session, filters, dialect),
        offers=await _offers(session, filters),
        load=await _load(session, filters),
        absence_factor=absence_factor(await _started_per_mentor(session, filters)),
        mentors_active=await _mentors_active(session, filters),
        checkins_asked=asked,
        checkins_answered=answered,
    )


async def _requests(session: Session, filters: Filters, dialect: str) -> list[MonthCount]:
    requested = month(col(MentorRequest.requested_at), dialect)
    statement = (
        select(requested, func.count())
        .where(
            during(col(MentorRequest.requested_at), filters),
            in_scope(filters, col(MentorRequest.member_id)),
        )
        .group_by(requested)
    )
    return every_month(filters, (await session.execute(statement)).all())


async def _wait(session: Session, filters: Filters, dialect: str) -> Spread:
    """CHAOSS Time to First Response, for mentoring: from a request made in the period to the
    moment an offer the newcomer accepted matched it (`matched_at`: their first answer from a
    mentor who said yes). Requests not matched yet are left out, not counted as zero."""
    waited = seconds_between(
        col(MentorRequest.requested_at), col(MentorRequest.matched_at), dialect
    )
    statement = select(waited).where(  # unmatched: None, which `spread` leaves out
        during(col(MentorRequest.requested_at), filters),
        in_scope(filters, col(MentorRequest.member_id)),
    )
    return spread(list((await session.execute(statement)).scalars()))


async def _offers(session: Session, filters: Filters) -> dict[str, int]:
    """Offers made in the period by what became of them, every status named (0 when none)."""
    statement = (
        select(col(MentorOffer.status), func.count())
        .where(
            during(col(MentorOffer.offered_at), filters),
            in_scope(filters, col(MentorOffer.newcomer_id)),
        )
        .group_by(col(MentorOffer.status))
    )
    found = {str(status): int(n) for status, n in (await session.execute(statement)).all()}
    return {status.value: found.get(status.value, 0) for status in OfferStatus}


async def _load(session: Session, filters: Filters) -> list[MentorLoad]:
    """Every mentor with a profile (paused ones too): active mentorships now against capacity,
    the busiest first and, among equals, the one nearest their capacity."""
    active = func.count(col(MentorshipRow.id))
    statement = (
        select(active, col(MentorProfile.capacity))
        .select_from(MentorProfile)
        .outerjoin(
            MentorshipRow,
            and_(
                col(MentorshipRow.mentor_id) == col(MentorProfile.member_id),
                col(MentorshipRow.status) == MentorshipStatus.ACTIVE,
            ),
        )
        .where(in_scope(filters, col(MentorProfile.member_id)))
        .group_by(col(MentorProfile.id), col(MentorProfile.capacity))
        .order_by(active.desc(), col(MentorProfile.capacity), col(MentorProfile.id))
    )
    return [MentorLoad(int(n), int(capacity)) for n, capacity in await session.execute(statement)]


async def _started_per_mentor(session: Session, filters: Filters) -> list[int]:
    statement = (
        select(func.count())
        .where(
            during(col(MentorshipRow.started_at), filters),
            in_scope(filters, col(MentorshipRow.newcomer_id)),
        )
        .group_by(col(MentorshipRow.mentor_id))
    )
    return [int(n) for n in (await session.execute(statement)).scalars()]


def absence_factor(per_mentor: list[int]) -> int:
    """CHAOSS Contributor Absence Factor, for mentors: the fewest mentors whose mentorships
    make up at least half of them all (0 when there are none). At 2 or fewer, the mentoring
    hangs on a couple of people."""
    total = sum(per_mentor)
    carried = 0
    for fewest, count in enumerate(sorted(per_mentor, reverse=True), start=1):
        carried += count
        if 2 * carried >= total:
            return fewest
    return 0


async def _mentors_active(session: Session, filters: Filters) -> int:
    """Mentors with a mentorship running at some moment of the period."""
    statement = select(func.count(func.distinct(col(MentorshipRow.mentor_id)))).where(
        col(MentorshipRow.started_at) < filters.end,
        or_(col(MentorshipRow.ended_at).is_(None), col(MentorshipRow.ended_at) >= filters.start),
        in_scope(filters, col(MentorshipRow.newcomer_id)),
    )
    return int((await session.execute(statement)).scalar_one())


async def _checkins(session: Session, filters: Filters) -> tuple[int, int]:
    """Check-ins asked in the period, and how many of those were answered before its end."""
    answered = and_(col(CheckIn.answered_at).is_not(None), col(CheckIn.answered_at) < filters.end)
    statement = select(func.count(), func.count(case((answered, 1)))).where(
        during(col(CheckIn.asked_at), filters), in_scope(filters, col(CheckIn.member_id))
    )
    asked, done = (await session.execute(statement)).one()
    return int(asked), int(done)
