"""A member's right to their data: everything stored about them, and erasing it.

An erasure deletes the member and every row of theirs, and leaves nothing of them behind in
anyone else's rows either (storage/redaction.py rewrites the copies: the notice queued for the
person they thanked, a shout-out, an alert, an audit entry naming them). What stays, and why:
- the kudos they gave or received, as counts for the other member (their side empty: "a
  former member"; the reason blanked), so that nobody else's points or badges change;
- the audit entries about them, with a keyed pseudonym instead of their id, and one
  `member.forgotten` entry (who asked: the member, or an operator);
- a keyed pseudonym of each platform identity they used (`erased_identity`), so that a
  workspace join does not welcome them again and no campaign reaches them.
On SQLite the freed space is overwritten (`PRAGMA secure_delete`) and the log of recent pages is
emptied after the erasure commits (`Session.scrub_after_commit`), so that the erased text is not
left in the database file's free pages either.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlmodel import SQLModel, col

from storage import activity, failed_events, pseudonyms, redaction
from storage.health import daysets
from storage.models import (
    Answer,
    AuditLog,
    BadgeAward,
    CampaignRecipient,
    CheckIn,
    Consent,
    DashboardLink,
    DashboardSession,
    DueWork,
    ErasedIdentity,
    FailedEvent,
    FlowMilestone,
    FlowRun,
    Identity,
    Kudos,
    KudosDayTotal,
    KudosTotal,
    Member,
    MemberActivity,
    MentorOffer,
    MentorProfile,
    MentorRequest,
    Mentorship,
    Outbox,
)
from storage.session import Session

PER_MEMBER_TABLES: tuple[type[SQLModel], ...] = (
    Identity,
    FlowRun,
    Answer,
    Outbox,
    DueWork,
    AuditLog,  # exported whole; at erasure, kept with a pseudonym instead of the member
    MentorProfile,
    MentorRequest,
    CheckIn,
    BadgeAward,
    Consent,
    CampaignRecipient,
    FailedEvent,  # also those sent before they were a member: see failed_events.of_member
    MemberActivity,
    FlowMilestone,  # when they first finished each flow, and were retained after it
    DashboardLink,  # a manager's sign-ins to the dashboard: when, never the token
    DashboardSession,
    KudosTotal,  # the running totals of the kudos they received (storage/tallies.py)
    KudosDayTotal,
)
# Rows about two members (a newcomer and a mentor, a giver and a receiver): they belong to
# both, and go with either (but kudos, which stay for the other: see forget_member). In
# deletion order, with the two columns naming the members.
PAIRS: dict[type[SQLModel], tuple[str, str]] = {
    Mentorship: ("newcomer_id", "mentor_id"),
    MentorOffer: ("newcomer_id", "mentor_id"),
    Kudos: ("giver_id", "receiver_id"),
}
PAIR_TABLES: tuple[type[SQLModel], ...] = tuple(PAIRS)


def _plain(row: SQLModel) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, date) else value  # dates and datetimes
        for key, value in row.model_dump().items()
    }


def pseudonym(member_id: int, key: bytes | None = None) -> str:
    """A stable label for a member in logs and audit entries, keyed (storage/pseudonyms.py)."""
    return pseudonyms.pseudonym(member_id, key)


async def export_member(session: Session, member: Member) -> dict[str, Any]:
    document: dict[str, Any] = {"member": _plain(member)}
    for table in PER_MEMBER_TABLES:
        statement = select(table).where(table.member_id == member.id)
        order = table.__table__.primary_key.columns
        rows = (await session.execute(statement.order_by(*order))).scalars()
        document[table.__tablename__] = [_plain(row) for row in rows]
    for pair in PAIR_TABLES:
        statement = select(pair).where(_either(pair, member.id))
        rows = (await session.execute(statement.order_by(pair.id))).scalars()
        document[pair.__tablename__] = [_plain(row) for row in rows]
    failed = await failed_events.of_member(session, member.id or 0)
    document[FailedEvent.__tablename__] = [_plain(row) for row in failed]
    return document


def _either(pair: type[SQLModel], member_id: int | None) -> Any:
    one, other = PAIRS[pair]
    return or_(getattr(pair, one) == member_id, getattr(pair, other) == member_id)


FORMER_MEMBER = "a former member"


async def forget_member(
    session: Session,
    member: Member,
    actor: str,
    *,
    former: str = FORMER_MEMBER,
    free_text: Collection[tuple[str, str]] = (),
) -> None:
    """Erase the member: delete their rows, rewrite every copy of their name, words and ids in
    others' rows (`former` stands for their name there: "a former member" in the community's
    language), keep their kudos as counts for the others, pseudonymise the audit entries about
    them, remember their identities' pseudonyms, and leave one `member.forgotten` entry.

    Their words are what they typed: kudos reasons, check-in comments, a mentor's intro, and
    the answers to the questions in `free_text` ((flow, step) pairs: the content's text
    questions). An answer picked from choices ("docs") is not theirs to take out of anyone
    else's text."""
    assert member.id is not None
    key = await pseudonyms.key_of(session)
    alias = pseudonyms.erased_pseudonym(member.id, member.created_at, key)
    identities = list(
        (await session.execute(select(Identity).where(col(Identity.member_id) == member.id)))
        .scalars()
        .all()
    )
    traces = await _traces(session, member, identities, alias, former, free_text)
    await failed_events.forget(session, member.id)  # before their identities go
    # Others' milestones that rested on their rows: the mentorships they mentored
    # (storage/activity.py works those firsts out again once the rows go).
    mentored = select(Mentorship.newcomer_id).where(Mentorship.mentor_id == member.id)
    newcomers = set((await session.execute(mentored)).scalars()) - {member.id}
    await daysets.forget_member(session, member.id, member.created_at)  # while their rows tell
    await _keep_kudos_for_the_others(session, member.id)
    for pair in PAIR_TABLES:
        if pair is not Kudos:
            await session.execute(delete(pair).where(_either(pair, member.id)))
    await _pseudonymise_their_audit(session, member.id, alias)
    for table in PER_MEMBER_TABLES:
        if table is not AuditLog:
            await session.execute(delete(table).where(table.member_id == member.id))
    await redaction.redact(session, traces)  # the copies in everyone else's rows
    # (the kudos they gave stay: the receivers' totals and first kudos stand as they were;
    # their own totals went with their rows)
    await activity.recount(session, newcomers=newcomers)
    await _remember_erased(session, identities, key)
    await session.delete(member)
    session.add(AuditLog(actor=actor, action="member.forgotten", detail={"member": alias}))
    session.scrub_after_commit()


async def _traces(
    session: Session,
    member: Member,
    identities: list[Identity],
    alias: str,
    former: str,
    free_text: Collection[tuple[str, str]],
) -> redaction.Traces:
    """Their name, handles, ids and the words they wrote, as others' rows may copy them."""
    assert member.id is not None
    traces = redaction.Traces(member.id, alias, former)
    for name in (member.display_name, *(i.username for i in identities)):
        if name and name.strip():
            traces.names.add(name.strip())
    for identity in identities:
        for value in (identity.external_id, identity.dm_conversation):
            if value:
                traces.add_id(identity.platform, value)
    answers = select(Answer.flow_id, Answer.step_id, Answer.value).where(
        col(Answer.member_id) == member.id
    )
    typed = set(free_text)
    traces.add_words(
        value for flow, step, value in await session.execute(answers) if (flow, step) in typed
    )
    columns: list[tuple[Any, Any]] = [
        (Kudos.reason, col(Kudos.giver_id) == member.id),
        (CheckIn.comment, col(CheckIn.member_id) == member.id),
        (MentorProfile.intro, col(MentorProfile.member_id) == member.id),
    ]
    for column, where in columns:
        traces.add_words((await session.execute(select(column).where(where))).scalars())
    return traces


async def _keep_kudos_for_the_others(session: Session, member_id: int) -> None:
    """Kudos between the member and someone else stay, with the member's side empty and the
    reason (their words, or words about them) blanked; one to themselves goes."""
    await session.execute(
        delete(Kudos).where(col(Kudos.giver_id) == member_id, col(Kudos.receiver_id) == member_id)
    )
    for side in (Kudos.giver_id, Kudos.receiver_id):
        await session.execute(
            update(Kudos).where(col(side) == member_id).values({side.key: None, "reason": ""})
        )


async def _pseudonymise_their_audit(session: Session, member_id: int, alias: str) -> None:
    """The audit entries of what they did, or what was done to them, keep what happened and
    when, with their pseudonym instead of their id and nothing else of theirs."""
    await session.execute(
        update(AuditLog)
        .where(col(AuditLog.member_id) == member_id)
        .values(member_id=None, detail={"member": alias})
    )


async def _remember_erased(session: Session, identities: list[Identity], key: bytes) -> None:
    for identity in identities:
        label = pseudonyms.identity_pseudonym(
            identity.platform, identity.workspace, identity.external_id, key
        )
        if await session.get(ErasedIdentity, label) is None:
            session.add(ErasedIdentity(key=label))


async def was_erased(session: Session, platform: str, workspace: str, external_id: str) -> bool:
    """Whether this platform identity belonged to a member who asked to be erased."""
    key = await pseudonyms.key_of(session)
    label = pseudonyms.identity_pseudonym(platform, workspace, external_id, key)
    return await session.get(ErasedIdentity, label) is not None
