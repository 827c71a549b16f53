"""A member's data: exporting all of it, and forgetting all of it, and nobody else's."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel, col

from storage import mentorship, pseudonyms
from storage.members import create_member
from storage.models import (
    Answer,
    AuditLog,
    BadgeAward,
    Campaign,
    CampaignRecipient,
    CheckIn,
    Consent,
    DashboardLink,
    DashboardSession,
    DueWork,
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
from storage.privacy import PAIR_TABLES, PER_MEMBER_TABLES, export_member, forget_member, pseudonym
from storage.session import Database
from tests.storage.rows import NOW, count, message

PER_MEMBER = (
    Identity,
    FlowRun,
    Answer,
    Outbox,
    DueWork,
    AuditLog,
    MentorProfile,
    MentorRequest,
    CheckIn,
    BadgeAward,
    Consent,
    CampaignRecipient,
    FailedEvent,
    MemberActivity,
    FlowMilestone,
    DashboardLink,
    DashboardSession,
    KudosTotal,
    KudosDayTotal,
)


async def _member_with_everything(db: Database, name: str) -> int:
    """A member with one row in every per-member table."""
    async with db.transaction() as session:
        _, member = await create_member(
            session, platform="console", workspace="", external_id=name, display_name=name.title()
        )
        assert member.id is not None
        run = FlowRun(member_id=member.id, flow_id="onboarding", step_id="email")
        session.add(run)
        await session.flush()
        assert run.id is not None
        session.add_all(
            [
                Answer(
                    run_id=run.id,
                    member_id=member.id,
                    flow_id="onboarding",
                    step_id="email",
                    value=f"{name}@example.org",
                    answered_at=NOW,
                ),
                message(f"{name}-welcome", name, member_id=member.id),
                DueWork(
                    key=f"flow.nudge:{run.id}",
                    kind="flow.nudge",
                    member_id=member.id,
                    due_at=NOW + timedelta(days=1),
                ),
                AuditLog(actor="bot", action="member.joined", member_id=member.id),
                MentorProfile(member_id=member.id, topics=["docs"], languages=["en"]),
                MentorRequest(member_id=member.id),
                BadgeAward(member_id=member.id, badge="first_thanks"),
                Kudos(giver_id=member.id, receiver_id=member.id, category="docs", reason="x"),
                # Its running totals (written here by hand, as the kudos is).
                KudosTotal(member_id=member.id, category="", points=1.0, kudos=1),
                KudosDayTotal(
                    day=NOW.date(), category="", member_id=member.id, points=1.0, kudos=1
                ),
                MemberActivity(member_id=member.id, day=NOW.date(), platform="console"),
                FlowMilestone(member_id=member.id, flow_id="onboarding", finished_at=NOW),
                DashboardLink(
                    nonce=f"{name}-nonce",
                    member_id=member.id,
                    expires_at=NOW + timedelta(minutes=15),
                ),
                DashboardSession(
                    token_hash=f"{name}-hash",
                    member_id=member.id,
                    expires_at=NOW + timedelta(hours=1),
                ),
            ]
        )
        # A check-in needs a mentorship: the member's own (no other member is involved).
        own = Mentorship(newcomer_id=member.id, mentor_id=member.id)
        session.add(own)
        await session.flush()
        session.add(CheckIn(mentorship_id=own.id, member_id=member.id, score=4))
        session.add(Consent(member_id=member.id, purpose="announcements", granted=True))
        campaign = Campaign(key=f"call_{name}", definition_hash="x")
        session.add(campaign)
        await session.flush()
        assert campaign.id is not None
        session.add(CampaignRecipient(campaign_id=campaign.id, member_id=member.id))
        session.add(
            FailedEvent(
                dedupe_key=f"{name}:1",
                platform="console",
                actor=name,
                member_id=member.id,
                event_type="MessageReceived",
                error="ValueError",
                event={"type": "MessageReceived", "text": "hello"},
            )
        )
        return member.id


async def _export(db: Database, member_id: int) -> dict[str, Any]:
    async with db.reading() as session:
        member = await session.get(Member, member_id)
        assert member is not None
        return await export_member(session, member)


async def _forget(db: Database, member_id: int) -> None:
    async with db.transaction() as session:
        member = await session.get(Member, member_id)
        assert member is not None
        await forget_member(session, member, actor="cli")


def _table(model: type[SQLModel]) -> str:
    return str(model.__tablename__)


async def test_export_holds_one_row_of_every_table_for_that_member_only(db: Database) -> None:
    ada = await _member_with_everything(db, "ada")
    await _member_with_everything(db, "bob")
    document = await _export(db, ada)
    assert set(document) == {"member", *(_table(m) for m in (*PER_MEMBER, *PAIR_TABLES))}
    assert document["member"]["id"] == ada
    for model in PER_MEMBER:
        rows = document[_table(model)]
        assert isinstance(rows, list) and len(rows) == 1, _table(model)
        assert rows[0]["member_id"] == ada, _table(model)


async def test_export_carries_the_members_data(db: Database) -> None:
    ada = await _member_with_everything(db, "ada")
    document = await _export(db, ada)
    assert document["member"]["display_name"] == "Ada"
    assert document["identity"][0]["external_id"] == "ada"
    assert document["answer"][0]["value"] == "ada@example.org"
    assert document["answer"][0]["answered_at"] == NOW.isoformat()


async def test_export_carries_the_days_they_were_active(db: Database) -> None:
    ada = await _member_with_everything(db, "ada")
    async with db.transaction() as session:
        session.add(
            MemberActivity(member_id=ada, day=NOW.date() - timedelta(days=3), platform="slack")
        )
    days = [(row["day"], row["platform"]) for row in (await _export(db, ada))["member_activity"]]
    earlier = (NOW.date() - timedelta(days=3)).isoformat()
    assert days == [(earlier, "slack"), (NOW.date().isoformat(), "console")]


async def test_forget_takes_their_days_of_activity_and_no_one_elses(db: Database) -> None:
    ada = await _member_with_everything(db, "ada")
    bob = await _member_with_everything(db, "bob")
    await _forget(db, ada)
    assert await count(db, MemberActivity, col(MemberActivity.member_id) == ada) == 0
    assert await count(db, MemberActivity, col(MemberActivity.member_id) == bob) == 1


async def test_export_is_json_serialisable(db: Database) -> None:
    ada = await _member_with_everything(db, "ada")
    document = await _export(db, ada)
    assert json.loads(json.dumps(document)) == document


async def test_forget_deletes_every_row_of_the_member(db: Database) -> None:
    ada = await _member_with_everything(db, "ada")
    await _forget(db, ada)
    assert await count(db, Member, Member.id == ada) == 0
    for model in PER_MEMBER:
        member_id = SQLModel.metadata.tables[_table(model)].c.member_id
        assert await count(db, model, member_id == ada) == 0, _table(model)


async def test_forget_keeps_the_audit_entries_about_them_with_only_a_keyed_pseudonym(
    db: Database,
) -> None:
    ada = await _member_with_everything(db, "ada")
    async with db.reading() as session:
        member = await session.get(Member, ada)
        assert member is not None
        joined = member.created_at
    await _forget(db, ada)
    async with db.reading() as session:
        entries = (await session.execute(select(AuditLog).order_by(AuditLog.id))).scalars().all()
        key = await pseudonyms.key_of(session)
    alias = pseudonyms.erased_pseudonym(ada, joined, key)
    # What they did (joining) stays, with the pseudonym instead of their id; and the erasure.
    assert [(e.actor, e.action, e.member_id, e.detail) for e in entries] == [
        ("bot", "member.joined", None, {"member": alias}),
        ("cli", "member.forgotten", None, {"member": alias}),
    ]
    text = json.dumps([e.detail for e in entries])
    assert "Ada" not in text and "example.org" not in text
    # Keyed, and theirs alone: not the id's label (SQLite may give the id to a newcomer).
    assert alias not in {pseudonym(ada, key), pseudonyms.erased_pseudonym(ada, joined, b"k")}


async def test_forget_leaves_other_members_untouched(db: Database) -> None:
    ada = await _member_with_everything(db, "ada")
    bob = await _member_with_everything(db, "bob")
    before = await _export(db, bob)
    await _forget(db, ada)
    assert await _export(db, bob) == before
    assert await count(db, Member) == 1


async def test_the_pseudonym_is_stable_and_differs_between_members() -> None:
    assert pseudonym(1) == pseudonym(1)
    assert pseudonym(1) != pseudonym(2)
    assert len(pseudonym(1)) == 16
    assert set(pseudonym(1)) <= set("0123456789abcdef")
    # Keyed: not the hash anyone can compute from the id, and another key gives another label.
    unkeyed = hashlib.sha256(b"onramp-member:1").hexdigest()[:16]
    assert pseudonym(1, b"k1") not in {unkeyed, pseudonym(1, b"k2")}


async def test_the_key_is_the_environments_or_one_made_once_and_kept(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(pseudonyms.VARIABLE, raising=False)
    async with db.transaction() as session:
        made = await pseudonyms.key_of(session)
    async with db.transaction() as session:
        assert await pseudonyms.key_of(session) == made  # kept: the same after a restart
    monkeypatch.setenv(pseudonyms.VARIABLE, "from-the-environment")
    async with db.transaction() as session:
        assert await pseudonyms.key_of(session) == b"from-the-environment"


def test_every_table_about_members_is_exported_and_forgotten() -> None:
    """A table added later with a column pointing at a member must be added to privacy.py."""
    covered = {_table(m) for m in (*PER_MEMBER_TABLES, *PAIR_TABLES)}
    about_members = {
        table.name
        for table in SQLModel.metadata.tables.values()
        if table.name != "member"
        and any(key.column.table.name == "member" for key in table.foreign_keys)
    }
    assert about_members == covered


async def test_failed_events_sent_before_they_were_a_member_are_theirs_too(
    db: Database,
) -> None:
    """Their first message failed, so it was recorded with no member id: it is found by the
    identity that sent it."""
    ada = await _member_with_everything(db, "ada")
    await _member_with_everything(db, "bob")
    async with db.transaction() as session:
        for platform, actor in (("console", "ada"), ("console", "bob"), ("slack", "ada")):
            session.add(
                FailedEvent(
                    dedupe_key=f"{platform}:{actor}:first",
                    platform=platform,
                    actor=actor,
                    event_type="MemberJoined",
                    error="ValueError",
                )
            )
    keys = [row["dedupe_key"] for row in (await _export(db, ada))["failed_event"]]
    assert keys == ["ada:1", "console:ada:first"]  # not Bob's, nor another platform's Ada
    await _forget(db, ada)
    async with db.reading() as session:
        left = set((await session.execute(select(col(FailedEvent.dedupe_key)))).scalars())
    assert left == {"bob:1", "console:bob:first", "slack:ada:first"}


async def test_a_mentorship_belongs_to_both_and_goes_with_either(db: Database) -> None:
    ada = await _member_with_everything(db, "ada")
    bob = await _member_with_everything(db, "bob")
    async with db.transaction() as session:
        offer = await mentorship.propose(session, bob, ada, NOW, NOW + timedelta(days=2), 5.0, [])
        assert offer is not None
        assert await mentorship.accept(session, offer, NOW) is not None
    for member in (ada, bob):
        document = await _export(db, member)
        # the pair's mentorship, and each one's own from _member_with_everything
        assert len(document["mentor_offer"]) == 1 and len(document["mentorship"]) == 2
    await _forget(db, ada)
    assert await count(db, MentorOffer) == 0
    assert await count(db, Mentorship) == 1  # Bob's own
    assert (await _export(db, bob))["mentor_profile"][0]["member_id"] == bob
