"""Asking for a mentor, offering the best one, the mentor's answer, and offers that lapse.

A newcomer's request waits until an offer goes out; one offer is open per newcomer at a time,
and one per mentor. Declined or lapsed, the next best mentor is asked; a pair is never
proposed twice (storage keeps one offer row per pair ever). Accepted, both are introduced and
their check-ins are scheduled.
"""

from __future__ import annotations

import logging
import zoneinfo
from datetime import datetime
from typing import Any

from babel.dates import format_datetime

from bot import conversation
from bot.adapter import can_group_dm
from bot.mentorship import checkins
from bot.mentorship.matching import best
from bot.mentorship.people import (
    alert_managers,
    as_newcomer,
    available_mentors,
    contact,
    reasons_data,
    reasons_text,
    rules,
    topic_names,
    wants_mentorship,
)
from bot.messages import group_recipient
from bot.registry import Registry
from bot.turn import Turn, turn_for
from storage import due, runs
from storage import mentorship as store
from storage.models import Member, MentorOffer
from storage.statuses import RequestStatus

log = logging.getLogger("onramp.mentorship")


def expire_key(offer_id: int) -> str:
    return f"mentor.offer:{offer_id}"


async def ask_for_mentor(turn: Turn) -> None:
    """The member asks for a mentor (`/mentor`, or the `match_mentor` action)."""
    member_id = turn.member.id or 0
    if await store.mentee_of(turn.session, member_id) is not None:
        turn.reply(turn.system_text("mentor_already_matched"))
        return
    already = await store.request(turn.session, member_id, turn.now)
    if already in ("waiting", "offered"):
        turn.reply(turn.system_text("mentor_already_requested"))
        return
    if already == "matched":  # their mentorship ended: they may ask again
        await store.request_moved(turn.session, member_id, RequestStatus.WAITING, turn.now)
    turn.audit("mentor.requested")
    await wants_mentorship(turn, source="mentor_request")
    if await offer_next(turn, turn):
        turn.reply(turn.system_text("mentor_requested"))
    else:
        turn.reply(turn.system_text("mentor_waiting"))


async def match_mentor(turn: Turn, parameters: Any) -> None:
    await ask_for_mentor(turn)


async def offer_next(turn: Turn, newcomer: Turn) -> bool:
    """Offer the newcomer's waiting request to the best mentor free now; False if none is."""
    member = newcomer.member
    person = as_newcomer(member, turn.content)
    tried = await store.mentors_offered(turn.session, member.id or 0)
    found = best(
        person,
        await available_mentors(turn.session, turn.content),
        rules(turn),
        declined={(person.id, mentor) for mentor in tried},
        when=turn.now,
    )
    if found is None:
        return False
    mentor, score = found
    return await make_offer(turn, member, mentor.id, score.total, reasons_data(score.reasons))


async def make_offer(
    turn: Turn, newcomer: Member, mentor_id: int, score: float, reasons: list[dict[str, Any]]
) -> bool:
    """Record the offer and put it to the mentor; False if this pair was proposed before or
    the request is no longer waiting (another process got there first)."""
    newcomer_id = newcomer.id or 0
    if await store.mentor_busy(turn.session, mentor_id):
        return False  # offers come one at a time; another process just made one
    if not await store.request_moved(
        turn.session, newcomer_id, RequestStatus.OFFERED, turn.now, was=(RequestStatus.WAITING,)
    ):
        return False
    mentor = await turn_for(turn, mentor_id)
    timeout = turn.content.matching.offers.timeout
    offer_id = None
    if mentor is not None:  # reachable: no identity left, or /stop, and no offer is made
        offer_id = await store.propose(
            turn.session, newcomer_id, mentor_id, turn.now, turn.now + timeout, score, reasons
        )
    if offer_id is None or mentor is None:
        await store.request_moved(turn.session, newcomer_id, RequestStatus.WAITING, turn.now)
        return False
    await due.schedule(
        turn.session,
        key=expire_key(offer_id),
        kind="mentor.offer_expire",
        due_at=turn.now + timeout,
        member_id=mentor_id,
        payload={"offer": offer_id},
    )
    turn.audit("mentor.offered", offer=offer_id, mentor=mentor_id, newcomer=newcomer_id)
    flow = mentor.content.flows[mentor.content.matching.offer_flow]
    deadline = turn.now + timeout
    await conversation.start_flow(
        mentor,
        flow,
        {
            "offer": offer_id,
            "newcomer": mentor.name_of(newcomer),
            "reasons": reasons_text(mentor, reasons),
            "interests": topic_names(mentor, list(newcomer.profile.get("interests") or [])),
            "deadline": _when(mentor, deadline),
        },
    )
    return True


def _when(turn: Turn, at: datetime) -> str:
    """A time as the member reads it: their language, their time zone."""
    try:
        zone = zoneinfo.ZoneInfo(turn.member.timezone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return format_datetime(at, "EEEE d MMMM, HH:mm", tzinfo=zone, locale=turn.locale)


def _offer_id(turn: Turn) -> int:
    context = turn.run.state.get("context", {}) if turn.run is not None else {}
    return int(context.get("offer") or 0)


async def accept_offer(turn: Turn, parameters: Any) -> None:
    await answer(turn, _offer_id(turn), accepted=True, from_flow=True)


async def decline_offer(turn: Turn, parameters: Any) -> None:
    await answer(turn, _offer_id(turn), accepted=False, from_flow=True)


async def answer(turn: Turn, offer_id: int, *, accepted: bool, from_flow: bool = False) -> bool:
    """The mentor's answer. Whatever the state of the offer, they are told where it stands:
    not theirs, already answered, expired or withdrawn."""
    offer = await store.offer(turn.session, offer_id)
    if offer is None or offer.mentor_id != turn.member.id:
        turn.reply(turn.system_text("mentor_offer_not_yours"))
        return False
    if offer.status != "offered":
        turn.reply(turn.system_text(f"mentor_offer_{offer.status}"))
        return False
    if accepted:
        mentorship_id = await store.accept(turn.session, offer_id, turn.now)
        if mentorship_id is None:  # answered a moment ago, elsewhere
            turn.reply(turn.system_text("mentor_offer_accepted"))
            return False
        await due.cancel(turn.session, expire_key(offer_id))
        await _matched(turn, offer, mentorship_id)
    else:
        if await store.decline(turn.session, offer_id, turn.now) is None:
            turn.reply(turn.system_text("mentor_offer_declined"))
            return False
        await due.cancel(turn.session, expire_key(offer_id))
        turn.audit("mentor.declined", offer=offer_id)
        turn.reply(turn.system_text("mentor_declined_thanks"))
        await offer_again(turn, offer.newcomer_id)
    if not from_flow:
        await _close_offer_run(turn, offer)
    return True


async def _matched(turn: Turn, offer: MentorOffer, mentorship_id: int) -> None:
    """Introduce the two to each other and schedule their check-ins."""
    turn.audit("mentor.accepted", offer=offer.id, mentorship=mentorship_id)
    await store.request_moved(turn.session, offer.newcomer_id, RequestStatus.MATCHED, turn.now)
    newcomer = await turn_for(turn, offer.newcomer_id)
    profile = await store.profile_of(turn.session, turn.member.id or 0)
    intro = profile.intro if profile else ""
    if newcomer is not None and _together(newcomer, turn):
        # One conversation with the two of them (and the bot), in the newcomer's language.
        interests = list(newcomer.member.profile.get("interests") or [])
        newcomer.reply(
            newcomer.system_text(
                "mentor_intro_group",
                mentor=newcomer.name_of(turn.member),
                newcomer=newcomer.name_of(newcomer.member),
                intro=intro,
                interests=topic_names(newcomer, interests),
            ),
            to=group_recipient([newcomer.identity.external_id, turn.identity.external_id]),
        )
        newcomer.reply(
            newcomer.system_text("mentor_intro_sent", mentor=newcomer.name_of(turn.member))
        )
        turn.reply(turn.system_text("mentor_intro_sent", mentor=turn.name_of(newcomer.member)))
    elif newcomer is not None:
        newcomer.reply(
            newcomer.system_text(
                "mentor_intro_to_newcomer",
                mentor=newcomer.name_of(turn.member),
                contact=contact(newcomer, turn),
                intro=intro,
            )
        )
        interests = list(newcomer.member.profile.get("interests") or [])
        turn.reply(
            turn.system_text(
                "mentor_intro_to_mentor",
                newcomer=turn.name_of(newcomer.member),
                contact=contact(turn, newcomer),
                interests=topic_names(turn, interests),
            )
        )
    await checkins.schedule(turn, mentorship_id, (offer.newcomer_id, offer.mentor_id))


def _together(newcomer: Turn, mentor: Turn) -> bool:
    """Can the two be introduced in one group conversation?"""
    one, other = newcomer.identity, mentor.identity
    same_place = (one.platform, one.workspace) == (other.platform, other.workspace)
    return same_place and can_group_dm(one.platform)


async def offer_again(turn: Turn, newcomer_id: int) -> None:
    """The newcomer's offer went nowhere: their request waits again, and the next best mentor
    is asked now if there is one (else the periodic batch keeps trying)."""
    if not await store.request_moved(
        turn.session, newcomer_id, RequestStatus.WAITING, turn.now, was=(RequestStatus.OFFERED,)
    ):
        return
    newcomer = await turn_for(turn, newcomer_id)
    if newcomer is not None:
        await offer_next(turn, newcomer)


async def _close_offer_run(turn: Turn, offer: MentorOffer, say: str | None = None) -> None:
    """End the mentor's offer flow for this offer, wherever it is (answered by command, lapsed
    or withdrawn), telling them why if `say`."""
    mentor = await turn_for(turn, offer.mentor_id)
    if mentor is None:
        return
    flow_id = turn.content.matching.offer_flow
    for run in await runs.open_runs_of(turn.session, offer.mentor_id, flow_id):
        if int(run.state.get("context", {}).get("offer") or 0) == offer.id:
            was_active = run.status == "active"
            await conversation.cancel(mentor, run)
            if say:
                mentor.reply(mentor.system_text(say))
            if was_active:
                await conversation.resume_paused(mentor)


async def offer_expired(turn: Turn, work: Any) -> datetime | None:
    """No answer in time: the offer lapses, the next mentor is asked, and a mentor who let
    several lapse in a row is paused (and the managers told)."""
    offer_id = int(work.payload.get("offer") or 0)
    pause_after = turn.content.matching.offers.pause_after_expired
    lapsed = await store.expire(turn.session, offer_id, turn.now, pause_after)
    if lapsed is None:
        return None  # answered meanwhile
    offer, paused_now = lapsed
    turn.audit("mentor.offer_expired", offer=offer_id)
    await _close_offer_run(turn, offer, say="mentor_offer_lapsed")
    if paused_now:
        turn.reply(turn.system_text("mentor_paused_unanswered", count=pause_after))
        turn.audit("mentor.paused", reason="unanswered", offers=pause_after)
        await alert_managers(turn, "mentor_paused", mentor=turn.member.display_name)
    await offer_again(turn, offer.newcomer_id)
    return None


async def withdraw(turn: Turn, offer: MentorOffer, say: str = "mentor_offer_withdrawn") -> None:
    """Take an open offer back (the newcomer no longer needs it, or the batch moved it)."""
    if await store.withdraw(turn.session, offer.id or 0, turn.now) is None:
        return
    await due.cancel(turn.session, expire_key(offer.id or 0))
    turn.audit("mentor.offer_withdrawn", offer=offer.id)
    await _close_offer_run(turn, offer, say=say)


async def cancel_request(turn: Turn) -> bool:
    """The newcomer no longer wants a mentor: their request and any open offer end."""
    member_id = turn.member.id or 0
    if not await store.request_moved(
        turn.session,
        member_id,
        RequestStatus.CANCELLED,
        turn.now,
        was=(RequestStatus.WAITING, RequestStatus.OFFERED),
    ):
        return False
    offer = await store.open_offer(turn.session, member_id)
    if offer is not None:
        await withdraw(turn, offer)
    turn.audit("mentor.request_cancelled")
    return True


async def member_stopped(turn: Turn) -> None:
    """/stop: offers waiting for this mentor go to the next one (their timers are about to be
    cancelled with the rest), no new ones come, and their own request ends. Mentorships stay:
    /start brings them back to them."""
    member_id = turn.member.id or 0
    for offer in await store.open_offers_to(turn.session, member_id):
        if await store.withdraw(turn.session, offer.id or 0, turn.now) is not None:
            turn.audit("mentor.offer_withdrawn", offer=offer.id, reason="stopped")
            await offer_again(turn, offer.newcomer_id)
    await cancel_request(turn)
    await store.set_paused(turn.session, member_id, True, turn.now)


async def mentorship_withdrawn(turn: Turn) -> None:
    """The member withdrew `mentorship` (/privacy): offers waiting for them as a mentor go to
    the next mentor, and their own request ends (a mentor it was offered to is told it was
    withdrawn). No new offer comes to them or for them until they agree again (asking for a
    mentor, or /mentor signup, is agreeing). Mentorships under way carry on: either can end
    theirs with /mentor end."""
    member_id = turn.member.id or 0
    for offer in await store.open_offers_to(turn.session, member_id):
        if await store.withdraw(turn.session, offer.id or 0, turn.now) is not None:
            await due.cancel(turn.session, expire_key(offer.id or 0))
            turn.audit("mentor.offer_withdrawn", offer=offer.id, reason="consent")
            await _close_offer_run(turn, offer)
            await offer_again(turn, offer.newcomer_id)
    await cancel_request(turn)


async def member_leaving(turn: Turn) -> None:
    """The member's data is about to be erased (`onramp forget`): their mentorships end and
    their partners are told, offers to them go to the next mentor, their own request ends."""
    member_id = turn.member.id or 0
    for mentorship in await store.active_mentorships(turn.session, member_id):
        await checkins.end_mentorship(turn, mentorship, "left")
    for offer in await store.open_offers_to(turn.session, member_id):
        if await store.withdraw(turn.session, offer.id or 0, turn.now) is not None:
            await offer_again(turn, offer.newcomer_id)
    await cancel_request(turn)
    await store.set_paused(turn.session, member_id, True, turn.now)


async def offer_answered_already(turn: Turn, step_id: str, _: tuple[str, ...] = ()) -> bool:
    """Accept or Decline tapped again (or on an old offer): say where the latest offer to
    this mentor stands, rather than a puzzled "nothing pending"."""
    flow = turn.content.flows.get(turn.content.matching.offer_flow)
    if flow is None or step_id not in {step.id for step in flow.steps}:
        return False
    latest = await store.latest_offer_to(turn.session, turn.member.id or 0)
    if latest is None or latest.status == "offered":
        return False
    turn.reply(turn.system_text(f"mentor_offer_{latest.status}"))
    return True


def register(registry: Registry) -> None:
    """The offer actions, an offer's timeout, /stop handing offers on, and an offer's
    buttons pressed late (before the campaigns' own: the first to know the button answers)."""
    registry.action("match_mentor", "ask for a mentor for the member (the best one is offered)")(
        match_mentor
    )
    registry.action("accept_offer", "the mentor accepts the offer their flow shows")(accept_offer)
    registry.action("decline_offer", "the mentor declines the offer their flow shows")(
        decline_offer
    )
    registry.due("mentor.offer_expire")(offer_expired)
    registry.on_stop(member_stopped)
    registry.on_late_answer(offer_answered_already)
