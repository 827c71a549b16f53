"""Consent per purpose, each enforced where its data is used (bot/purposes.py): withdrawn, the
member's data leaves leaderboards, shout-outs, the export, matching, kept answers and the
activity record; granted again, it comes back where that makes sense. Storage on SQLite and
PostgreSQL; the features end to end through the memory adapter."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.memory import Chat, MemoryAdapter
from bot.purposes import Purpose, purposes_of, set_purpose
from bot.runtime import Onramp
from bot.settings import Settings
from bot.turn import member_turn
from storage import activity, consent, runs, writeback
from storage import recognition as recognition_store
from storage.members import create_member
from storage.models import Answer, AuditLog, FlowRun, Member, MemberActivity, MentorOffer
from storage.session import Database
from storage.statuses import RunStatus
from tests.bot.test_cli import onramp as cli
from tests.bot.test_mentorship import sign_up
from tests.bot.test_recognition import person
from tests.conftest import CONTENT, FakeClock

NOW = FakeClock().now


async def _member(db: Database, name: str) -> int:
    async with db.transaction() as session:
        _, member = await create_member(
            session, platform="console", workspace="", external_id=name, display_name=name
        )
    assert member.id is not None
    return member.id


async def member_id(onramp: Onramp, name: str) -> int:
    async with onramp.db.reading() as session:
        found = await session.execute(select(Member.id).where(Member.display_name == name))
        return int(found.scalar_one())


async def choose(onramp: Onramp, name: str, purpose: str, granted: bool) -> bool:
    """What /privacy does when the member taps a purpose: one turn, its messages sent."""
    who = await member_id(onramp, name)
    now = onramp.clock()
    async with onramp.db.transaction() as session:
        key = f"privacy:{who}:{purpose}:{granted}:{now.timestamp()}"
        turn = await member_turn(session, onramp.db, onramp.content, who, now, key, onramp.registry)
        assert turn is not None
        changed = await set_purpose(turn, purpose, granted)
        await writeback.write_back(session)
        queued = await turn.flush()
    await onramp.sender.deliver(list(queued))
    return changed


async def give_feedback(chat: Chat) -> None:
    """The sample feedback flow to its end: a rating, then a comment."""
    await chat.say("/feedback")
    await chat.press("5")
    await chat.say("It was easy to find my way around.")
    chat.skip(len(chat.unread()))


# Storage, on both databases.


async def test_allows_counts_the_default_until_the_member_says(db: Database) -> None:
    ada, bea, cai = [await _member(db, n) for n in ("ada", "bea", "cai")]
    async with db.transaction() as session:
        await consent.set_consent(session, ada, "leaderboards", False, NOW, "privacy")
        await consent.set_consent(session, bea, "leaderboards", True, NOW, "privacy")
    async with db.reading() as session:
        everyone = {ada, bea, cai}
        assert await consent.allowing(session, everyone, "leaderboards", True) == {bea, cai}
        assert await consent.allowing(session, everyone, "leaderboards", False) == {bea}
        for default, expected in ((True, {bea, cai}), (False, {bea})):
            listed = select(Member.id).where(consent.allows(Member.id, "leaderboards", default))
            assert set((await session.execute(listed)).scalars()) == expected
        assert await consent.choices(session, ada, {"leaderboards": True, "statistics": True}) == {
            "leaderboards": False,
            "statistics": True,
        }
        assert await consent.said(session, cai, "leaderboards") is None


async def test_no_days_of_activity_are_recorded_for_a_member_who_withdrew_statistics(
    db: Database,
) -> None:
    ada = await _member(db, "ada")
    dialect = db.engine.dialect.name
    today = NOW.date()
    async with db.transaction() as session:
        await activity.record(session, dialect, ada, today, "console")
        await consent.set_consent(session, ada, "statistics", False, NOW, "privacy")
        assert await activity.forget_activity(session, ada) == 1
        await activity.record(session, dialect, ada, today + timedelta(days=1), "console")
    async with db.reading() as session:
        days = await session.execute(select(func.count()).select_from(MemberActivity))
        assert days.scalar_one() == 0
    async with db.transaction() as session:
        await consent.set_consent(session, ada, "statistics", True, NOW, "privacy")
        await activity.record(session, dialect, ada, today + timedelta(days=2), "console")
    async with db.reading() as session:
        rows = (await session.execute(select(MemberActivity.day))).scalars().all()
    assert rows == [today + timedelta(days=2)]  # counted again from the day they agreed


async def test_leaderboards_and_the_export_leave_out_who_withdrew(db: Database) -> None:
    ada, bea, cai = [await _member(db, n) for n in ("ada", "bea", "cai")]
    async with db.transaction() as session:
        for receiver, reason in ((bea, "docs"), (bea, "code"), (cai, "docs")):
            await recognition_store.give(
                session,
                giver_id=ada,
                receiver_id=receiver,
                category="docs",
                reason=f"a fine piece of {reason} work",
                now=NOW,
                weight=1.0,
                shouted=False,
            )
        await consent.set_consent(session, bea, "leaderboards", False, NOW, "privacy")
    async with db.transaction() as session:
        ever = await recognition_store.leaderboard(session, None, None)
        week = await recognition_store.leaderboard(
            session, NOW - timedelta(days=7), None, window="week", roll=True
        )
        recent = await recognition_store.leaderboard(session, NOW - timedelta(hours=1), None)
        exported = await recognition_store.everyone(session)
        asked = await recognition_store.leaderboard(session, None, None, listed_by_default=False)
    for board in (ever, week, recent):
        assert [(s.rank, s.name, s.points) for s in board] == [(1, "cai", 1.0)]
    assert [row[1] for row in exported] == ["cai"]
    assert asked == []  # where community.yaml asks first: nobody said yes
    async with db.transaction() as session:
        await consent.set_consent(session, bea, "leaderboards", True, NOW, "privacy")
        ever = await recognition_store.leaderboard(session, None, None)
    assert [(s.name, s.points) for s in ever] == [("bea", 2.0), ("cai", 1.0)]


async def test_finished_runs_lose_their_answers_and_open_ones_keep_theirs(db: Database) -> None:
    ada = await _member(db, "ada")
    async with db.transaction() as session:
        done = FlowRun(member_id=ada, flow_id="onboarding", status=RunStatus.COMPLETED)
        going = FlowRun(member_id=ada, flow_id="feedback", status=RunStatus.ACTIVE)
        session.add_all([done, going])
        await session.flush()
        await runs.save_answer(session, done, "interests", ["docs"], NOW)
        await runs.save_answer(session, going, "rating", "5", NOW)
    async with db.transaction() as session:
        assert await runs.erase_finished_answers(session, ada) == 1
    async with db.reading() as session:
        left = (await session.execute(select(Answer.step_id))).scalars().all()
    assert left == ["rating"]


# The features, end to end.


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The sample content, shouting out in the memory platform's "kudos-wall" channel."""
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    path = content / "recognition.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("shout_out_channels: {}", "shout_out_channels: {memory: kudos-wall}"),
        encoding="utf-8",
    )
    settings.content.path = content
    return settings


async def test_the_purposes_of_a_member_with_their_defaults_and_choices(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    await person(onramp, memory, "ada", "Ada")
    async with onramp.db.reading() as session:
        ada = await session.get(Member, await member_id(onramp, "Ada"))
        assert ada is not None
        before = await purposes_of(session, onramp.content, ada)
    assert before == [
        Purpose("answers", True, chosen=False),
        Purpose("mentorship", True, chosen=False),
        Purpose("leaderboards", True, chosen=False),
        Purpose("announcements", False, chosen=False),
        Purpose("statistics", True, chosen=False),
    ]
    assert await choose(onramp, "Ada", "announcements", True)
    assert await choose(onramp, "Ada", "leaderboards", False)
    assert not await choose(onramp, "Ada", "leaderboards", False)  # the same again: nothing
    with pytest.raises(ValueError, match="newsletter"):
        await choose(onramp, "Ada", "newsletter", True)
    async with onramp.db.reading() as session:
        ada = await session.get(Member, await member_id(onramp, "Ada"))
        assert ada is not None
        after = {
            p.name: (p.granted, p.chosen) for p in await purposes_of(session, onramp.content, ada)
        }
        audits = (await session.execute(select(AuditLog.action, AuditLog.detail))).all()
    assert after["announcements"] == (True, True)
    assert after["leaderboards"] == (False, True)
    assert ("consent.leaderboards.withdrawn", {"source": "privacy"}) in audits


async def test_withdrawn_leaderboards_leave_the_board_the_shout_outs_and_the_export(
    onramp: Onramp, memory: MemoryAdapter, settings: Settings
) -> None:
    ada = await person(onramp, memory, "ada", "Ada")
    await person(onramp, memory, "bea", "Bea")
    await person(onramp, memory, "cai", "Cai")
    wall = Chat(memory, user="kudos-wall")
    await choose(onramp, "Bea", "leaderboards", False)
    await ada.say("/kudos @bea for the install guide #docs")
    ada.expect("Thank you for recognising Bea")
    ada.skip()  # the first-thanks badge
    await ada.say("/kudos @cai for the sketches #design")
    ada.expect("Thank you for recognising Cai")
    assert [m.text for m in wall.messages if "🎉" in m.text] == [
        "🎉 Ada thanks Cai for the sketches (🎨 Design)"
    ]  # Bea's kudos was recorded and told to her, not shouted out
    await ada.say("/kudos top all")
    board = ada.expect("Most thanked of all time").text
    assert "Cai" in board and "Bea" not in board
    env = {
        "ONRAMP_DATABASE__URL": settings.database.url,
        "ONRAMP_CONTENT__PATH": str(settings.content.path),
    }
    table = cli("recognition", "export", "--format", "csv", env=env)
    assert table.returncode == 0, table.stderr
    assert [line.split(",")[1] for line in table.stdout.splitlines()[1:]] == ["Cai"]
    async with onramp.db.reading() as session:
        bea = await member_id(onramp, "Bea")
        # What she received still counts, for her own summary and badges.
        assert await recognition_store.kudos_count(session, bea, received=True) == 1

    await choose(onramp, "Bea", "leaderboards", True)
    await ada.say("/kudos top all")
    assert "Bea" in ada.expect("Most thanked of all time").text
    table = cli("recognition", "export", "--format", "csv", env=env)
    assert [line.split(",")[1] for line in table.stdout.splitlines()[1:]] == ["Bea", "Cai"]


async def test_withdrawn_mentorship_withdraws_the_offer_and_is_never_matched(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    bea = await person(onramp, memory, "bea", "Bea", timezone="Europe/Paris")
    await sign_up(bea)
    ada = await person(onramp, memory, "ada", "Ada", timezone="Europe/Paris")
    await ada.say("/mentor")
    ada.expect("I've asked a mentor")
    bea.expect("would like a mentor")
    await choose(onramp, "Bea", "mentorship", False)  # the mentor withdraws
    async with onramp.db.reading() as session:
        offer = (await session.execute(select(MentorOffer))).scalar_one()
    assert offer.status == "withdrawn"
    await ada.say("/mentor status")
    ada.expect("looking for a mentor")  # no other mentor: Ada's request waits again
    await onramp.timers.tick()
    bea.expect_nothing()  # never offered again while withdrawn

    await choose(onramp, "Ada", "mentorship", False)  # the newcomer withdraws: request ends
    await ada.say("/mentor status")
    assert "looking for a mentor" not in ada.expect().text
    await choose(onramp, "Bea", "mentorship", True)
    cai = await person(onramp, memory, "cai", "Cai", timezone="Europe/Paris")
    await cai.say("/mentor")
    cai.expect("I've asked a mentor")
    bea.expect("**Cai** would like a mentor")  # Bea is offered again
    await ada.say("/mentor")  # asking again is agreeing again
    ada.skip()
    async with onramp.db.reading() as session:
        assert await consent.said(session, await member_id(onramp, "Ada"), "mentorship")


async def test_withdrawn_answers_are_erased_and_new_ones_go_when_their_run_ends(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    ada = await person(onramp, memory, "ada", "Ada", locale="en", profile={"interests": ["docs"]})
    await give_feedback(ada)
    async with onramp.db.reading() as session:
        kept = (await session.execute(select(func.count()).select_from(Answer))).scalar_one()
    assert kept > 0
    await choose(onramp, "Ada", "answers", False)
    async with onramp.db.reading() as session:
        left = (await session.execute(select(func.count()).select_from(Answer))).scalar_one()
        member = await session.get(Member, await member_id(onramp, "Ada"))
        erased = (
            await session.execute(
                select(AuditLog.detail).where(AuditLog.action == "consent.answers.erased")
            )
        ).scalar_one()
    assert left == 0 and member is not None and member.profile == {}
    assert erased == {"answers": kept, "profile": True}  # counts, never the answers
    assert member.locale == "en"  # what the bot needs to work stays

    await give_feedback(ada)  # a new run: its answers serve it, then go
    async with onramp.db.reading() as session:
        left = (await session.execute(select(func.count()).select_from(Answer))).scalar_one()
    assert left == 0

    await choose(onramp, "Ada", "answers", True)
    await give_feedback(ada)
    async with onramp.db.reading() as session:
        kept = (await session.execute(select(func.count()).select_from(Answer))).scalar_one()
    assert kept > 0


async def test_withdrawn_statistics_erase_the_days_of_activity(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    ada = await person(onramp, memory, "ada", "Ada")
    clock.advance(days=1)
    await ada.say("/help")
    await choose(onramp, "Ada", "statistics", False)
    clock.advance(days=1)
    await ada.say("/help")
    async with onramp.db.reading() as session:
        days = (
            await session.execute(select(func.count()).select_from(MemberActivity))
        ).scalar_one()
    assert days == 0
    await choose(onramp, "Ada", "statistics", True)
    clock.advance(days=1)
    await ada.say("/help")
    async with onramp.db.reading() as session:
        days = (
            await session.execute(select(func.count()).select_from(MemberActivity))
        ).scalar_one()
    assert days == 1
