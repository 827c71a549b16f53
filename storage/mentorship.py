"""Mentor profiles, offers and mentorships as stored state machines.

An offer goes offered → accepted, declined, expired or withdrawn, and only from offered: each
change is one conditional UPDATE, so two answers racing (a double tap, two replicas) change it
once. There is one offer row per (newcomer, mentor) pair ever, under a unique constraint: a
pair is never proposed twice, whatever happened to the first offer. An accepted offer starts
a mentorship, active until it ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update

from storage import activity, loading
from storage.models import Member, MentorOffer, MentorProfile, MentorRequest, Mentorship
from storage.session import Session, dialect_insert
from storage.statuses import MentorshipStatus, OfferStatus, RequestStatus


@dataclass(frozen=True)
class MentorLoad:
    """A mentor's profile with the member's own details and their active mentorships."""

    profile: MentorProfile
    member: Member
    active: int


async def save_profile(
    session: Session,
    member_id: int,
    now: datetime,
    *,
    topics: Sequence[str],
    languages: Sequence[str],
    hours: tuple[int, int] | None,
    capacity: int,
    intro: str = "",
) -> MentorProfile:
    """Create or replace a member's mentor profile (signing up again edits it)."""
    if capacity < 1:
        raise ValueError("a mentor takes at least one mentee at once")
    profile = (
        await session.execute(select(MentorProfile).where(MentorProfile.member_id == member_id))
    ).scalar_one_or_none()
    if profile is None:
        profile = MentorProfile(member_id=member_id, created_at=now)
        session.add(profile)
    profile.topics = sorted(set(topics))
    profile.languages = sorted(set(languages))
    profile.hours_start, profile.hours_end = hours if hours else (None, None)
    profile.capacity = capacity
    profile.intro = intro
    profile.updated_at = now
    await session.flush()
    return profile


async def set_paused(session: Session, member_id: int, paused: bool, now: datetime) -> bool:
    """Pause or resume new offers to a mentor; False if they have no profile. Resuming also
    forgets the offers they let expire."""
    values: dict[str, Any] = {"paused": paused, "updated_at": now}
    if not paused:
        values["expired_in_a_row"] = 0
    result = await session.execute(
        update(MentorProfile).where(MentorProfile.member_id == member_id).values(**values)
    )
    return bool(result.rowcount)


async def propose(
    session: Session,
    newcomer_id: int,
    mentor_id: int,
    now: datetime,
    expires_at: datetime,
    score: float,
    reasons: list[dict[str, Any]],
) -> int | None:
    """Record an offer; None if this pair was ever proposed before (never twice)."""
    insert = dialect_insert(session.get_bind().dialect.name)
    result = await session.execute(
        insert(MentorOffer)
        .values(
            newcomer_id=newcomer_id,
            mentor_id=mentor_id,
            status=OfferStatus.OFFERED,
            score=score,
            reasons=reasons,
            offered_at=now,
            expires_at=expires_at,
        )
        .on_conflict_do_nothing(index_elements=["newcomer_id", "mentor_id"])
        .returning(MentorOffer.id)
    )
    return result.scalar_one_or_none()


async def accept(session: Session, offer_id: int, now: datetime) -> int | None:
    """The mentor accepts: the offer is accepted and a mentorship starts; returns its id, or
    None if the offer was not open (answered, expired or withdrawn meanwhile)."""
    offer = await _answer(session, offer_id, OfferStatus.ACCEPTED, now)
    if offer is None:
        return None
    await _answered_by(session, offer.mentor_id)
    mentorship = Mentorship(
        newcomer_id=offer.newcomer_id, mentor_id=offer.mentor_id, offer_id=offer.id, started_at=now
    )
    session.add(mentorship)
    await session.flush()
    await activity.matched(session, offer.newcomer_id, now)
    return mentorship.id


async def decline(session: Session, offer_id: int, now: datetime) -> MentorOffer | None:
    """The mentor declines; the offer, or None if it was not open."""
    offer = await _answer(session, offer_id, OfferStatus.DECLINED, now)
    if offer is not None:
        await _answered_by(session, offer.mentor_id)
    return offer


async def _answered_by(session: Session, mentor_id: int) -> None:
    """A mentor who answers an offer (either way) is no longer counted as unresponsive."""
    await session.execute(
        update(MentorProfile).where(MentorProfile.member_id == mentor_id).values(expired_in_a_row=0)
    )


async def expire(
    session: Session, offer_id: int, now: datetime, pause_after: int
) -> tuple[MentorOffer, bool] | None:
    """No answer in time: the offer expires. Returns it, and whether this paused the mentor
    (`pause_after` offers in a row left to expire); None if the offer was not open."""
    offer = await _answer(session, offer_id, OfferStatus.EXPIRED, now)
    if offer is None:
        return None
    profile = (
        await session.execute(
            select(MentorProfile).where(MentorProfile.member_id == offer.mentor_id)
        )
    ).scalar_one_or_none()
    if profile is None:
        return offer, False
    profile.expired_in_a_row += 1
    paused_now = not profile.paused and profile.expired_in_a_row >= pause_after
    if paused_now:
        profile.paused = True
    profile.updated_at = now
    await session.flush()
    return offer, paused_now


async def withdraw(session: Session, offer_id: int, now: datetime) -> MentorOffer | None:
    """The newcomer no longer needs it (matched elsewhere, left): the offer is withdrawn."""
    return await _answer(session, offer_id, OfferStatus.WITHDRAWN, now)


async def _answer(
    session: Session, offer_id: int, status: OfferStatus, now: datetime
) -> MentorOffer | None:
    result = await session.execute(
        update(MentorOffer)
        .where(MentorOffer.id == offer_id, MentorOffer.status == OfferStatus.OFFERED)
        .values(status=status, answered_at=now)
        .returning(MentorOffer)
    )
    return result.scalar_one_or_none()


async def end(session: Session, mentorship_id: int, reason: str, now: datetime) -> bool:
    """End an active mentorship (its schedule ran out, or either person ended it)."""
    result = await session.execute(
        update(Mentorship)
        .where(Mentorship.id == mentorship_id, Mentorship.status == MentorshipStatus.ACTIVE)
        .values(status=MentorshipStatus.ENDED, ended_at=now, end_reason=reason)
    )
    return bool(result.rowcount)


async def proposed_pairs(session: Session) -> set[tuple[int, int]]:
    """Every (newcomer, mentor) pair ever offered: the matcher must not offer them again."""
    rows = await session.execute(select(MentorOffer.newcomer_id, MentorOffer.mentor_id))
    return {(newcomer, mentor) for newcomer, mentor in rows.all()}


async def open_offer(session: Session, newcomer_id: int) -> MentorOffer | None:
    """The newcomer's offer waiting for a mentor's answer, if any."""
    return (
        await session.execute(
            select(MentorOffer).where(
                MentorOffer.newcomer_id == newcomer_id, MentorOffer.status == OfferStatus.OFFERED
            )
        )
    ).scalar_one_or_none()


async def active_mentorship(session: Session, member_id: int) -> Mentorship | None:
    """The member's active mentorship, as newcomer or as mentor (the latest, for a mentor)."""
    return (
        await session.execute(
            select(Mentorship)
            .where(
                Mentorship.status == MentorshipStatus.ACTIVE,
                (Mentorship.newcomer_id == member_id) | (Mentorship.mentor_id == member_id),
            )
            .order_by(Mentorship.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


def _mentors_with_load() -> Any:
    active = (
        select(Mentorship.mentor_id, func.count().label("n"))
        .where(Mentorship.status == MentorshipStatus.ACTIVE)
        .group_by(Mentorship.mentor_id)
        .subquery()
    )
    offered = (
        select(MentorOffer.mentor_id, func.count().label("n"))
        .where(MentorOffer.status == OfferStatus.OFFERED)
        .group_by(MentorOffer.mentor_id)
        .subquery()
    )
    return (
        select(
            MentorProfile,
            Member,
            func.coalesce(active.c.n, 0) + func.coalesce(offered.c.n, 0),
        )
        .join(Member, Member.id == MentorProfile.member_id)
        .outerjoin(active, active.c.mentor_id == MentorProfile.member_id)
        .outerjoin(offered, offered.c.mentor_id == MentorProfile.member_id)
        .order_by(MentorProfile.member_id)
    )


# Built once: every newcomer who asks for a mentor reads it, and building its two subqueries
# made about thirty objects in reference cycles each time, left for the collector.
_MENTORS_WITH_LOAD = _mentors_with_load()


async def mentors(session: Session) -> list[MentorLoad]:
    """Every mentor with their load: active mentorships, and open offers, which hold a place
    until answered. One query."""
    rows = await loading.every(session, _MENTORS_WITH_LOAD, {})
    return [MentorLoad(profile, member, int(load)) for profile, member, load in rows]


@cache
def _ask(dialect: str) -> Any:
    """Built once per dialect (each build left objects in reference cycles): every newcomer
    who wants a mentor."""
    asked_at: Any = bindparam("asked_at")
    return (
        dialect_insert(dialect)(MentorRequest)
        .values(
            member_id=bindparam("asker"),
            status=RequestStatus.WAITING,
            requested_at=asked_at,
            updated_at=asked_at,
        )
        .on_conflict_do_nothing(index_elements=["member_id"])
        .returning(MentorRequest.id)
    )


async def request(session: Session, member_id: int, now: datetime) -> RequestStatus | None:
    """The newcomer asks for a mentor. Returns None if the request is new (or was cancelled
    and is open again), or the state of the request they already have."""
    dialect = session.get_bind().dialect.name
    created = await session.core(_ask(dialect), {"asker": member_id, "asked_at": now})
    if created.first() is not None:
        await activity.requested(session, member_id, now)
        return None
    reopened = await session.execute(
        update(MentorRequest)
        .where(
            MentorRequest.member_id == member_id, MentorRequest.status == RequestStatus.CANCELLED
        )
        .values(status=RequestStatus.WAITING, requested_at=now, updated_at=now, matched_at=None)
    )
    if reopened.rowcount:
        await activity.requested(session, member_id, now)
        return None
    return (
        await session.execute(
            select(MentorRequest.status).where(MentorRequest.member_id == member_id)
        )
    ).scalar_one()


async def request_moved(
    session: Session,
    member_id: int,
    to: RequestStatus,
    now: datetime,
    *,
    was: Sequence[RequestStatus] = (),
) -> bool:
    """Move a newcomer's request to state `to` (only from one of `was`, if given); matched,
    it keeps the moment (`matched_at`: the end of the newcomer's wait)."""
    statement = update(MentorRequest).where(MentorRequest.member_id == member_id)
    if was:
        statement = statement.where(MentorRequest.status.in_(was))
    values: dict[str, Any] = {"status": to, "updated_at": now}
    if to == RequestStatus.MATCHED:
        values["matched_at"] = now
    result = await session.execute(statement.values(values))
    return bool(result.rowcount)


async def request_status(session: Session, member_id: int) -> RequestStatus | None:
    return (
        await session.execute(
            select(MentorRequest.status).where(MentorRequest.member_id == member_id)
        )
    ).scalar_one_or_none()


async def waiting(session: Session) -> list[Member]:
    """Newcomers whose request waits for an offer, oldest first."""
    rows = await session.execute(
        select(Member)
        .join(MentorRequest, MentorRequest.member_id == Member.id)
        .where(MentorRequest.status == RequestStatus.WAITING, Member.opted_out.is_(False))
        .order_by(MentorRequest.requested_at, MentorRequest.id)
    )
    return list(rows.scalars())


async def offer(session: Session, offer_id: int) -> MentorOffer | None:
    return await session.get(MentorOffer, offer_id)


# Read when a newcomer is matched (built once: the hot path only binds parameters).
_OPEN_OFFERS = (
    select(MentorOffer).where(MentorOffer.status == bindparam("offered")).order_by(MentorOffer.id)
)
_OFFERED_TO = select(MentorOffer.mentor_id).where(
    MentorOffer.newcomer_id == bindparam("newcomer_id")
)
_MENTEE_OF = (
    select(Mentorship)
    .where(
        Mentorship.newcomer_id == bindparam("newcomer_id"),
        Mentorship.status == bindparam("active"),
    )
    .limit(1)
)


async def open_offers(session: Session) -> list[MentorOffer]:
    """Every offer still waiting for its mentor's answer."""
    rows = await loading.every(session, _OPEN_OFFERS, {"offered": OfferStatus.OFFERED})
    return [offer for (offer,) in rows]


async def open_offers_to(session: Session, mentor_id: int) -> list[MentorOffer]:
    rows = await session.execute(
        select(MentorOffer)
        .where(MentorOffer.mentor_id == mentor_id, MentorOffer.status == OfferStatus.OFFERED)
        .order_by(MentorOffer.id)
    )
    return list(rows.scalars())


async def active_mentorships(session: Session, member_id: int) -> list[Mentorship]:
    """The member's active mentorships, as newcomer or as mentor, oldest first."""
    rows = await session.execute(
        select(Mentorship)
        .where(
            Mentorship.status == MentorshipStatus.ACTIVE,
            (Mentorship.newcomer_id == member_id) | (Mentorship.mentor_id == member_id),
        )
        .order_by(Mentorship.id)
    )
    return list(rows.scalars())


async def profile_of(session: Session, member_id: int) -> MentorProfile | None:
    return (
        await session.execute(select(MentorProfile).where(MentorProfile.member_id == member_id))
    ).scalar_one_or_none()


async def mentors_offered(session: Session, newcomer_id: int) -> set[int]:
    """Every mentor this newcomer was ever proposed to."""
    rows = await session.core(_OFFERED_TO, {"newcomer_id": newcomer_id})
    return {mentor_id for (mentor_id,) in rows.all()}


async def mentee_of(session: Session, newcomer_id: int) -> Mentorship | None:
    """The newcomer's active mentorship, if they have one."""
    params = {"newcomer_id": newcomer_id, "active": MentorshipStatus.ACTIVE}
    mentorship: Mentorship | None = await loading.one(session, _MENTEE_OF, params)
    return mentorship


@dataclass(frozen=True)
class WithPartner:
    """A mentorship as one of its two people sees it: its state and the other person's name."""

    status: str
    end_reason: str | None
    newcomer_id: int
    mentor_id: int
    partner_name: str


_MENTORSHIP: Any = Mentorship.__table__
_MEMBER: Any = Member.__table__
# One statement, built once: check-ins ask it for every person of a burst (10,000 at 09:00),
# so it runs prepared (storage/prepared.py) instead of loading two ORM objects each time.
_WITH_PARTNER = (
    select(
        _MENTORSHIP.c.status,
        _MENTORSHIP.c.end_reason,
        _MENTORSHIP.c.newcomer_id,
        _MENTORSHIP.c.mentor_id,
        _MEMBER.c.display_name,
    )
    .join(
        _MEMBER,
        or_(
            (_MENTORSHIP.c.newcomer_id == bindparam("as_newcomer"))
            & (_MEMBER.c.id == _MENTORSHIP.c.mentor_id),
            (_MENTORSHIP.c.mentor_id == bindparam("as_mentor"))
            & (_MEMBER.c.id == _MENTORSHIP.c.newcomer_id),
        ),
    )
    .where(_MENTORSHIP.c.id == bindparam("mentorship_id"))
)


async def with_partner(session: Session, mentorship_id: int, member_id: int) -> WithPartner | None:
    """A mentorship of `member_id`'s and the other person in it, in one query."""
    found = (
        await session.core(
            _WITH_PARTNER,
            {"mentorship_id": mentorship_id, "as_newcomer": member_id, "as_mentor": member_id},
        )
    ).first()
    if found is None:
        return None
    status, end_reason, newcomer_id, mentor_id, partner_name = found
    return WithPartner(str(status), end_reason, newcomer_id, mentor_id, partner_name or "")


async def mentor_busy(session: Session, mentor_id: int) -> bool:
    """Whether an offer to this mentor waits for their answer. On PostgreSQL the mentor's
    profile row is locked first, so two processes never both find them free."""
    if session.get_bind().dialect.name != "sqlite":
        await session.execute(
            select(MentorProfile.id).where(MentorProfile.member_id == mentor_id).with_for_update()
        )
    found = await session.execute(
        select(MentorOffer.id)
        .where(MentorOffer.mentor_id == mentor_id, MentorOffer.status == OfferStatus.OFFERED)
        .limit(1)
    )
    return found.scalar_one_or_none() is not None


async def latest_offer_to(session: Session, mentor_id: int) -> MentorOffer | None:
    return (
        (
            await session.execute(
                select(MentorOffer)
                .where(MentorOffer.mentor_id == mentor_id)
                .order_by(MentorOffer.id.desc())
                .limit(1)
            )
        )
        .scalars()
        .first()
    )
