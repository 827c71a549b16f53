"""Becoming a mentor: the sign-up flow's answers become a mentor profile."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.mentorship.people import MAX_CAPACITY, listed, wants_mentorship
from bot.registry import Registry
from bot.turn import Turn
from flows.numbers import whole_number
from storage import mentorship as store


class ProfileSteps(BaseModel):
    """Which of the sign-up flow's ask steps hold each part of the profile."""

    model_config = ConfigDict(extra="forbid")
    topics: str = "topics"
    languages: str = "languages"
    hours: str = "hours"  # a choice id such as "17-21": local hours [start, end)
    capacity: str = "capacity"
    intro: str = "intro"


async def save_mentor_profile(turn: Turn, steps: ProfileSteps) -> None:
    answers = turn.run_answers
    capacity = _capacity(answers.get(steps.capacity))
    if capacity is None:
        turn.reply(turn.system_text("mentor_capacity_invalid", MAX_CAPACITY))
        return
    await store.save_profile(
        turn.session,
        turn.member.id or 0,
        turn.now,
        topics=[str(t) for t in listed(answers.get(steps.topics))],
        languages=[str(code).split("_")[0] for code in listed(answers.get(steps.languages))],
        hours=_hours(answers.get(steps.hours)),
        capacity=capacity,
        intro=str(answers.get(steps.intro) or "")[:1000],
    )
    if "mentor" not in turn.member.roles:
        turn.member.roles = [*turn.member.roles, "mentor"]
    turn.audit("mentor.signed_up", capacity=capacity)
    await wants_mentorship(turn, source="mentor_signup")


def _capacity(value: Any) -> int | None:
    capacity = whole_number(str(value), low=1, high=MAX_CAPACITY, strict=False)
    return capacity if isinstance(capacity, int) else None


def _hours(value: Any) -> tuple[int, int] | None:
    """ "17-21" → (17, 21); anything else (e.g. "any") means no fixed window."""
    start, _, end = str(value or "").partition("-")
    first, last = whole_number(start, high=24), whole_number(end, high=24)
    if not (isinstance(first, int) and isinstance(last, int)):
        return None
    hours = first % 24, last % 24
    return hours if hours[0] != hours[1] else None


def register(registry: Registry) -> None:
    """The flow action that makes a member a mentor."""
    registry.action(
        "save_mentor_profile", "make the member a mentor from the sign-up answers", ProfileSteps
    )(save_mentor_profile)
