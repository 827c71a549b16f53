"""What the database holds once one member has been through the sample onboarding."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from storage.models import Answer, FlowRun, Member
from storage.session import Database

# The answers of the journey every platform's end-to-end test takes through the sample flow,
# where the platform does not tell the member's language (WhatsApp, Zulip, the console): the
# language is the first question, then consent.
COMPLETED_ANSWERS = {
    "language": "en",
    "consent": "yes",
    "timezone": "America/Lima",
    "interests": ["docs", "translation"],
    "announcements": "yes",
    "experience": "some",
    "start_here": "done",
    "mentor": "no",
}
# Where the platform told it (Telegram's language_code, Slack's locale): no language question.
COMPLETED_ANSWERS_LANGUAGE_KNOWN = {
    step: answer for step, answer in COMPLETED_ANSWERS.items() if step != "language"
}


async def completed_onboarding(db: Database) -> tuple[Member, dict[str, Any]]:
    """The only member, once their onboarding run is completed, and their answers."""
    async with db.reading() as session:
        member = (await session.execute(select(Member))).scalars().one()
        run = (await session.execute(select(FlowRun))).scalars().one()
        answers = {a.step_id: a.value for a in (await session.execute(select(Answer))).scalars()}
    assert (run.flow_id, run.status) == ("onboarding", "completed")
    return member, answers
