"""The batch: every waiting newcomer matched at once, maximising the total score.

APScheduler runs it every `offers.batch_every` (content/matching.yaml); `onramp match` runs it
by hand with `reoptimize`, weighing the open offers again too. On PostgreSQL one process at a
time runs it (a transaction-level advisory lock); the others skip that round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from bot.mentorship.matching import Rules, optimize, score
from bot.mentorship.offers import make_offer, withdraw
from bot.mentorship.people import as_newcomer, available_mentors, matchable, reasons_data
from bot.registry import Registry
from bot.turn import Turn, member_turn
from flows.content import ContentTree
from storage import mentorship as store
from storage.models import Member, MentorOffer
from storage.session import Database, Session
from storage.statuses import RequestStatus

LOCK_CLASS, LOCK_NAME = 7201, "onramp:match"


@dataclass(frozen=True)
class Change:
    newcomer: int
    newcomer_name: str
    was: int | None  # mentor of the offer withdrawn, if any
    now: int | None  # mentor offered now, if any


@dataclass
class BatchResult:
    changes: list[Change] = field(default_factory=list)
    queued: tuple[int, ...] = ()  # outbox rows to deliver
    skipped: bool = False  # another process was running it


async def run(
    db: Database,
    content: ContentTree,
    now: datetime,
    registry: Registry,
    *,
    reoptimize: bool = False,
) -> BatchResult:
    async with db.transaction() as session:
        if not db.sqlite:
            locked = await session.execute(
                select(func.pg_try_advisory_xact_lock(LOCK_CLASS, func.hashtext(LOCK_NAME)))
            )
            if not locked.scalar_one():
                return BatchResult(skipped=True)
        return await _match(session, db, content, now, registry, reoptimize)


async def _match(
    session: Session,
    db: Database,
    content: ContentTree,
    now: datetime,
    registry: Registry,
    reoptimize: bool,
) -> BatchResult:
    held: dict[int, MentorOffer] = {}
    if reoptimize:
        held = {offer.newcomer_id: offer for offer in await store.open_offers(session)}
    by_id = {member.id or 0: member for member in await store.waiting(session)}  # oldest first
    for newcomer_id in held:
        member = await session.get(Member, newcomer_id)
        if member is not None:
            by_id[newcomer_id] = member
    allowed = await matchable(session, content, by_id)  # withdrew `mentorship`: not matched
    by_id = {newcomer_id: m for newcomer_id, m in by_id.items() if newcomer_id in allowed}
    held = {newcomer_id: o for newcomer_id, o in held.items() if newcomer_id in allowed}
    if not by_id:
        return BatchResult()
    free = {offer.mentor_id for offer in held.values()}
    mentors = await available_mentors(session, content, one_each=True, free=free)
    people = {newcomer_id: as_newcomer(m, content) for newcomer_id, m in by_id.items()}
    # A pair offered before is never offered again, except the open offer itself, which
    # may simply stand.
    keep = {(offer.newcomer_id, offer.mentor_id) for offer in held.values()}
    proposed = await store.proposed_pairs(session) - keep
    the_rules = Rules.from_content(content.matching)
    pairs = optimize(
        list(people.values()), mentors, the_rules, declined=proposed, when=now, seniority=True
    )
    chosen = {pair.newcomer: pair.mentor for pair in pairs}
    mentor_by_id = {mentor.id: mentor for mentor in mentors}
    turns: dict[int, Turn] = {}
    changes: list[Change] = []
    for newcomer_id in sorted({*held, *chosen}):
        offer = held.get(newcomer_id)
        mentor_id = chosen.get(newcomer_id)
        if offer is not None and offer.mentor_id == mentor_id:
            continue  # the same mentor is still the best: the offer stands
        key = f"match:{int(now.timestamp())}:{newcomer_id}"
        turn = await member_turn(session, db, content, newcomer_id, now, key, registry)
        if turn is None:
            continue
        turns[newcomer_id] = turn
        if offer is not None:
            await withdraw(turn, offer, say="mentor_offer_reassigned")
            await store.request_moved(
                session, newcomer_id, RequestStatus.WAITING, now, was=(RequestStatus.OFFERED,)
            )
        offered = None
        if mentor_id is not None:
            scored = score(people[newcomer_id], mentor_by_id[mentor_id], the_rules, now)
            reasons = reasons_data(scored.reasons)
            if await make_offer(turn, by_id[newcomer_id], mentor_id, scored.total, reasons):
                offered = mentor_id
        if offer is not None or offered is not None:
            name = by_id[newcomer_id].display_name
            changes.append(Change(newcomer_id, name, offer.mentor_id if offer else None, offered))
    queued: list[int] = []
    for turn in turns.values():
        queued.extend(await turn.flush())
    return BatchResult(changes, tuple(sorted(queued)))
