"""Consent per purpose as a member sees and changes it (/privacy): each purpose with their
choice, and a change applied where that purpose's data is used.

    answers        their answers to flow questions, kept after a run ends; withdrawn: kept
                   ones are erased (and the community's profile fields), later ones go when
                   their run ends
    mentorship     being matched as a newcomer or as a mentor; withdrawn: open offers and
                   their request are withdrawn, nothing new is offered
    leaderboards   /kudos top, shout-outs and `onramp recognition export`; withdrawn: left
                   out of them (kudos still count, for their badges)
    announcements  campaigns; withdrawn: none reach them
    statistics     their days of activity in the anonymous health metrics; withdrawn: the
                   days recorded are erased, and none are recorded

What counts before a member says is community.yaml's default for each (docs/managers/consent.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.conversation import ANSWERS, record_consent
from bot.mentorship.offers import mentorship_withdrawn
from bot.mentorship.people import MENTORSHIP
from bot.turn import Turn
from flows.content import ContentTree
from storage import activity, consent, runs
from storage.models import Member
from storage.recognition import LEADERBOARDS
from storage.session import Session

ANNOUNCEMENTS = "announcements"
STATISTICS = activity.STATISTICS
SOURCE = "privacy"


@dataclass(frozen=True)
class Purpose:
    """One purpose as a member's /privacy shows it."""

    name: str  # "answers", "leaderboards"… or one of the community's own
    granted: bool  # what holds now: their choice, else the community's default
    chosen: bool  # they said (else `granted` is the default, or their onboarding answer)


async def purposes_of(session: Session, content: ContentTree, member: Member) -> list[Purpose]:
    """Every purpose a member can choose, in the order /privacy shows them: the core's five,
    then the community's own (community.yaml `consent_purposes`)."""
    assert member.id is not None
    said = await consent.consents(session, member.id)
    found = []
    for name in content.community.purposes():
        if name in said:
            found.append(Purpose(name, said[name].granted, chosen=True))
        elif name == ANSWERS and member.consent is not None:  # the onboarding's question
            found.append(Purpose(name, member.consent, chosen=True))
        else:
            found.append(Purpose(name, content.community.consent_default(name), chosen=False))
    return found


async def set_purpose(turn: Turn, purpose: str, granted: bool, source: str = SOURCE) -> bool:
    """Record the member's choice for `purpose` and apply it where its data is used, in the
    turn's transaction; audited without the data (`consent.<purpose>.given` or `.withdrawn`,
    then what a withdrawal removed, as counts). True if it changed anything. Raises
    ValueError for a purpose the community does not have."""
    if purpose not in turn.content.community.purposes():
        raise ValueError(f"unknown consent purpose {purpose!r}")
    changed = await record_consent(turn, purpose, granted, source=source)
    if granted or not changed:
        return changed
    member_id = turn.member.id or 0
    if purpose == ANSWERS:
        erased = await runs.erase_finished_answers(turn.session, member_id)
        had_profile = bool(turn.member.profile)
        turn.member.profile = {}
        turn.audit("consent.answers.erased", answers=erased, profile=had_profile)
    elif purpose == MENTORSHIP:
        await mentorship_withdrawn(turn)
    elif purpose == STATISTICS:
        days = await activity.forget_activity(turn.session, member_id)
        turn.audit("consent.statistics.erased", days=days)
    # LEADERBOARDS and ANNOUNCEMENTS are read where they are used (leaderboards, shout-outs,
    # the export; campaign planning and delivery): nothing to remove.
    return changed


__all__ = [
    "ANNOUNCEMENTS",
    "ANSWERS",
    "LEADERBOARDS",
    "MENTORSHIP",
    "STATISTICS",
    "Purpose",
    "purposes_of",
    "set_purpose",
]
