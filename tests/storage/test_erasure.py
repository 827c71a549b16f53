"""An erasure leaves nothing of the member behind, in anyone's rows (issue 20): the copies of
their name, words and ids in other members' messages, audit entries and keys are rewritten;
the kudos between them and others stay as counts for the others; their identities are
remembered only as keyed pseudonyms; and on SQLite nothing of theirs is left in the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel, col

from storage import pseudonyms
from storage.members import create_member
from storage.models import (
    AuditLog,
    Kudos,
    KudosTotal,
    Member,
    Outbox,
    ProcessedEvent,
)
from storage.privacy import forget_member, was_erased
from storage.redaction import COLUMNS, STRUCTURAL
from storage.session import Database
from tests.storage.rows import count, message

MARK = "Zqxmark"  # in her name, her words and her platform id: found nowhere after


async def _member(db: Database, external_id: str, name: str) -> int:
    async with db.transaction() as session:
        _, member = await create_member(
            session, platform="slack", workspace="T1", external_id=external_id, display_name=name
        )
        assert member.id is not None
        return member.id


async def _forget(db: Database, member_id: int, former: str = "a former member") -> str:
    """Erase them; the pseudonym they keep in the audit log."""
    async with db.transaction() as session:
        member = await session.get(Member, member_id)
        assert member is not None
        joined = member.created_at
        await forget_member(session, member, actor="member", former=former)
    async with db.reading() as session:
        key = await pseudonyms.key_of(session)
    return pseudonyms.erased_pseudonym(member_id, joined, key)


async def _ada_and_bob(db: Database) -> tuple[int, int]:
    """Ada (the one to erase) and Bob, who have thanked each other, with the copies of Ada
    that the bot's features leave in Bob's rows and in the channel's."""
    ada = await _member(db, f"U{MARK.upper()}1", f"Ada {MARK}")
    bob = await _member(db, "UBOB", "Bob")
    reason = f"for the {MARK} translation guide"
    mention = f"[Ada {MARK}](member:U{MARK.upper()}1)"
    async with db.transaction() as session:
        session.add_all(
            [
                Kudos(giver_id=ada, receiver_id=bob, category="docs", reason=reason),
                Kudos(giver_id=bob, receiver_id=ada, category="code", reason="for reviews"),
                KudosTotal(member_id=bob, category="", points=1.0, kudos=1),
                KudosTotal(member_id=bob, category="docs", points=1.0, kudos=1),
                AuditLog(actor="member", action="kudos.given", member_id=ada, detail={"x": 1}),
                AuditLog(
                    actor="member",
                    action="kudos.given",
                    member_id=bob,
                    detail={"kudos": 2, "receiver": ada, "category": "code"},
                ),
                ProcessedEvent(dedupe_key=f"slack:U{MARK.upper()}1:kudos:1", platform="slack"),
            ]
        )
        for status, key in (("pending", "a"), ("sent", "b"), ("failed", "c")):
            row = message(
                f"event:U{MARK.upper()}1:kudos:1>{bob}#{key}",
                "UBOB",
                platform="slack",
                status=status,
                member_id=bob,
            )
            row.payload = {"text": f"🎉 Ada {MARK} thanks you: {reason} (Documentation)."}
            session.add(row)
        shout = message("shout:1", "C_RECOGNITION", platform="slack", status="sent")
        shout.payload = {"text": f"👏 {mention} thanked Bob: {reason}"}
        session.add(shout)
        escaped = message("alert:1", "UMANAGER", platform="slack", status="failed")
        escaped.payload = {"text": f"Ada {MARK} \\[needs\\] help: {reason}"}
        session.add(escaped)
    return ada, bob


async def _everything(db: Database) -> str:
    """Every row of every table, as text."""
    parts = []
    async with db.reading() as session:
        for table in SQLModel.metadata.sorted_tables:
            rows = (await session.execute(select(table))).all()
            parts.append(json.dumps([list(row) for row in rows], default=str, ensure_ascii=False))
    return "\n".join(parts)


async def test_nothing_of_her_is_left_in_anyones_rows(db: Database) -> None:
    ada, _ = await _ada_and_bob(db)
    assert MARK in await _everything(db)
    await _forget(db, ada)
    everything = await _everything(db)
    assert MARK not in everything and MARK.upper() not in everything


async def test_others_messages_keep_their_meaning_with_her_as_a_former_member(
    db: Database,
) -> None:
    ada, bob = await _ada_and_bob(db)
    await _forget(db, ada, former="une ancienne membre")
    async with db.reading() as session:
        rows = (await session.execute(select(Outbox).order_by(Outbox.id))).scalars().all()
    texts = [row.payload["text"] for row in rows]
    notice = "🎉 Une ancienne membre thanks you: […] (Documentation)."  # a sentence's start
    assert texts == [
        notice,
        notice,
        notice,  # pending, sent and failed alike
        "👏 Une ancienne membre thanked Bob: […]",
        "Une ancienne membre \\[needs\\] help: […]",  # at the start: a capital
    ]
    assert [row.member_id for row in rows] == [bob, bob, bob, None, None]


async def test_the_kudos_stay_as_counts_for_the_others(db: Database) -> None:
    ada, bob = await _ada_and_bob(db)
    await _forget(db, ada)
    async with db.reading() as session:
        kept = (await session.execute(select(Kudos).order_by(Kudos.id))).scalars().all()
        total = await session.get(KudosTotal, (bob, ""))
    assert [(k.giver_id, k.receiver_id, k.category, k.reason) for k in kept] == [
        (None, bob, "docs", ""),  # Bob still has the thanks she gave him
        (bob, None, "code", ""),  # and still gave one
    ]
    assert total is not None and (total.points, total.kudos) == (1.0, 1)


async def test_audit_entries_name_her_only_by_a_keyed_pseudonym(db: Database) -> None:
    ada, bob = await _ada_and_bob(db)
    alias = await _forget(db, ada)
    async with db.reading() as session:
        entries = (await session.execute(select(AuditLog).order_by(AuditLog.id))).scalars().all()
    assert [(e.member_id, e.detail) for e in entries] == [
        (None, {"member": alias}),  # what she did: no detail of hers kept
        (bob, {"kudos": 2, "receiver": alias, "category": "code"}),  # Bob's: her id gone
        (None, {"member": alias}),  # the erasure itself
    ]
    assert await count(db, AuditLog, col(AuditLog.member_id) == ada) == 0


async def test_dedupe_keys_keep_apart_with_her_id_pseudonymised(db: Database) -> None:
    ada, _ = await _ada_and_bob(db)
    alias = await _forget(db, ada)
    async with db.reading() as session:
        keys = set((await session.execute(select(col(Outbox.dedupe_key)))).scalars())
        events = set((await session.execute(select(col(ProcessedEvent.dedupe_key)))).scalars())
    assert {k for k in keys if k.startswith("event:")} == {
        f"event:{alias}:kudos:1>2#{n}" for n in "abc"
    }
    assert events == {f"slack:{alias}:kudos:1"}


async def test_her_identity_is_remembered_only_as_a_pseudonym(db: Database) -> None:
    ada, _ = await _ada_and_bob(db)
    await _forget(db, ada)
    async with db.reading() as session:
        assert await was_erased(session, "slack", "T1", f"U{MARK.upper()}1")
        assert not await was_erased(session, "slack", "T1", "UBOB")
        assert not await was_erased(session, "slack", "T2", f"U{MARK.upper()}1")


async def test_a_name_inside_a_longer_word_is_someone_else(db: Database) -> None:
    ada = await _member(db, "UADA", "Ada")
    bob = await _member(db, "UBOB", "Bob")
    async with db.transaction() as session:
        row = message("m", "UBOB", platform="slack", member_id=bob)
        row.payload = {"text": "Adam and Ada's friend, ADA too"}
        session.add(row)
    await _forget(db, ada)
    async with db.reading() as session:
        [text] = (await session.execute(select(Outbox.payload))).scalars()
    assert text["text"] == "Adam and a former member's friend, a former member too"


def test_every_text_column_is_either_searched_or_declared_structural() -> None:
    """A column added later that can hold a member's words must be searched at erasure."""
    searched: dict[str, set[str]] = {}
    for model, name in COLUMNS:
        searched.setdefault(model.__tablename__, set()).add(name)  # type: ignore[arg-type]
    for table in SQLModel.metadata.sorted_tables:
        texts = {
            column.name
            for column in table.columns
            if column.type.python_type in (str, dict, list) and not column.foreign_keys
        }
        declared = searched.get(table.name, set()) | STRUCTURAL.get(table.name, frozenset())
        assert texts <= declared, f"{table.name}: {sorted(texts - declared)}"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_nothing_of_her_is_left_in_the_sqlite_files(db: Database, tmp_path: Path) -> None:
    ada, _ = await _ada_and_bob(db)
    files = sorted(Path(str(db.engine.url.database)).parent.glob("*.db*"))
    assert files and any(MARK.encode() in path.read_bytes() for path in files)
    await _forget(db, ada)
    for path in sorted(Path(str(db.engine.url.database)).parent.glob("*.db*")):
        data = path.read_bytes()
        assert MARK.encode() not in data and MARK.upper().encode() not in data, path.name


async def test_the_same_words_written_by_someone_else_stay_theirs(db: Database) -> None:
    """Her words are taken out of the bot's copies of them, not out of what others wrote:
    anyone may thank someone "for the review" too."""
    ada = await _member(db, "UADA", "Ada")
    bob = await _member(db, "UBOB", "Bob")
    cy = await _member(db, "UCY", "Cy")
    async with db.transaction() as session:
        session.add_all(
            [
                Kudos(giver_id=ada, receiver_id=bob, category="code", reason="for the review"),
                Kudos(giver_id=cy, receiver_id=bob, category="code", reason="for the review"),
            ]
        )
        notice = message("n", "UBOB", platform="slack", member_id=bob, status="sent")
        notice.payload = {"text": "🎉 Ada thanks you: for the review"}
        session.add(notice)
    await _forget(db, ada)
    async with db.reading() as session:
        reasons = (await session.execute(select(Kudos.reason).order_by(Kudos.id))).scalars()
        [text] = (await session.execute(select(Outbox.payload))).scalars()
    assert list(reasons) == ["", "for the review"]  # hers blanked, Cy's his own
    assert text["text"] == "🎉 A former member thanks you: […]"  # the bot's copy of hers
