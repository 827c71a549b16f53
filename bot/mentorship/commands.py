"""`/mentor`: ask for a mentor, sign up as one, pause, resume, see or end a mentorship.

/mentor                 ask for a mentor (newcomers)
/mentor signup          become a mentor (or change your mentor profile)
/mentor pause | resume  stop, and restart, new offers
/mentor status          your mentorships, offers and request
/mentor end [N]         end your mentorship (N: which one, from /mentor status)
/mentor accept ID | decline ID   answer an offer in words (where there are no buttons)
/mentor cancel          you no longer want a mentor
"""

from __future__ import annotations

from bot import conversation
from bot.mentorship import checkins, offers
from bot.registry import Registry
from bot.turn import Turn
from flows.numbers import NotANumber, whole_number
from storage import mentorship as store
from storage.models import Member


async def mentor(turn: Turn, args: str) -> None:
    word, _, rest = args.strip().partition(" ")
    match word.casefold():
        case "":
            await offers.ask_for_mentor(turn)
        case "signup" | "sign-up":
            flow = turn.content.flows.get(turn.content.matching.signup_flow)
            if flow is None:
                turn.reply(turn.system_text("mentor_usage"))
                return
            await conversation.start_flow(turn, flow)
        case "pause" | "resume":
            await _pause(turn, word.casefold() == "pause")
        case "status":
            await status(turn)
        case "end":
            await _end(turn, rest.strip())
        case "accept" | "decline":
            offer_id = whole_number(rest.strip().lstrip("#"), low=1)
            if isinstance(offer_id, NotANumber):
                example = f"/mentor {word.casefold()} 12"
                turn.reply(_not_a_number(turn, offer_id, example, "mentor_offer_not_yours"))
                return
            await offers.answer(turn, offer_id, accepted=word.casefold() == "accept")
        case "cancel":
            done = await offers.cancel_request(turn)
            turn.reply(
                turn.system_text("mentor_request_cancelled" if done else "mentor_no_request")
            )
        case _:
            turn.reply(turn.system_text("mentor_usage"))


async def _pause(turn: Turn, paused: bool) -> None:
    if not await store.set_paused(turn.session, turn.member.id or 0, paused, turn.now):
        turn.reply(turn.system_text("mentor_not_a_mentor"))
        return
    turn.audit("mentor.paused" if paused else "mentor.resumed")
    turn.reply(turn.system_text("mentor_paused" if paused else "mentor_resumed"))


async def status(turn: Turn) -> None:
    """Everything the member has to do with mentorship, in a few lines."""
    member_id = turn.member.id or 0
    lines: list[str] = []
    active = await store.active_mentorships(turn.session, member_id)
    for number, mentorship in enumerate(active, start=1):
        as_mentor = mentorship.mentor_id == member_id
        partner = await turn.session.get(
            Member, mentorship.newcomer_id if as_mentor else mentorship.mentor_id
        )
        name = turn.name_of(partner)
        key = "mentor_status_mentee" if as_mentor else "mentor_status_mentor"
        since = mentorship.started_at.date()
        line = turn.system_text(key, partner=name, since=since)
        lines.append(f"{number}. {line}" if len(active) > 1 else line)
    profile = await store.profile_of(turn.session, member_id)
    if profile is not None:
        mentees = sum(1 for m in active if m.mentor_id == member_id)
        key = "mentor_status_profile_paused" if profile.paused else "mentor_status_profile"
        lines.append(turn.system_text(key, mentees, capacity=profile.capacity))
        for offer in await store.open_offers_to(turn.session, member_id):
            lines.append(turn.system_text("mentor_status_offer", offer=offer.id))
    request = await store.request_status(turn.session, member_id)
    if request in ("waiting", "offered"):
        lines.append(turn.system_text("mentor_status_looking"))
    turn.reply("\n".join(lines) if lines else turn.system_text("mentor_status_none"))


async def _end(turn: Turn, which: str) -> None:
    active = await store.active_mentorships(turn.session, turn.member.id or 0)
    if not active:
        turn.reply(turn.system_text("mentor_status_none"))
        return
    chosen = active[0]
    if len(active) > 1:  # which one (with one, whatever follows /mentor end is not needed)
        number = whole_number(which, low=1, high=len(active))
        if isinstance(number, NotANumber):
            turn.reply(
                _not_a_number(turn, number, "/mentor end 2", "mentor_end_which", len(active))
            )
            return
        chosen = active[number - 1]
    await checkins.end_mentorship(turn, chosen, "ended_early")
    turn.reply(turn.system_text("mentorship_ended"))


def _not_a_number(
    turn: Turn, refused: NotANumber, example: str, otherwise: str, count: int | None = None
) -> str:
    """What to say of a command's number written with other digits than 0-9 ("²", "٣"):
    how to write it; of anything else, the command's own answer (`otherwise`)."""
    if refused.reason == "other_digits":
        return turn.system_text("number_expected", example=example)
    return turn.system_text(otherwise, count)


def register(registry: Registry) -> None:
    """/mentor."""
    registry.command("mentor", "command_mentor")(mentor)
