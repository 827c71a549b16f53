"""An offer tells a mentor only reasons that hold: what each experience answer means comes from
matching.yaml, and "new to open source, and you know your way around" needs a newcomer who
said they are new and a mentor who said they are experienced."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from adapters.memory import MemoryAdapter
from bot.mentorship.people import as_mentor, as_newcomer
from bot.runtime import Onramp
from flows.content import ContentTree, load_tree_or_raise
from flows.feature_settings import Experience
from storage.models import Member, MentorProfile
from tests.bot.test_mentorship import person, sign_up
from tests.conftest import CONTENT
from tests.features import ACTIONS

EXPERIENCE_REASON = "they are new to open source, and you know your way around"


@pytest.fixture(scope="module")
def content() -> ContentTree:
    return load_tree_or_raise(CONTENT, actions=ACTIONS)


def _member(answer: str | None) -> Member:
    profile = {} if answer is None else {"experience": answer}
    return Member(id=1, locale="en", timezone="Europe/Paris", profile=profile)


@pytest.mark.parametrize(
    ("answer", "level"),
    [("new", 0), ("some", 1), ("experienced", 2), (None, None), ("lots", None), ("", None)],
)
def test_the_matcher_sees_each_answer_as_its_level(
    content: ContentTree, answer: str | None, level: int | None
) -> None:
    member = _member(answer)
    assert as_newcomer(member, content).experience == level
    profile = MentorProfile(member_id=1, languages=["en"], capacity=2)
    levels = content.matching.experience
    assert as_mentor(profile, member, 0, False, levels).experience == level


def test_a_community_names_its_own_answers() -> None:
    levels = Experience(new=("first_time",), some=("a_few", "several"), experienced=("lots",))
    answers = ("first_time", "a_few", "several", "lots", "new", None)
    assert [levels.level(answer) for answer in answers] == [0, 1, 1, 2, None, None]


ANSWERS = ("new", "some", "experienced", None)  # None: never answered


async def _offer_to(
    onramp: Onramp, memory: MemoryAdapter, newcomer: str | None, mentor: str | None
) -> str:
    """The offer a mentor who answered `mentor` gets about a newcomer who answered
    `newcomer` (None: a mentor who signed up before the question was asked)."""
    bea = await person(onramp, memory, "bea", "Bea")
    await sign_up(bea, experience=mentor or "experienced")
    if mentor is None:
        async with onramp.db.transaction() as session:
            found = await session.execute(select(Member).where(Member.display_name == "Bea"))
            row = found.scalar_one()
            row.profile = {k: v for k, v in row.profile.items() if k != "experience"}
    answered = {} if newcomer is None else {"experience": newcomer}
    ada = await person(onramp, memory, "ada", "Ada", interests=["docs"], **answered)
    await ada.say("/mentor")
    ada.skip()
    return bea.expect("**Ada** would like a mentor").text


@pytest.mark.parametrize(("newcomer", "mentor"), list(itertools.product(ANSWERS, ANSWERS)))
async def test_an_offer_states_the_experience_reason_only_when_it_holds(
    onramp: Onramp, memory: MemoryAdapter, newcomer: str | None, mentor: str | None
) -> None:
    offer = await _offer_to(onramp, memory, newcomer, mentor)
    # the other reasons hold for every pair: both speak English and French, both are in
    # Paris with evening hours, and both picked documentation
    for reason in ("you both speak", "hours a day when you are both around", "Documentation"):
        assert reason in offer, offer
    assert (EXPERIENCE_REASON in offer) == (newcomer == "new" and mentor == "experienced"), offer


async def test_no_hours_together_are_claimed_for_a_newcomer_who_gave_no_time_zone(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    bea = await person(onramp, memory, "bea", "Bea")
    await sign_up(bea)
    ada = await person(onramp, memory, "ada", "Ada", interests=["docs"], experience="new")
    async with onramp.db.transaction() as session:
        found = await session.execute(select(Member).where(Member.display_name == "Ada"))
        found.scalar_one().timezone = None
    await ada.say("/mentor")
    ada.skip()
    offer = bea.expect("**Ada** would like a mentor", "you both speak", EXPERIENCE_REASON)
    assert "both around" not in offer.text
