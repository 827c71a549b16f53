"""Members as the matcher sees them, the words for why a pair fits, and reaching others."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from babel import Locale, UnknownLocaleError

from bot.conversation import record_consent
from bot.mentorship.matching import Mentor, Person, Reason, Rules
from bot.turn import Turn, turn_for
from flows.content import ContentTree
from flows.feature_settings import Experience
from flows.markup import member_link
from flows.schema import AskStep
from flows.text import render
from storage import consent, members
from storage import mentorship as store
from storage.models import Member, MentorProfile
from storage.session import Session

MAX_CAPACITY = 50
MENTORSHIP = "mentorship"  # the consent purpose of being matched, as a mentor or a newcomer


def by_default(content: ContentTree) -> bool:
    """Whether a member who never said counts as allowing `mentorship` (community.yaml)."""
    return content.community.consent_default(MENTORSHIP)


async def matchable(session: Session, content: ContentTree, member_ids: Any) -> set[int]:
    """Which of these members allow `mentorship`: only they are matched."""
    return await consent.allowing(session, member_ids, MENTORSHIP, by_default(content))


async def wants_mentorship(turn: Turn, source: str) -> None:
    """The member asked for a mentor, or to mentor: that is agreeing to be matched, recorded
    (and audited) if it was withdrawn or never given where community.yaml asks it first."""
    member_id = turn.member.id or 0
    if not await matchable(turn.session, turn.content, [member_id]):
        await record_consent(turn, MENTORSHIP, True, source=source)


def rules(turn: Turn) -> Rules:
    return Rules.from_content(turn.content.matching)


def as_newcomer(member: Member, content: ContentTree) -> Person:
    """A newcomer: the languages they speak (their chosen language, and any others their
    profile lists), their interests, time zone and experience (None where they never said)."""
    profile = member.profile
    languages = {(member.locale or content.community.default_locale).split("_")[0]}
    languages.update(str(code) for code in listed(profile.get("languages")))
    return Person(
        id=member.id or 0,
        languages=frozenset(languages),
        topics=frozenset(str(topic) for topic in listed(profile.get("interests"))),
        timezone=member.timezone,
        experience=experience_of(member, content.matching.experience),
    )


def experience_of(member: Member, levels: Experience) -> int | None:
    """What the member answered about their experience (the profile's `experience`, kept by
    the onboarding and mentor sign-up questions), as the level `matching.yaml` gives that
    answer; None if they never answered (a mentor who signed up before it was asked)."""
    return levels.level(member.profile.get("experience"))


def as_mentor(
    profile: MentorProfile, member: Member, load: int, busy: bool, levels: Experience
) -> Mentor:
    """A mentor. One with an offer waiting for their answer gets no other until they answer:
    offers come one at a time."""
    hours = None
    if profile.hours_start is not None and profile.hours_end is not None:
        hours = (profile.hours_start, profile.hours_end)
    return Mentor(
        id=member.id or 0,
        languages=frozenset(profile.languages),
        topics=frozenset(profile.topics),
        timezone=member.timezone,
        hours=hours,
        experience=experience_of(member, levels),
        capacity=profile.capacity,
        load=profile.capacity if busy else load,
        paused=profile.paused or member.opted_out,
    )


async def available_mentors(
    session: Session,
    content: ContentTree,
    *,
    one_each: bool = False,
    free: set[int] | frozenset[int] = frozenset(),
) -> list[Mentor]:
    """Every mentor as the matcher sees them. `free`: mentors whose open offer is being
    weighed again (its place counts as free). `one_each`: room for one new offer at most, so
    that a batch never puts two offers to one mentor at once."""
    busy = {offer.mentor_id for offer in await store.open_offers(session)} - set(free)
    found = []
    rows = await store.mentors(session)
    allowed = await matchable(session, content, [row.member.id or 0 for row in rows])
    for row in rows:
        mentor_id = row.member.id or 0
        if mentor_id not in allowed:  # withdrew `mentorship`: never offered
            continue
        load = row.active - (1 if mentor_id in free else 0)
        levels = content.matching.experience
        mentor = as_mentor(row.profile, row.member, load, mentor_id in busy, levels)
        if one_each and mentor.room > 1:
            mentor = replace(mentor, capacity=mentor.load + 1)
        found.append(mentor)
    return found


def listed(value: Any) -> list[Any]:
    """An answer or profile field as a list: one value, several, or none."""
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def language_names(codes: list[str] | tuple[str, ...], locale: str) -> str:
    names = []
    for code in codes:
        try:
            names.append(Locale.parse(code).get_display_name(locale) or code)
        except (UnknownLocaleError, ValueError):
            names.append(code)
    return ", ".join(names)


def topic_names(turn: Turn, topics: list[str] | tuple[str, ...]) -> str:
    """Topics by the labels the sign-up flow gives them, in the reader's language."""
    labels: dict[str, Any] = {}
    flow = turn.content.flows.get(turn.content.matching.signup_flow)
    for step in flow.steps if flow else ():
        if isinstance(step, AskStep) and step.choices:
            labels.update({choice.id: choice.label for choice in step.choices})
    default = turn.content.community.default_locale
    return ", ".join(
        render(labels[t], turn.member.locale, default, {}) if t in labels else t for t in topics
    )


def reasons_text(turn: Turn, reasons: list[dict[str, Any]]) -> str:
    """ "you both speak French; 3 hours a day together (their evening); shared interest:
    documentation", in the reader's language."""
    parts = []
    for reason in reasons:
        shared = tuple(reason.get("shared") or ())
        match reason.get("criterion"):
            case "language":
                names = language_names(shared, turn.locale)
                parts.append(turn.system_text("mentor_reason_language", languages=names))
            case "timezone":
                part = turn.system_text(f"part_of_day_{reason.get('part_of_day') or 'day'}")
                hours = reason.get("hours") or 0
                count = int(hours) if float(hours).is_integer() else hours
                parts.append(turn.system_text("mentor_reason_timezone", count, part=part))
            case "topics":
                topics = topic_names(turn, shared)
                parts.append(turn.system_text("mentor_reason_topics", len(shared), topics=topics))
            case "experience":
                parts.append(turn.system_text("mentor_reason_experience"))
    return "; ".join(parts)


def reasons_data(reasons: tuple[Reason, ...]) -> list[dict[str, Any]]:
    return [
        {
            "criterion": r.criterion,
            "shared": list(r.shared),
            "hours": r.hours,
            "part_of_day": r.part_of_day,
        }
        for r in reasons
    ]


def contact(reader: Turn, about: Turn) -> str:
    """How `reader` can reach `about`: a mention on their shared platform (each adapter
    renders `member:` links its own way), else the name and the platform."""
    name = reader.name_of(about.member)
    if about.identity.platform == reader.identity.platform:
        return member_link(about.identity.external_id, name)  # the name inside is text
    return f"{name} ({about.identity.platform.capitalize()})"


async def alert_managers(turn: Turn, key: str, **context: Any) -> None:
    """Tell every community manager (members with the `manager` role), each in their own
    language; recorded in the audit log whoever is told."""
    turn.audit(f"mentorship.alert.{key}", actor="onramp", **context)
    for manager in await members.with_role(turn.session, "manager"):
        other = await turn_for(turn, manager.id or 0)
        if other is not None:
            other.reply(other.system_text(f"alert_{key}", **context))
