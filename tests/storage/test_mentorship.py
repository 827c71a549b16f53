"""Mentor profiles, offers and mentorships: the state machines, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

from sqlalchemy import select

from storage import mentorship
from storage.models import MentorRequest
from storage.session import Database
from storage.statuses import RequestStatus
from tests.storage.rows import NOW, new_member

LATER = NOW + timedelta(hours=48)
_numbers = itertools.count()


async def _people(db: Database, count: int) -> list[int]:
    return [await new_member(db, f"person-{next(_numbers)}") for _ in range(count)]


async def _mentor(db: Database, member_id: int, capacity: int = 2) -> None:
    async with db.transaction() as session:
        await mentorship.save_profile(
            session,
            member_id,
            NOW,
            topics=["docs", "code", "docs"],
            languages=["fr"],
            hours=(18, 21),
            capacity=capacity,
            intro="Ten years of docs",
        )


async def _offer(db: Database, newcomer: int, mentor: int) -> int | None:
    async with db.transaction() as session:
        return await mentorship.propose(
            session, newcomer, mentor, NOW, LATER, 5.8, [{"criterion": "language"}]
        )


async def test_signing_up_again_edits_the_profile(db: Database) -> None:
    (guide,) = await _people(db, 1)
    await _mentor(db, guide)
    async with db.transaction() as session:
        await mentorship.save_profile(
            session, guide, NOW, topics=["design"], languages=["es"], hours=None, capacity=3
        )
    async with db.reading() as session:
        (load,) = await mentorship.mentors(session)
    assert load.profile.topics == ["design"] and load.profile.capacity == 3
    assert load.profile.hours_start is None and load.member.id == guide and load.active == 0


async def test_a_pair_is_never_proposed_twice(db: Database) -> None:
    newcomer, guide = await _people(db, 2)
    await _mentor(db, guide)
    first = await _offer(db, newcomer, guide)
    assert first is not None
    async with db.transaction() as session:
        assert await mentorship.decline(session, first, NOW) is not None
    assert await _offer(db, newcomer, guide) is None  # declined once: never again
    async with db.reading() as session:
        assert await mentorship.proposed_pairs(session) == {(newcomer, guide)}


async def test_accepting_starts_a_mentorship_once(db: Database) -> None:
    newcomer, guide = await _people(db, 2)
    await _mentor(db, guide)
    offer = await _offer(db, newcomer, guide)
    assert offer is not None
    async with db.reading() as session:
        assert (await mentorship.mentors(session))[0].active == 1  # an open offer holds a place

    async def tap() -> int | None:
        async with db.transaction() as session:
            return await mentorship.accept(session, offer, NOW)

    started = [m for m in await asyncio.gather(tap(), tap()) if m is not None]
    assert len(started) == 1  # a double tap starts one mentorship
    async with db.transaction() as session:
        assert await mentorship.decline(session, offer, NOW) is None  # answered already
        assert await mentorship.expire(session, offer, NOW, pause_after=1) is None
        active = await mentorship.active_mentorship(session, newcomer)
        assert active is not None and active.mentor_id == guide
        assert await mentorship.active_mentorship(session, guide) == active
        assert (await mentorship.mentors(session))[0].active == 1
        assert await mentorship.open_offer(session, newcomer) is None
        assert await mentorship.end(session, started[0], "ended_by_newcomer", LATER)
        assert not await mentorship.end(session, started[0], "ended_by_newcomer", LATER)
        assert await mentorship.active_mentorship(session, newcomer) is None
        assert (await mentorship.mentors(session))[0].active == 0


async def test_a_mentor_who_lets_offers_expire_is_paused(db: Database) -> None:
    first, second, third, guide = await _people(db, 4)
    await _mentor(db, guide, capacity=5)
    offers = [await _offer(db, newcomer, guide) for newcomer in (first, second, third)]
    async with db.transaction() as session:
        assert offers[0] is not None and offers[1] is not None and offers[2] is not None
        expired = await mentorship.expire(session, offers[0], LATER, pause_after=2)
        assert expired is not None and expired[1] is False
        declined = await mentorship.decline(session, offers[1], LATER)  # an answer resets it
        assert declined is not None
        assert (await mentorship.expire(session, offers[2], LATER, pause_after=2)) is not None
    late = await _people(db, 1)
    offer = await _offer(db, late[0], guide)
    assert offer is not None
    async with db.transaction() as session:
        result = await mentorship.expire(session, offer, LATER, pause_after=2)
        assert result is not None and result[1] is True  # two in a row: paused, say so once
        (load,) = await mentorship.mentors(session)
        assert load.profile.paused
        assert await mentorship.set_paused(session, guide, False, LATER)  # /mentor resume
        (load,) = await mentorship.mentors(session)
        assert not load.profile.paused and load.profile.expired_in_a_row == 0
        assert not await mentorship.set_paused(session, late[0], True, LATER)  # no profile


async def test_withdrawn_offers_free_the_place(db: Database) -> None:
    newcomer, guide = await _people(db, 2)
    await _mentor(db, guide)
    offer = await _offer(db, newcomer, guide)
    assert offer is not None
    async with db.transaction() as session:
        assert await mentorship.open_offer(session, newcomer) is not None
        assert await mentorship.withdraw(session, offer, NOW) is not None
        assert await mentorship.open_offer(session, newcomer) is None
        assert (await mentorship.mentors(session))[0].active == 0


async def test_a_mentor_takes_at_least_one_mentee(db: Database) -> None:
    (guide,) = await _people(db, 1)
    async with db.transaction() as session:
        try:
            await mentorship.save_profile(
                session, guide, NOW, topics=[], languages=["en"], hours=None, capacity=0
            )
        except ValueError as exc:
            assert "at least one" in str(exc)
        else:
            raise AssertionError("capacity 0 was accepted")


async def test_a_request_keeps_when_it_was_matched(db: Database) -> None:
    """The end of the newcomer's wait (the Mentorship page's Time to First Response) is kept
    when their request is matched, and cleared when a cancelled request is made again."""
    (newcomer,) = await _people(db, 1)

    async def matched_at() -> object:
        async with db.reading() as session:
            found = await session.execute(
                select(MentorRequest.matched_at).where(MentorRequest.member_id == newcomer)
            )
            return found.scalar_one()

    async with db.transaction() as session:
        assert await mentorship.request(session, newcomer, NOW) is None
        await mentorship.request_moved(session, newcomer, RequestStatus.OFFERED, NOW)
    assert await matched_at() is None  # offered is not matched
    async with db.transaction() as session:
        await mentorship.request_moved(session, newcomer, RequestStatus.MATCHED, LATER)
    assert await matched_at() == LATER
    async with db.transaction() as session:  # (a cancelled request, made again: by hand)
        await mentorship.request_moved(session, newcomer, RequestStatus.CANCELLED, LATER)
        assert await mentorship.request(session, newcomer, LATER) is None
    assert await matched_at() is None
