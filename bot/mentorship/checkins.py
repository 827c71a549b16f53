"""Check-ins: scheduled relative to the match, in each person's time zone and outside their
quiet hours, each asked once; a low score or unanswered check-ins alert the managers; the
last asks both for feedback and closes the mentorship.

Every check-in is a due-work row per person (`mentor.checkin:<mentorship>:<member>:<n>`),
written when the offer is accepted, so none is lost across restarts; the check-in table's
unique (mentorship, member, number) means none is asked twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot import conversation
from bot.mentorship.people import alert_managers
from bot.recognition import badges
from bot.registry import Registry
from bot.turn import Turn, turn_for
from flows.content import ContentTree
from flows.numbers import whole_number
from storage import checkins as checkin_store
from storage import due, runs
from storage import mentorship as store
from storage.models import DueWork, Mentorship

RETRY_WHILE_BUSY = timedelta(hours=2)  # another mentee's check-in is being answered


def key_prefix(mentorship_id: int) -> str:
    return f"mentor.checkin:{mentorship_id}:"


async def schedule(turn: Turn, mentorship_id: int, people: tuple[int, int]) -> None:
    """Every check-in of a new mentorship, for both people, from the content's schedule."""
    offsets = turn.content.checkins.schedule.offsets()
    for member_id in people:
        for number, day in enumerate(offsets):
            await due.schedule(
                turn.session,
                key=f"{key_prefix(mentorship_id)}{member_id}:{number}",
                kind="mentor.checkin",
                due_at=turn.now + timedelta(days=day),
                member_id=member_id,
                payload={
                    "mentorship": mentorship_id,
                    "number": number,
                    "day": day,
                    "last": number == len(offsets) - 1,
                },
            )


def _quiet_hours(content: ContentTree) -> tuple[int, int]:
    return content.checkins.quiet_hours


def _grace(content: ContentTree) -> timedelta:
    return content.checkins.grace


async def checkin_due(turn: Turn, work: DueWork) -> datetime | None:
    mentorship_id = int(work.payload["mentorship"])
    number, last = int(work.payload["number"]), bool(work.payload.get("last"))
    mentorship = await store.with_partner(turn.session, mentorship_id, turn.member.id or 0)
    if mentorship is None:
        return None
    if mentorship.status != "active" and not (last and mentorship.end_reason == "completed"):
        return None  # ended early: nothing more to ask
    settings = turn.content.checkins
    flow_ids = (settings.checkin_flow, settings.feedback_flow)
    current = await runs.current_run(turn.session, turn.member.id or 0)
    if current is not None and current.flow_id in flow_ids and current.state.get("waiting"):
        context = current.state.get("context", {})
        recent = turn.now - current.started_at < RETRY_WHILE_BUSY
        if context.get("mentorship") != mentorship_id and recent:
            return turn.now + RETRY_WHILE_BUSY  # one question at a time
        await conversation.cancel(turn, current)  # the earlier check-in went unanswered
    checkin_id = await checkin_store.asked(
        turn.session, mentorship_id, turn.member.id or 0, number, turn.now
    )
    if checkin_id is None:
        return None  # asked already
    partner_name = mentorship.partner_name
    threshold = settings.escalation.unanswered_in_a_row
    unanswered = 0
    if number >= threshold:  # before that, too few were asked to have gone unanswered
        unanswered = await checkin_store.unanswered_in_a_row(
            turn.session, mentorship_id, turn.member.id or 0
        )
    if unanswered - 1 == threshold:  # once, when reached
        await alert_managers(
            turn,
            "checkins_unanswered",
            member=turn.member.display_name,
            partner=partner_name,
            unanswered=unanswered - 1,
        )
    if last and mentorship.status == "active":
        await store.end(turn.session, mentorship_id, "completed", turn.now)
        turn.audit("mentorship.completed", mentorship=mentorship_id)
        for member_id in (mentorship.newcomer_id, mentorship.mentor_id):
            person = await turn_for(turn, member_id)
            if person is not None:
                await badges.check(person, "mentorships_completed")
    flow = turn.content.flows[settings.feedback_flow if last else settings.checkin_flow]
    await conversation.start_flow(
        turn,
        flow,
        {
            "mentorship": mentorship_id,
            "checkin": checkin_id,
            "partner": partner_name or turn.system_text("someone"),
            "day": int(work.payload.get("day") or 0),
            "mentor": mentorship.mentor_id == turn.member.id,
        },
    )
    return None


class CheckinParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score: str | None = Field(None, description="the ask step whose answer is the 1-5 score")
    comment: str | None = Field(None, description="the ask step whose answer is the note")


async def record_checkin(turn: Turn, parameters: CheckinParameters) -> None:
    context = turn.run.state.get("context", {}) if turn.run is not None else {}
    checkin_id = int(context.get("checkin") or 0)
    if not checkin_id:
        return
    score = _score(turn.run_answers.get(parameters.score or "")) if parameters.score else None
    comment = turn.run_answers.get(parameters.comment or "") if parameters.comment else None
    if not await checkin_store.answered(
        turn.session, checkin_id, score, str(comment)[:1000] if comment else None, turn.now
    ):
        await checkin_store.noted(
            turn.session, checkin_id, str(comment)[:1000] if comment else None
        )
        return
    turn.audit("mentorship.checkin", mentorship=context.get("mentorship"), score=score)
    low = turn.content.checkins.escalation.low_score
    if score is not None and score <= low:
        await alert_managers(
            turn,
            "checkin_low",
            member=turn.member.display_name,
            partner=str(context.get("partner") or ""),
            score=score,
            comment=str(comment or ""),
        )


def _score(value: Any) -> int | None:
    score = whole_number(str(value), low=1, high=5, strict=False)
    return score if isinstance(score, int) else None


async def end_mentorship(turn: Turn, mentorship: Mentorship, reason: str) -> bool:
    """End it early (`/mentor end`, or one of them left): both are told, their pending
    check-ins cancelled."""
    if not await store.end(turn.session, mentorship.id or 0, reason, turn.now):
        return False
    await due.cancel_prefix(turn.session, key_prefix(mentorship.id or 0))
    turn.audit("mentorship.ended", mentorship=mentorship.id, reason=reason)
    for member_id in (mentorship.newcomer_id, mentorship.mentor_id):
        other = await turn_for(turn, member_id)
        if other is None:
            continue
        for flow_id in (turn.content.checkins.checkin_flow, turn.content.checkins.feedback_flow):
            for run in await runs.open_runs_of(turn.session, member_id, flow_id):
                if run.state.get("context", {}).get("mentorship") == mentorship.id:
                    await conversation.cancel(other, run)
        if other is not turn:
            partner = other.name_of(turn.member)
            other.reply(other.system_text(f"mentorship_ended_{reason}", partner=partner))
    return True


def register(registry: Registry) -> None:
    """Check-ins coming due, and the flow action that records an answer."""
    registry.due("mentor.checkin", quiet_hours=_quiet_hours, grace=_grace)(checkin_due)
    registry.action(
        "record_checkin", "record the answer to a check-in (score 1-5, note)", CheckinParameters
    )(record_checkin)
