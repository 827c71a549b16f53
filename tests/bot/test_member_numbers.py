"""Numbers members type in commands: "²" passed `str.isdigit()` and then `int()` raised, so
`/mentor accept ²` failed every time it was delivered. Now a command's number is read by
`flows.numbers` (ASCII digits 0-9), and anything else gets a clear answer, never a failure."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from adapters.memory import MemoryAdapter
from bot.runtime import Onramp
from storage.models import FailedEvent, MentorProfile
from tests.bot.test_mentorship import matched, person

HOW_TO_WRITE = "with the digits 0 to 9"


async def _nothing_failed(onramp: Onramp) -> None:
    async with onramp.db.reading() as session:
        assert (await session.execute(select(FailedEvent))).scalars().all() == []


@pytest.mark.parametrize("typed", ["²", "³", "٣", "３", "①"])
async def test_an_offer_number_in_other_digits_is_explained(
    onramp: Onramp, memory: MemoryAdapter, typed: str
) -> None:
    _, bea, _ = await matched(onramp, memory)
    for word in ("accept", "decline"):
        await bea.say(f"/mentor {word} {typed}")
        bea.expect(HOW_TO_WRITE, f"/mentor {word} 12")
    await bea.say("/mentor accept 99999999999999999999999")  # a number, but none of hers
    bea.expect("I can't find an offer of yours with that number")
    await _nothing_failed(onramp)


async def test_which_mentorship_to_end_is_a_number_from_the_list(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    ada, bea, _ = await matched(onramp, memory)  # Bea mentors Ada, and now Eve too
    eve = await person(onramp, memory, "eve", "Eve", interests=["docs"])
    await eve.say("/mentor")
    eve.skip()
    bea.expect("**Eve** would like a mentor")
    await bea.press("accept")
    bea.skip()
    await bea.say("/mentor end ²")
    bea.expect(HOW_TO_WRITE, "/mentor end 2")
    await bea.say("/mentor end 3")
    bea.expect("You have 2 mentorships")
    await bea.say("/mentor end two")
    bea.expect("You have 2 mentorships")
    await bea.say("/mentor end 1")
    bea.expect("your mentorship has ended")
    ada.skip(len(ada.unread()) - 1)
    ada.expect("Bea has ended your mentorship")
    await _nothing_failed(onramp)


async def test_a_kudos_number_in_other_digits_is_explained(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    zoe = await person(onramp, memory, "zoe", "Zoe", roles=["manager"])
    await zoe.say("/kudos revoke ¹")
    zoe.expect(HOW_TO_WRITE, "/kudos revoke 12")
    await zoe.say("/kudos revoke #٣")
    zoe.expect(HOW_TO_WRITE)
    await zoe.say("/kudos revoke 1234567890123")
    zoe.expect("There is no kudos 1234567890123 to revoke")
    await _nothing_failed(onramp)


async def test_a_capacity_typed_in_other_digits_is_read(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    """An answer is read forgivingly: "٢" (Arabic-Indic two) picks the option numbered 2."""
    cai = await person(onramp, memory, "cai", "Cai")
    await cai.say("/mentor signup")
    cai.expect("Thank you for offering to mentor")
    cai.expect("What can you help newcomers with?")
    await cai.press("docs")
    cai.expect("Which languages")
    await cai.press("en")
    cai.expect("How much have you contributed")  # the sign-up's experience question
    await cai.press("some")
    cai.expect("When in your day")
    await cai.say("٢")  # the second window of the day
    cai.expect("How many mentees")
    await cai.say("３")  # a full-width three
    cai.expect("A sentence or two about yourself")
    await cai.say("Docs, mostly.")
    cai.expect("You're all set as a mentor")
    async with onramp.db.reading() as session:
        profile = (await session.execute(select(MentorProfile))).scalar_one()
    assert (profile.capacity, profile.hours_start, profile.hours_end) == (3, 11, 17)
    await _nothing_failed(onramp)
