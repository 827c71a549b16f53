"""The Campaigns page's numbers on a small community built by hand, on SQLite and PostgreSQL.

The period is January and February 2026. Alice, Bob, Erin, Fay and Frank are on Slack, Carol
and Dan on Telegram. `spring_news` (a message) was planned on 10 January, `feedback_survey`
(starting the flow `feedback`) on 1 February, `winter_news` in December, and
`awaiting_approval` was created on 15 February and never planned. Every number expected below
is counted by hand from the rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from storage.health.campaigns import Question, campaigns
from storage.health.types import CampaignResult, Filters, SurveyQuestion
from storage.models import Answer, Campaign, CampaignRecipient, FlowRun, Identity, Member
from storage.session import Database
from tests.storage.rows import add

PERIOD = Filters(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
TELEGRAM = Filters(PERIOD.start, PERIOD.end, platform="telegram")
CHOICES = frozenset({"yes", "no", "somewhat"})
TOPICS = frozenset({"docs", "code", "events"})
# What the content says of the flow's questions, in the flow's order.
QUESTIONS = {
    "feedback": {
        "rating": Question(number=True),
        "useful": Question(choices=CHOICES),
        "topics": Question(choices=TOPICS),
        "comment": Question(),
        "extra": Question(choices=frozenset({"more", "less"})),
    }
}
TYPED = ("great stuff, thanks", "it was fine I guess")  # answers typed as text


def at(month: int, day: int, year: int = 2026) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


async def person(db: Database, name: str, platform: str) -> int:
    joined = at(9, 1, year=2025)
    (member_id,) = await add(
        db, Member(display_name=name, created_at=joined, last_active_at=joined)
    )
    await add(
        db,
        Identity(member_id=member_id, platform=platform, external_id=name, created_at=joined),
    )
    return member_id


def campaign(
    key: str, what: dict[str, Any], created: datetime, planned: datetime | None, state: str
) -> Campaign:
    return Campaign(
        key=key,
        title=key.replace("_", " ").capitalize(),
        definition={"file": {"id": key, **what}, "footers": {}, "community": {}},
        definition_hash="0" * 64,
        state=state,
        created_at=created,
        planned_at=planned,
    )


def recipient(
    campaign_id: int, member_id: int, platform: str, status: str, reason: str | None = None
) -> CampaignRecipient:
    return CampaignRecipient(
        campaign_id=campaign_id,
        member_id=member_id,
        platform=platform,
        status=status,
        reason=reason,
        updated_at=at(1, 10),
    )


async def answers(db: Database, member_id: int, flow: str, given: dict[str, Any]) -> None:
    """A run of `flow` with these answers: step → (value, when)."""
    (run_id,) = await add(
        db,
        FlowRun(
            member_id=member_id,
            flow_id=flow,
            status="completed",
            started_at=at(2, 1),
            updated_at=at(2, 1),
        ),
    )
    await add(
        db,
        *(
            Answer(
                run_id=run_id,
                member_id=member_id,
                flow_id=flow,
                step_id=step,
                value=value,
                answered_at=when,
            )
            for step, (value, when) in given.items()
        ),
    )


async def community(db: Database) -> None:
    alice, bob, erin, fay, frank = [
        await person(db, name, "slack") for name in ("Alice", "Bob", "Erin", "Fay", "Frank")
    ]
    carol, dan = [await person(db, name, "telegram") for name in ("Carol", "Dan")]
    news, survey, winter, _ = await add(
        db,
        campaign("spring_news", {"message": "Hello"}, at(1, 9), at(1, 10), "done"),
        campaign("feedback_survey", {"flow": "feedback"}, at(2, 1), at(2, 1), "done"),
        campaign("winter_news", {"message": "Hi"}, at(12, 1, year=2025), at(12, 1, 2025), "done"),
        campaign("awaiting_approval", {"message": "Soon"}, at(2, 15), None, "awaiting_approval"),
    )
    await add(
        db,
        recipient(news, alice, "slack", "delivered"),
        recipient(news, bob, "slack", "failed", "HTTP 500 from the platform"),
        recipient(news, carol, "telegram", "read"),
        recipient(news, dan, "telegram", "excluded", "no_consent"),
        recipient(news, erin, "slack", "excluded", "opted_out"),
        recipient(news, fay, "slack", "excluded", "no_consent"),
        recipient(survey, alice, "slack", "sent"),
        recipient(survey, carol, "telegram", "sent"),
        recipient(survey, dan, "telegram", "sent"),
        recipient(survey, bob, "slack", "excluded", "opted_out"),
        recipient(winter, alice, "slack", "sent"),
    )
    await answers(
        db,
        alice,
        "feedback",
        {
            "rating": (4, at(2, 2)),
            "useful": ("yes", at(2, 2)),
            "topics": (["docs", "code"], at(2, 2)),
            "comment": (TYPED[0], at(2, 2)),
        },
    )
    await answers(
        db,
        carol,
        "feedback",
        {
            "rating": (5, at(2, 3)),
            "useful": ("somewhat", at(2, 3)),
            "topics": (["docs"], at(2, 3)),
            "comment": ("yes", at(2, 3)),  # typed, though it reads like a choice
        },
    )
    await answers(
        db,
        dan,
        "feedback",
        {
            "rating": (4, at(3, 2)),  # after the period
            # Typed when the question took text; it takes choices now.
            "useful": (TYPED[1], at(2, 4)),
            "comment": ("ok then", at(2, 4)),
        },
    )
    await answers(db, bob, "feedback", {"rating": (1, at(2, 5))})  # left out of the survey
    await answers(db, frank, "feedback", {"useful": ("no", at(2, 5))})  # never sent it
    await answers(db, alice, "welcome", {"name": ("Alice", at(2, 6))})  # no campaign's flow


SPRING = CampaignResult(
    key="spring_news",
    title="Spring news",
    state="done",
    planned_at=at(1, 10),
    reach=3,
    excluded={"no_consent": 2, "opted_out": 1},
    by_platform={
        "slack": {"delivered": 1, "excluded": 2, "failed": 1},
        "telegram": {"excluded": 1, "read": 1},
    },
)
SURVEY = CampaignResult(
    key="feedback_survey",
    title="Feedback survey",
    state="done",
    planned_at=at(2, 1),
    reach=3,
    excluded={"opted_out": 1},
    by_platform={"slack": {"excluded": 1, "sent": 1}, "telegram": {"sent": 2}},
)
WAITING = CampaignResult(
    key="awaiting_approval",
    title="Awaiting approval",
    state="awaiting_approval",
    planned_at=None,
    reach=0,
    excluded={},
    by_platform={},
)


async def test_the_period_s_campaigns_and_survey(db: Database) -> None:
    await community(db)
    async with db.reading() as session:
        found = await campaigns(session, PERIOD, QUESTIONS)
    assert found.campaigns == [WAITING, SURVEY, SPRING]  # newest first; winter_news is older
    assert found.survey == [
        SurveyQuestion("feedback", "rating", 2, {"4": 1, "5": 1}),
        SurveyQuestion("feedback", "useful", 3, {"somewhat": 1, "yes": 1}),
        SurveyQuestion("feedback", "topics", 2, {"code": 1, "docs": 2}),
        SurveyQuestion("feedback", "comment", 3, {}),
        SurveyQuestion("feedback", "extra", 0, {}),
    ]


async def test_without_the_flow_only_numbers_and_lists_show(db: Database) -> None:
    await community(db)
    async with db.reading() as session:
        found = await campaigns(session, PERIOD)
    assert found.survey == [
        SurveyQuestion("feedback", "comment", 3, {}),
        SurveyQuestion("feedback", "rating", 2, {"4": 1, "5": 1}),
        SurveyQuestion("feedback", "topics", 2, {"code": 1, "docs": 2}),
        SurveyQuestion("feedback", "useful", 3, {}),  # a lone string may be typed text
    ]


async def test_the_survey_never_returns_typed_text(db: Database) -> None:
    await community(db)
    async with db.reading() as session:
        shown = [await campaigns(session, PERIOD, QUESTIONS), await campaigns(session, PERIOD)]
    for found in shown:
        comment = next(q for q in found.survey if q.step_id == "comment")
        assert comment.answered == 3 and comment.values == {}  # "yes" typed is not the choice
        for typed in (*TYPED, "ok then", "Alice"):
            assert typed not in repr(found)


async def test_a_platform_keeps_its_own_members(db: Database) -> None:
    await community(db)
    async with db.reading() as session:
        found = await campaigns(session, TELEGRAM, QUESTIONS)
    assert [c.key for c in found.campaigns] == [
        "awaiting_approval",
        "feedback_survey",
        "spring_news",
    ]
    _, survey, spring = found.campaigns
    assert (survey.reach, survey.excluded, survey.by_platform) == (2, {}, {"telegram": {"sent": 2}})
    assert (spring.reach, spring.excluded) == (1, {"no_consent": 1})
    assert spring.by_platform == {"telegram": {"excluded": 1, "read": 1}}
    assert found.survey == [
        SurveyQuestion("feedback", "rating", 1, {"5": 1}),
        SurveyQuestion("feedback", "useful", 2, {"somewhat": 1}),
        SurveyQuestion("feedback", "topics", 1, {"docs": 1}),
        SurveyQuestion("feedback", "comment", 2, {}),
        SurveyQuestion("feedback", "extra", 0, {}),
    ]


async def test_an_empty_community(db: Database) -> None:
    async with db.reading() as session:
        found = await campaigns(session, PERIOD, QUESTIONS)
    assert found.campaigns == [] and found.survey == []
