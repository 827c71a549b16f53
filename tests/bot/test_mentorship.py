"""Mentorship end to end through the memory adapter: sign-up, offers, answers, lapses."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from typing import Any

from babel.dates import format_date
from sqlalchemy import select

from adapters.memory import Chat, MemoryAdapter
from bot.clock import quiet_until
from bot.runtime import Onramp
from bot.settings import Settings
from storage.models import (
    AuditLog,
    CheckIn,
    DueWork,
    Member,
    MentorOffer,
    MentorProfile,
    MentorRequest,
    Mentorship,
)
from tests.conftest import ROOT, FakeClock
from tests.support.launcher import run_module


async def person(
    onramp: Onramp, memory: MemoryAdapter, user: str, name: str, **profile: Any
) -> Chat:
    """A member who has been around: their first event creates them, then their profile."""
    chat = Chat(memory, user=user, display_name=name)
    await chat.say("/help")
    chat.skip()
    async with onramp.db.transaction() as session:
        member = (
            await session.execute(select(Member).where(Member.display_name == name))
        ).scalar_one()
        member.locale = profile.pop("locale", "en")
        member.timezone = profile.pop("timezone", "Europe/Paris")
        member.roles = profile.pop("roles", [])
        member.profile = profile
    return chat


async def sign_up(
    chat: Chat,
    topics: tuple[str, ...] = ("docs",),
    languages: tuple[str, ...] = ("en", "fr"),
    hours: str = "17-22",
    capacity: str = "2",
    experience: str = "experienced",
) -> None:
    await chat.say("/mentor signup")
    chat.expect("Thank you for offering to mentor")
    chat.expect("What can you help newcomers with?")
    await chat.press(*topics)
    chat.expect("Which languages")
    await chat.press(*languages)
    chat.expect("How much have you contributed to open-source projects yourself?")
    await chat.press(experience)
    chat.expect("When in your day")
    await chat.press(hours)
    chat.expect("How many mentees")
    await chat.press(capacity)
    chat.expect("A sentence or two about yourself")
    await chat.say("I maintain the docs and love helping people start.")
    chat.expect("You're all set as a mentor")


async def test_a_mentor_signs_up_and_a_newcomer_is_offered_then_introduced(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    bea = await person(onramp, memory, "bea", "Bea", timezone="Europe/Paris")
    await sign_up(bea)
    async with onramp.db.reading() as session:
        profile = (await session.execute(select(MentorProfile))).scalar_one()
    assert (profile.topics, profile.languages, profile.capacity) == (["docs"], ["en", "fr"], 2)
    assert (profile.hours_start, profile.hours_end) == (17, 22)

    ada = await person(
        onramp, memory, "ada", "Ada", locale="fr", timezone="Europe/Paris", interests=["docs"]
    )
    await ada.say("/mentor")
    ada.expect("J'ai contacté un mentor")
    offer = bea.expect("**Ada** would like a mentor", "you both speak French", "Documentation")
    assert [c.id for c in offer.choices] == ["accept", "decline"]
    await bea.press("accept")
    intro = bea.expect("Meet Ada", "[Ada](member:ada)")
    ada.expect("Bea sera votre mentor", "I maintain the docs")
    bea.expect_nothing()
    assert intro.locale == "en"
    async with onramp.db.reading() as session:
        mentorship = (await session.execute(select(Mentorship))).scalar_one()
        checkins = (
            (await session.execute(select(DueWork).where(DueWork.kind == "mentor.checkin")))
            .scalars()
            .all()
        )
        offer_timer = (
            await session.execute(select(DueWork).where(DueWork.kind == "mentor.offer_expire"))
        ).scalar_one()
    assert mentorship.status == "active"
    # days 3, 7, 21, 35, 49, 63, 77 and 90, for each of the two
    assert len(checkins) == 16
    assert offer_timer.status == "cancelled"

    await ada.say("/mentor status")
    # the date written out in her language, never as 2026-12-06
    started = format_date(mentorship.started_at.date(), "long", locale="fr")
    ada.expect(f"Votre mentor est Bea (depuis le {started})")
    await bea.say("/mentor status")
    bea.expect("You are mentoring Ada", "a mentor with 1 mentee, out of the 2 you offered")


async def test_a_declined_offer_goes_to_the_next_mentor_and_is_never_proposed_again(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    bea = await person(onramp, memory, "bea", "Bea")
    await sign_up(bea, topics=("docs", "code"))
    cai = await person(onramp, memory, "cai", "Cai")
    await sign_up(cai, topics=("code",))
    ada = await person(onramp, memory, "ada", "Ada", interests=["docs"])
    await ada.say("/mentor")
    ada.expect("I've asked a mentor")
    bea.expect("would like a mentor", "shared interest: 📝 Documentation")
    cai.expect_nothing()
    await bea.press("decline")
    bea.expect("No problem")
    cai.expect("**Ada** would like a mentor")
    await cai.press("decline")
    cai.expect("No problem")
    bea.expect_nothing()  # never the same pair twice
    async with onramp.db.reading() as session:
        offers = (await session.execute(select(MentorOffer))).scalars().all()
    assert sorted(o.status for o in offers) == ["declined", "declined"]
    await ada.say("/mentor")
    ada.expect("already asked for a mentor")
    await ada.say("/mentor status")
    ada.expect("I'm looking for a mentor for you")


async def test_an_offer_lapses_and_a_mentor_who_lets_them_lapse_is_paused(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    bea = await person(onramp, memory, "bea", "Bea")
    await sign_up(bea)
    zoe = await person(onramp, memory, "zoe", "Zoe", roles=["manager"])
    newcomers = [
        await person(onramp, memory, f"n{i}", f"N{i}", interests=["docs"]) for i in range(3)
    ]
    for chat in newcomers:
        await chat.say("/mentor")
        chat.skip()
    for i in range(3):
        bea.expect(f"**N{i}** would like a mentor")
        clock.advance(hours=49)
        await onramp.timers.tick()
        await onramp.sender.deliver(None)
        if i < 2:
            bea.expect("I didn't hear back in time")
            result = await onramp.match_mentors()  # the periodic batch: Bea is free again
            assert [(c.newcomer_name, c.was) for c in result.changes] == [(f"N{i + 1}", None)]
            await onramp.sender.deliver(None)
    bea.expect("I didn't hear back in time")
    bea.expect("I've paused new offers to you, as the last 3 went unanswered")
    zoe.expect("Bea let several offers go unanswered")
    async with onramp.db.reading() as session:
        profile = (await session.execute(select(MentorProfile))).scalar_one()
        statuses = sorted(o.status for o in (await session.execute(select(MentorOffer))).scalars())
        audit = [a.action for a in (await session.execute(select(AuditLog))).scalars()]
    assert profile.paused and statuses == ["expired"] * 3
    assert "mentorship.alert.mentor_paused" in audit
    async with onramp.db.reading() as session:
        lapsed = (await session.execute(select(MentorOffer.id))).scalars().first()
    await bea.say(f"/mentor accept {lapsed}")  # too late
    bea.expect("That offer has lapsed, and I've asked someone else")
    await bea.say("/mentor resume")
    bea.expect("You'll get mentor offers again".replace("mentor offers", "mentee offers"))


async def matched(onramp: Onramp, memory: MemoryAdapter) -> tuple[Chat, Chat, Chat]:
    """Bea mentors Ada; Zoe manages the community."""
    zoe = await person(onramp, memory, "zoe", "Zoe", roles=["manager"])
    bea = await person(onramp, memory, "bea", "Bea")
    await sign_up(bea)
    ada = await person(onramp, memory, "ada", "Ada", interests=["docs"])
    await ada.say("/mentor")
    ada.skip()
    bea.expect("would like a mentor")
    await bea.press("accept")
    bea.expect("Meet Ada")
    ada.expect("Bea will be your mentor")
    return ada, bea, zoe


async def tick(onramp: Onramp, clock: FakeClock, **delta: float) -> None:
    clock.advance(**delta)
    while await onramp.timers.tick():
        pass
    await onramp.sender.deliver(None)


async def test_check_ins_ask_both_and_a_low_score_alerts_the_managers(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    ada, bea, zoe = await matched(onramp, memory)
    await tick(onramp, clock, days=2, hours=23)
    ada.expect_nothing()
    await tick(onramp, clock, hours=1)
    ada.expect("How is your mentorship with Bea going?")
    bea.expect("How is your mentorship with Ada going?")
    await bea.press("5")
    bea.expect("Anything you'd like to add?")
    await bea.press("done")
    bea.expect("Keep it up")
    zoe.expect_nothing()
    await ada.press("1")
    ada.expect("Anything you'd like to add?")
    alert = zoe.expect("Ada rated their mentorship with Bea 1/5")
    assert alert.locale == "en"
    await ada.press("note")
    ada.expect("a sentence or two")
    await ada.say("We never found a time to talk.")
    ada.expect("Keep it up")
    async with onramp.db.reading() as session:
        rows = (await session.execute(select(CheckIn).order_by(CheckIn.member_id))).scalars()
        answers = {(r.number, r.score, r.comment) for r in rows}
    assert answers == {(0, 5, None), (0, 1, "We never found a time to talk.")}


async def test_unanswered_check_ins_alert_once_and_the_last_asks_for_feedback_and_closes(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    ada, bea, zoe = await matched(onramp, memory)
    await tick(onramp, clock, days=3)
    ada.expect("How is your mentorship")
    bea.expect("How is your mentorship")
    await bea.press("4")
    bea.skip()
    await bea.press("done")
    bea.skip()
    await tick(onramp, clock, days=4)  # day 7: Ada's day-3 check-in went unanswered
    ada.expect("How is your mentorship")
    bea.expect("How is your mentorship")
    zoe.expect_nothing()
    await tick(onramp, clock, days=14)  # day 21: two unanswered in a row
    ada.expect("How is your mentorship")
    bea.expect("How is your mentorship")
    zoe.expect("Ada has not answered the last 2 check-ins", "with Bea")
    await tick(onramp, clock, days=14)  # day 35: Ada's third is not told again; Bea's second is
    ada.skip()
    bea.skip()
    zoe.expect("Bea has not answered the last 2 check-ins", "with Ada")
    zoe.expect_nothing()
    await tick(onramp, clock, days=55)  # day 90: the end
    for chat in (ada, bea):
        for _ in chat.unread()[:-2]:
            chat.expect("How is your mentorship")
        chat.expect("You've earned a badge: 🧭 Guide")  # badges.yaml: a mentorship completed
        chat.expect("coming to a close")
    async with onramp.db.reading() as session:
        mentorship = (await session.execute(select(Mentorship))).scalar_one()
    assert (mentorship.status, mentorship.end_reason) == ("ended", "completed")
    await bea.press("5")
    bea.expect("What was most useful")
    await bea.say("Seeing Ada's first pull request merged.")
    bea.expect("Thank you, for the feedback")
    await ada.say("/mentor status")
    ada.expect("You have no mentorship at the moment")


async def test_ending_early_tells_the_other_and_cancels_the_check_ins(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    ada, bea, _ = await matched(onramp, memory)
    await ada.say("/mentor end")
    ada.expect("your mentorship has ended")
    bea.expect("Ada has ended your mentorship")
    async with onramp.db.reading() as session:
        pending = (
            await session.execute(
                select(DueWork).where(DueWork.kind == "mentor.checkin", DueWork.status == "pending")
            )
        ).all()
    assert pending == []
    await tick(onramp, clock, days=100)
    ada.expect_nothing()
    bea.expect_nothing()
    await ada.say("/mentor")  # they may ask again; Bea is never proposed twice
    ada.expect("Nobody who fits is free right now")


async def test_answers_to_offers_that_are_not_open_get_a_clear_reply(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    _, bea, _ = await matched(onramp, memory)
    await bea.press("accept")  # a double tap
    bea.expect("You've already accepted that one")
    await bea.say("/mentor accept 999")
    bea.expect("I can't find an offer of yours with that number")
    await bea.say("/mentor accept one")
    bea.expect("I can't find an offer of yours")
    cai = await person(onramp, memory, "cai", "Cai")
    await sign_up(cai)
    eve = await person(onramp, memory, "eve", "Eve", interests=["docs"])
    await eve.say("/mentor")
    eve.skip()
    offer = cai.expect("**Eve** would like a mentor")  # Cai has more room than Bea
    bea.expect_nothing()
    async with onramp.db.reading() as session:
        offer_id = (
            await session.execute(select(MentorOffer.id).where(MentorOffer.status == "offered"))
        ).scalar_one()
    await bea.say(f"/mentor accept {offer_id}")  # not Bea's to accept
    bea.expect("I can't find an offer of yours")
    await cai.say(f"/mentor decline {offer_id}")  # in words, where there are no buttons
    cai.expect("No problem")
    bea.expect("**Eve** would like a mentor")
    await cai.press(offer.choices[0].id)  # the old offer's Accept, tapped late
    cai.expect("You've already declined that one")
    await bea.press("accept")
    bea.expect("Meet Eve")
    async with onramp.db.reading() as session:
        mentorships = (await session.execute(select(Mentorship))).scalars().all()
    assert len(mentorships) == 2


async def test_sign_up_refuses_impossible_capacities_and_unknown_time_zones(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    chat = Chat(memory, user="lee", display_name="Lee")
    await chat.say("/mentor signup")
    chat.skip(2)
    await chat.press("code")
    chat.expect("Which languages")
    await chat.say("1, 3")
    chat.expect("How much have you contributed")
    await chat.say("a few times")  # typed: the label's words
    chat.expect("Which time zone")  # Lee never said
    await chat.say("Xanadu Prime")
    chat.expect("I don't know that time zone")
    await chat.say("Lagos")
    chat.expect("When in your day")
    await chat.say("any")
    chat.expect("How many mentees")
    for wrong in ("0", "10000", "all of them"):
        await chat.say(wrong)
        chat.expect("Please reply with a number from 1 to 4")
    await chat.say("3")
    chat.expect("A sentence or two")
    await chat.say("Backend developer.")
    chat.expect("You're all set as a mentor")
    async with onramp.db.reading() as session:
        profile = (await session.execute(select(MentorProfile))).scalar_one()
        member = await session.get(Member, profile.member_id)
    assert profile.capacity == 3 and profile.languages == ["en", "es"]
    assert (profile.hours_start, profile.hours_end) == (None, None)
    assert member is not None and member.timezone == "Africa/Lagos"
    assert member.profile["experience"] == "some"
    assert "mentor" in member.roles
    await chat.say("/mentor pause")
    chat.expect("Paused")
    nobody = await person(onramp, memory, "kim", "Kim")
    await nobody.say("/mentor pause")
    nobody.expect("You're not signed up as a mentor yet")


async def test_a_check_in_due_in_the_night_waits_for_the_morning_across_a_dst_change(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 3, 5, 4, 0, tzinfo=UTC)  # 23:00 in New York, 4 March
    zoe = await person(onramp, memory, "zoe", "Zoe", timezone="America/New_York")
    await sign_up(zoe)
    ada = await person(
        onramp, memory, "ada", "Ada", timezone="America/New_York", interests=["docs"]
    )
    await ada.say("/mentor")
    ada.skip()
    zoe.expect("would like a mentor")
    await zoe.press("accept")
    zoe.skip()
    ada.skip()
    # Day 3 is 8 March, 04:00 UTC: 23:00 on the 7th in New York, still on standard time (UTC-5).
    # That night the clocks go forward, so 08:00 the next morning is 12:00 UTC, not 13:00.
    await tick(onramp, clock, days=3)
    ada.expect_nothing()
    await tick(onramp, clock, hours=7, minutes=59)
    ada.expect_nothing()
    await tick(onramp, clock, minutes=1)
    assert clock.now == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    ada.expect("How is your mentorship with Zoe going?")
    zoe.expect("How is your mentorship with Ada going?")


def test_quiet_hours_end_at_local_morning_on_both_dst_changes() -> None:
    spring = quiet_until(datetime(2026, 3, 8, 4, 0, tzinfo=UTC), "America/New_York", 21, 8)
    assert spring == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)  # 08:00 EDT
    autumn = quiet_until(datetime(2026, 11, 1, 3, 0, tzinfo=UTC), "America/New_York", 21, 8)
    assert autumn == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)  # 08:00 EST
    # Paris goes back on 25 October 2026: 01:30 UTC is 02:30 CET... still the night.
    paris = quiet_until(datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "Europe/Paris", 21, 8)
    assert paris == datetime(2026, 10, 25, 7, 0, tzinfo=UTC)
    assert quiet_until(datetime(2026, 10, 25, 12, 0, tzinfo=UTC), "Europe/Paris", 21, 8) is None
    assert quiet_until(datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "Mars/Olympus", 21, 8) is None


async def test_after_downtime_check_ins_older_than_the_grace_are_skipped_and_recorded(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    ada, bea, _ = await matched(onramp, memory)
    clock.advance(days=9)  # the bot was down from day 0 to day 9: day 3 is 6 days late
    await tick(onramp, clock)
    ada.expect("How is your mentorship")  # day 7's, two days late: within the 3-day grace
    ada.expect_nothing()
    bea.expect("How is your mentorship")
    bea.expect_nothing()
    async with onramp.db.reading() as session:
        rows = (
            await session.execute(
                select(DueWork).where(DueWork.kind == "mentor.checkin", DueWork.status != "pending")
            )
        ).scalars()
        done = sorted((row.payload["day"], row.status, row.last_error or "") for row in rows)
    assert done == [
        (3, "skipped", "late by 6 days, 0:00:00"),
        (3, "skipped", "late by 6 days, 0:00:00"),
        (7, "done", ""),
        (7, "done", ""),
    ]


def _onramp_cli(*args: str, database: str, clock: FakeClock) -> subprocess.CompletedProcess[str]:
    """`onramp ARGS` at the test's time (tests/bot/onramp_at.py), as the bot's own runtime."""
    return run_module(
        "tests.bot.onramp_at",
        [*clock.argv(), *args],
        cwd=ROOT,
        env={**os.environ, "ONRAMP_DATABASE__URL": database},
        timeout=120,
    )


async def test_onramp_match_offers_the_waiting_and_moves_an_offer_to_a_better_mentor(
    onramp: Onramp, memory: MemoryAdapter, settings: Settings, clock: FakeClock
) -> None:
    bea = await person(onramp, memory, "bea", "Bea")
    await sign_up(bea, topics=("code",), languages=("en",))
    ada = await person(onramp, memory, "ada", "Ada", locale="fr", interests=["docs"])
    await ada.say("/mentor")  # Bea shares no language with Ada: nobody yet
    ada.expect("Personne de disponible")
    cai = await person(onramp, memory, "cai", "Cai", interests=["code", "docs"])
    await cai.say("/mentor")
    cai.skip()
    bea.expect("**Cai** would like a mentor")
    # Two mentors sign up later: one for Ada, and one who fits Cai better than Bea.
    dan = await person(onramp, memory, "dan", "Dan")
    await sign_up(dan, topics=("docs",), languages=("fr",))
    eli = await person(onramp, memory, "eli", "Eli", timezone="Europe/Paris")
    await sign_up(eli, topics=("code", "docs"), languages=("en",))
    quiet = _onramp_cli("match", "--json", database=settings.database.url, clock=clock)
    assert quiet.returncode == 0, quiet.stderr
    rows = json.loads(quiet.stdout)
    assert {(r["newcomer_name"], r["was_name"], r["now_name"]) for r in rows} == {
        ("Ada", None, "Dan"),
        ("Cai", "Bea", "Eli"),  # Eli helps with both of Cai's interests
    }
    await onramp.sender.deliver(None)
    dan.expect("**Ada** would like a mentor", "you both speak French")
    bea.expect("I've found another mentor for the newcomer I asked you about")
    eli.expect("**Cai** would like a mentor", "shared interests: 💻 Code, 📝 Documentation")
    again = _onramp_cli("match", database=settings.database.url, clock=clock)
    assert again.returncode == 0, again.stderr
    assert "Nothing changed" in again.stdout
    async with onramp.db.reading() as session:
        offers = {
            (o.newcomer_id, o.mentor_id, o.status)
            for o in (await session.execute(select(MentorOffer))).scalars()
        }
    assert sorted(status for *_, status in offers) == ["offered", "offered", "withdrawn"]
    await bea.press("accept")  # too late: it went to Eli
    bea.expect("That offer has been withdrawn")


async def test_forgetting_a_mentor_mid_mentorship_tells_the_newcomer_and_looks_again(
    onramp: Onramp, memory: MemoryAdapter, settings: Settings, clock: FakeClock
) -> None:
    ada, _, _ = await matched(onramp, memory)
    cai = await person(onramp, memory, "cai", "Cai")
    await sign_up(cai, topics=("code",))
    eve = await person(onramp, memory, "eve", "Eve", interests=["code"])
    await eve.say("/mentor")
    eve.skip()
    cai.expect("**Eve** would like a mentor")
    result = _onramp_cli(
        "forget", "memory:bea", "--yes", database=settings.database.url, clock=clock
    )
    assert result.returncode == 0, result.stderr
    result = _onramp_cli(
        "forget", "memory:cai", "--yes", database=settings.database.url, clock=clock
    )
    assert result.returncode == 0, result.stderr
    await onramp.sender.deliver(None)
    # (the notice is about Bea, but queued as she is erased: it does not name her either)
    ada.expect("A former member has left the community, so your mentorship has ended")
    async with onramp.db.reading() as session:
        assert (await session.execute(select(Mentorship))).scalars().all() == []
        left = (
            (
                await session.execute(
                    select(DueWork).where(
                        DueWork.kind.like("mentor.%"), DueWork.status == "pending"
                    )
                )
            )
            .scalars()
            .all()
        )
        requests = {
            r.member_id: r.status for r in (await session.execute(select(MentorRequest))).scalars()
        }
    assert left == []  # Bea's check-ins went with her, Ada's were cancelled
    assert sorted(requests.values()) == ["matched", "waiting"]  # Ada's, and Eve's looked again
    await ada.say("/mentor status")
    ada.expect("You have no mentorship at the moment")
    await ada.say("/mentor")
    ada.expect("Nobody who fits is free right now")


async def test_a_mentor_who_sends_stop_hands_their_offer_to_the_next_mentor(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    bea = await person(onramp, memory, "bea", "Bea")
    await sign_up(bea, capacity="3")
    cai = await person(onramp, memory, "cai", "Cai")
    await sign_up(cai)
    ada = await person(onramp, memory, "ada", "Ada", interests=["docs"])
    await ada.say("/mentor")
    ada.skip()
    bea.expect("**Ada** would like a mentor")  # more room than Cai
    await bea.say("/stop")
    bea.expect("you won't hear from me again")
    cai.expect("**Ada** would like a mentor")
    async with onramp.db.reading() as session:
        profile = (
            (await session.execute(select(MentorProfile).order_by(MentorProfile.id)))
            .scalars()
            .first()
        )
        offers = sorted(o.status for o in (await session.execute(select(MentorOffer))).scalars())
    assert profile is not None and profile.paused
    assert offers == ["offered", "withdrawn"]


async def test_a_member_the_platform_gave_no_name_is_someone_in_each_language(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    """No empty gaps where a name goes: "Vous accompagnez  (depuis le 2026-12-06)" was seen."""
    bea = await person(onramp, memory, "bea", "", timezone="Europe/Paris")
    await sign_up(bea, languages=("en", "es"))
    ada = await person(onramp, memory, "ada", "Ada", locale="es", interests=["docs"])
    await ada.say("/mentor")
    ada.skip()  # looking for a mentor
    bea.expect("**Ada**")
    await bea.press("accept")
    ada.expect("¡Buenas noticias! alguien será tu mentor")
    bea.expect("Meet Ada")
    await bea.say("/mentor status")
    async with onramp.db.reading() as session:
        started = (await session.execute(select(Mentorship))).scalar_one().started_at.date()
    bea.expect(f"You are mentoring Ada (since {format_date(started, 'long', locale='en')})")
    await ada.say("/mentor status")
    ada.expect(f"Tu mentor es alguien (desde el {format_date(started, 'long', locale='es')})")
