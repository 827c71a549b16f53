"""The weekly digest in chat: each manager gets one, at their local time on their day, with
the week's numbers, who needs attention and the dashboard's link; /digest changes it; the
content can turn it off; a restart or a second start-up never sends a week's digest twice.

Every test starts on Monday 2 March 2026, 10:00 UTC (tests/clock.py). Mia, the manager, lives
in Paris (UTC+1), so the content's default (Monday 09:00) brings her first digest on Monday
9 March at 08:00 UTC, about the week from 2 March 08:00 UTC.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, func, select
from sqlmodel import col

from adapters.memory import Chat, MemoryAdapter
from bot.health import digest
from bot.health.digest_words import MAX_ARGUMENTS, NotUnderstood, Wanted, parse
from bot.runtime import Onramp
from bot.settings import Settings
from storage import due
from storage.models import (
    DueWork,
    FlowRun,
    Identity,
    Kudos,
    Member,
    MemberActivity,
    MentorRequest,
    Mentorship,
    Outbox,
)
from tests.clock import FakeClock
from tests.conftest import CONTENT
from tests.storage.rows import rebuild_milestones
from tests.support.waiting import until

FIRST_DIGEST = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)  # Monday 09:00 in Paris
SECRET = "a kudos reason nobody else may read"


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    """The bot's settings, on SQLite and on PostgreSQL: every test of the bot here runs on
    both."""
    settings.database.url = database_url
    return settings


async def tick(onramp: Onramp) -> None:
    """Run the due work, and wait until what it queued is delivered (on PostgreSQL the
    sender's own task may be the one sending it)."""
    await onramp.timers.tick()
    await onramp.sender.deliver(None)

    async def delivered() -> bool:
        waiting = select(func.count()).where(col(Outbox.status).in_(("pending", "sending")))
        async with onramp.db.reading() as session:
            return int((await session.execute(waiting)).scalar()) == 0

    await until(delivered, "the outbox to empty")


async def member(
    onramp: Onramp,
    memory: MemoryAdapter,
    name: str,
    *,
    manager: bool = False,
    locale: str = "en",
    timezone: str | None = "Europe/Paris",
) -> Chat:
    """Someone who has written to the bot (/help), perhaps a manager; their own first words
    left out of the numbers (created long ago, no activity), so a test counts only what it
    puts in."""
    chat = Chat(memory, user=name.casefold(), display_name=name)
    await chat.say("/help")
    chat.skip(len(chat.unread()))
    async with onramp.db.transaction() as session:
        found = (
            await session.execute(select(Member).where(Member.display_name == name))
        ).scalar_one()
        found.locale, found.timezone = locale, timezone
        found.created_at = datetime(2025, 1, 6, tzinfo=UTC)
        found.roles = ["manager"] if manager else []
        await session.execute(delete(MemberActivity).where(MemberActivity.member_id == found.id))
        await session.execute(delete(FlowRun).where(FlowRun.member_id == found.id))
    return chat


async def start_up(onramp: Onramp, clock: FakeClock) -> int:
    """What the runtime does at start: every manager's next digest planned."""
    return await digest.start_all(onramp.db, onramp.content, clock())


async def digests(onramp: Onramp) -> list[DueWork]:
    async with onramp.db.reading() as session:
        rows = await session.execute(
            select(DueWork).where(DueWork.kind == digest.KIND).order_by(DueWork.id)
        )
        return list(rows.scalars())


async def add_newcomer(onramp: Onramp, name: str, joined: datetime) -> int:
    async with onramp.db.transaction() as session:
        found = Member(display_name=name, locale="en", created_at=joined, last_active_at=joined)
        session.add(found)
        await session.flush()
        session.add(Identity(member_id=found.id, platform="memory", external_id=name.casefold()))
        return found.id or 0


def at(day: int, hour: int = 12) -> datetime:
    """Noon (UTC) on a day of March 2026; 0 and below count back into February (-4: the
    24th)."""
    return datetime(2026, 3, 1, hour, tzinfo=UTC) + timedelta(days=day - 1)


async def test_a_manager_gets_one_digest_at_their_local_time_on_the_day(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    mia = await member(onramp, memory, "Mia", manager=True)
    ned = await member(onramp, memory, "Ned")  # not a manager
    assert await start_up(onramp, clock) == 1
    [planned] = await digests(onramp)
    assert (planned.member_id, planned.due_at, planned.key) == (
        1,
        FIRST_DIGEST,
        "health.digest:1:2026-W11",
    )
    clock.now = datetime(2026, 3, 9, 7, 59, tzinfo=UTC)
    await tick(onramp)  # 08:59 in Paris: not yet
    mia.expect_nothing()
    clock.now = FIRST_DIGEST
    await tick(onramp)
    message = mia.expect(
        "📊 **Open Health Commons: your weekly digest** (March 2, 2026 – March 9, 2026)",
        "New members",
        "Active members",
        "Nobody needs your attention this week.",
    )
    assert message.text.count("\n") >= 6
    mia.expect_nothing()
    ned.expect_nothing()
    await tick(onramp)
    mia.expect_nothing()
    # The next week's is planned, and goes a week later.
    rows = await digests(onramp)
    assert [(row.key, row.status) for row in rows] == [
        ("health.digest:1:2026-W11", "done"),
        ("health.digest:1:2026-W12", "pending"),
    ]
    assert rows[1].due_at == datetime(2026, 3, 16, 8, 0, tzinfo=UTC)
    clock.now = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)
    await tick(onramp)
    mia.expect("your weekly digest** (March 9, 2026 – March 16, 2026)")
    ned.expect_nothing()


async def test_the_numbers_of_a_small_community(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    """The week of 2-9 March against 23 February-2 March, written out by hand."""
    mia = await member(onramp, memory, "Mia", manager=True)
    flow = onramp.content.community.onboarding_flow
    ben = await add_newcomer(onramp, "Ben", at(-4))  # 24 February: the week before
    cleo = await add_newcomer(onramp, "Cleo", at(3))
    dan = await add_newcomer(onramp, "Dan", at(4))
    await add_newcomer(onramp, "Eve", at(5))
    async with onramp.db.transaction() as session:
        session.add_all(
            [
                FlowRun(
                    member_id=ben,
                    flow_id=flow,
                    status="completed",
                    started_at=at(-4),
                    updated_at=at(-3),
                    finished_at=at(-3),
                ),
                FlowRun(
                    member_id=cleo,
                    flow_id=flow,
                    status="completed",
                    started_at=at(3),
                    updated_at=at(4),
                    finished_at=at(4),
                ),
                Mentorship(newcomer_id=cleo, mentor_id=ben, started_at=at(5)),
                Kudos(
                    giver_id=ben, receiver_id=cleo, category="code", reason=SECRET, created_at=at(6)
                ),
                MemberActivity(member_id=ben, day=at(-3).date(), platform="memory"),
                MemberActivity(member_id=ben, day=at(4).date(), platform="memory"),
                MemberActivity(member_id=cleo, day=at(4).date(), platform="memory"),
                MemberActivity(member_id=dan, day=at(5).date(), platform="memory"),
            ]
        )
    await rebuild_milestones(onramp.db)  # the rows went in directly
    await start_up(onramp, clock)
    clock.now = FIRST_DIGEST
    await tick(onramp)
    message = mia.expect("your weekly digest")
    lines = message.text.splitlines()
    assert lines[2:7] == [
        "▲ New members: **3** (the week before: 1)",
        "= Finished onboarding: **1** (the week before: 1)",
        "▲ Matched with a mentor: **1** (the week before: 0)",
        "▲ First contributions: **1** (the week before: 0)",
        "▲ Active members: **3** (the week before: 1)",
    ]
    assert SECRET not in message.text  # no member's words, only counts


async def test_the_at_risk_list_names_the_first_three_then_counts(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    mia = await member(onramp, memory, "Mia", manager=True)
    flow = onramp.content.community.onboarding_flow
    names = ["Ana", "Bo", "Cy", "Di", "Ed"]
    async with onramp.db.transaction() as session:
        for number, name in enumerate(names):
            found = Member(display_name=name, created_at=at(-10), last_active_at=at(-10))
            session.add(found)
            await session.flush()
            session.add(Identity(member_id=found.id, platform="memory", external_id=name))
            moved = at(-10 + number)  # Ana stalled first
            session.add(
                FlowRun(
                    member_id=found.id,
                    flow_id=flow,
                    step_id="consent",
                    started_at=moved,
                    updated_at=moved,
                )
            )
        zed = Member(display_name="Zed", created_at=at(-10), last_active_at=at(-10))
        session.add(zed)
        await session.flush()
        session.add(MentorRequest(member_id=zed.id, requested_at=at(1), updated_at=at(1)))
    await start_up(onramp, clock)
    clock.now = FIRST_DIGEST
    await tick(onramp)
    message = mia.expect(
        "**Needs your attention**",
        "Stuck in onboarding for over a week: Ana, Bo, Cy and 2 more",
        "Waiting for a mentor for over 48 hours: Zed",
    )
    assert "Di" not in message.text and "Ed" not in message.text


async def test_the_digest_links_to_the_dashboard_when_it_is_served(
    settings: Settings, memory: MemoryAdapter, clock: FakeClock
) -> None:
    settings.web.enabled, settings.web.port = "always", 0
    settings.web.host, settings.web.public_url = "127.0.0.1", "https://bot.example.org"
    onramp = await Onramp.create(settings, {"memory": memory}, clock=clock)
    await onramp.start()
    try:
        mia = await member(onramp, memory, "Mia", manager=True)
        await start_up(onramp, clock)
        clock.now = FIRST_DIGEST
        await tick(onramp)
        mia.expect("The full picture, on the dashboard: <https://bot.example.org/dashboard>")
    finally:
        await onramp.stop()


async def test_a_manager_chooses_their_day_and_time_or_none(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    mia = await member(onramp, memory, "Mia", manager=True)
    await start_up(onramp, clock)
    await mia.say("/digest")
    mia.expect("every Monday at 9:00\u202fAM (France, UTC+1); the next one on Mon, Mar 9")
    await mia.say("/digest off")
    mia.expect("Your weekly digest is off")
    assert [row.status for row in await digests(onramp)] == ["cancelled"]
    await start_up(onramp, clock)  # a restart does not bring it back
    clock.now = FIRST_DIGEST
    await tick(onramp)
    mia.expect_nothing()
    await mia.say("/digest friday 5:30 pm")
    mia.expect("every Friday at 5:30\u202fPM (France, UTC+1); the next one on Fri, Mar 13")
    clock.now = datetime(2026, 3, 13, 16, 29, tzinfo=UTC)
    await tick(onramp)
    mia.expect_nothing()
    clock.now = datetime(2026, 3, 13, 16, 30, tzinfo=UTC)  # 17:30 in Paris
    await tick(onramp)
    mia.expect("your weekly digest** (March 6, 2026 – March 13, 2026)")
    await mia.say("/digest on")
    mia.expect("every Friday at 5:30\u202fPM")


async def test_a_day_changed_after_this_weeks_digest_starts_next_week(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    mia = await member(onramp, memory, "Mia", manager=True)
    await start_up(onramp, clock)
    clock.now = FIRST_DIGEST
    await tick(onramp)
    mia.expect("your weekly digest")
    await mia.say("/digest wednesday")  # this week's went out on Monday
    mia.expect("every Wednesday at 9:00\u202fAM (France, UTC+1); the next one on Wed, Mar 18")


@pytest.mark.parametrize(
    ("locale", "said", "answer"),
    [
        ("en", "/digest someday 10:00", "“someday” is not a day of the week I know"),
        ("en", "/digest monday 25:00", "I can't read “25:00” as a time"),
        ("fr", "/digest vendredi 18h", "chaque vendredi à 18:00"),
        ("es", "/digest miércoles 9", "cada miércoles a las 9:00"),
        ("ar", "/digest الإثنين ٩:٣٠", "الساعة \u20689:30 ص\u2069"),
        ("sw", "/digest Ijumaa 17:00", "kila Ijumaa saa 17:00"),
    ],
)
async def test_digest_reads_days_and_times_in_the_managers_language(
    onramp: Onramp,
    memory: MemoryAdapter,
    clock: FakeClock,
    locale: str,
    said: str,
    answer: str,
) -> None:
    mia = await member(onramp, memory, "Mia", manager=True, locale=locale)
    await mia.say(said)
    mia.expect(answer)


async def test_only_managers_get_digests_or_use_digest(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    ned = await member(onramp, memory, "Ned")
    assert await start_up(onramp, clock) == 0
    await ned.say("/digest monday 09:00")
    ned.expect("The weekly digest is for community managers.")
    assert await digests(onramp) == []


async def test_a_manager_who_loses_the_role_gets_no_more(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    mia = await member(onramp, memory, "Mia", manager=True)
    await start_up(onramp, clock)
    async with onramp.db.transaction() as session:
        found = await session.get(Member, 1)
        assert found is not None
        found.roles = []
    clock.now = FIRST_DIGEST
    await tick(onramp)
    mia.expect_nothing()
    assert [row.status for row in await digests(onramp)] == ["done"]


async def test_a_digest_due_at_night_waits_for_the_morning(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    mia = await member(onramp, memory, "Mia", manager=True)
    await mia.say("/digest tuesday 06:00")  # before the quiet hours end (08:00)
    mia.expect("every Tuesday at 6:00\u202fAM")
    clock.now = datetime(2026, 3, 3, 5, 0, tzinfo=UTC)  # 06:00 in Paris
    await tick(onramp)
    mia.expect_nothing()
    [row] = await digests(onramp)
    assert (row.status, row.due_at) == ("pending", datetime(2026, 3, 3, 7, 0, tzinfo=UTC))
    clock.now = datetime(2026, 3, 3, 7, 0, tzinfo=UTC)
    await tick(onramp)
    mia.expect("your weekly digest")


@pytest.fixture
def digests_off(settings: Settings, tmp_path: Path) -> Settings:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    dashboard = content / "dashboard.yaml"
    text = dashboard.read_text(encoding="utf-8")
    dashboard.write_text(text.replace("  enabled: true", "  enabled: false", 1), encoding="utf-8")
    settings.content.path = content
    return settings


async def test_content_can_turn_digests_off(
    onramp: Onramp,
    memory: MemoryAdapter,
    clock: FakeClock,
    digests_off: Settings,
) -> None:
    """Planned while they were on; then the content turns them off and the bot restarts:
    nothing is planned, what was planned is not sent, and /digest says why."""
    mia = await member(onramp, memory, "Mia", manager=True)
    await start_up(onramp, clock)
    await onramp.stop()
    off = await Onramp.create(digests_off, {"memory": memory}, clock=clock)
    await off.start()
    try:
        assert await start_up(off, clock) == 0
        assert [row.status for row in await digests(off)] == ["cancelled"]
        # One planned again by a replica still on the old content is not sent either.
        async with off.db.transaction() as session:
            await due.schedule(
                session,
                key="health.digest:1:2026-W11",
                kind=digest.KIND,
                due_at=FIRST_DIGEST,
                member_id=1,
                payload={"at": FIRST_DIGEST.isoformat()},
            )
        clock.now = FIRST_DIGEST
        await tick(off)
        mia.expect_nothing()
        assert [row.status for row in await digests(off)] == ["done"]
        await mia.say("/digest friday")
        mia.expect("The weekly digest is turned off for this community")
        assert [row.status for row in await digests(off)] == ["done"]
    finally:
        await off.stop()


async def test_a_restart_or_a_second_replica_never_sends_a_week_twice(
    settings: Settings, onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    mia = await member(onramp, memory, "Mia", manager=True)
    await start_up(onramp, clock)
    await start_up(onramp, clock)  # a second replica starting beside it
    assert len(await digests(onramp)) == 1
    clock.now = FIRST_DIGEST
    await tick(onramp)
    mia.expect("your weekly digest")
    await onramp.stop()
    again = await Onramp.create(settings, {"memory": memory}, clock=clock)
    await again.start()
    try:
        assert await start_up(again, clock) == 1
        await tick(again)
        mia.expect_nothing()
        assert [row.status for row in await digests(again)] == ["done", "pending"]
        clock.now = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)
        await tick(again)
        mia.expect("your weekly digest")
        mia.expect_nothing()
    finally:
        await again.stop()


LOCALES = ("en", "fr", "es", "pt", "ar", "sw")


@pytest.mark.parametrize(
    ("said", "wanted"),
    [
        ("on", Wanted(switch=True)),
        ("OFF", Wanted(switch=False)),
        ("non", Wanted(switch=False)),  # a "no" word of the content
        ("9", Wanted(at=time(9, 0))),
        ("17h30", Wanted(at=time(17, 30))),
        ("5 pm", Wanted(at=time(17, 0))),
        ("12am", Wanted(at=time(0, 0))),
        ("Mié", Wanted(day=2)),
        ("segunda-feira 8.15", Wanted(day=0, at=time(8, 15))),
        ("segunda feira", Wanted(day=0)),
        ("9:00 sábado", Wanted(day=5, at=time(9, 0))),
        ("Jumapili ١٠:٠٠", Wanted(day=6, at=time(10, 0))),
        ("tuesday 24:00", NotUnderstood("time", "24:00")),
        ("13pm", NotUnderstood("time", "13pm")),
        ("blursday 9:00", NotUnderstood("day", "blursday")),
        ("soon", NotUnderstood("day", "soon")),
    ],
)
def test_days_and_times_as_managers_write_them(said: str, wanted: Wanted | NotUnderstood) -> None:
    assert parse(said, LOCALES, frozenset({"oui"}), frozenset({"non"})) == wanted


@given(st.text(max_size=80))
def test_any_text_is_read_or_refused_never_an_error(text: str) -> None:
    found = parse(text, LOCALES, frozenset(), frozenset())
    assert isinstance(found, Wanted | NotUnderstood)
    if isinstance(found, NotUnderstood):
        assert found.what in {"day", "time"} and len(found.text) <= MAX_ARGUMENTS
