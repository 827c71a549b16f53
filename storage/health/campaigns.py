"""The Campaigns page: each campaign planned in the period (reach, who was left out and why,
what became of each message per platform), and the answers to the surveys campaigns start.

A survey answer's value is shown only when it is a choice id, a list of them, or a number;
what a member typed is counted and never returned. Whether a question takes choices, a number
or text is the content's to say (`Question`, built by the caller from the flows); without it,
only the stored shape decides: a number or a list of ids shows, a lone string never does,
since a choice id and a word someone typed look alike.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, false, func, null, or_, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from storage.health.periods import during
from storage.health.sql import exists_where, in_scope
from storage.health.types import CampaignResult, Campaigns, Filters, SurveyQuestion
from storage.models import Answer, Campaign, CampaignRecipient
from storage.session import Session
from storage.statuses import RecipientStatus

# The choice ids the content allows (flows/schema.py ChoiceId): the shape of a list's items
# when no flow definition is at hand.
_CHOICE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,23}$")
_NUMBER = ("integer", "real", "number")  # json_type on SQLite, jsonb_typeof on PostgreSQL
_STRING = ("text", "string")


@dataclass(frozen=True)
class Question:
    """What an ask step takes, from the content: one of `choices` (one or several), a number
    (`number`), or, with neither, typed text."""

    choices: frozenset[str] = field(default_factory=frozenset)
    number: bool = False


# flow id → step id → question: every ask step of the flows, in the flows' order.
Questions = Mapping[str, Mapping[str, Question]]


async def campaigns(
    session: Session, filters: Filters, questions: Questions | None = None
) -> Campaigns:
    """Campaigns planned in the period (or created, when never planned), newest first, with
    their recipients among the members the filters keep; and the period's survey answers."""
    return Campaigns(
        campaigns=await _campaigns(session, filters),
        survey=await survey(session, filters, questions),
    )


async def _campaigns(session: Session, filters: Filters) -> list[CampaignResult]:
    planned = func.coalesce(col(Campaign.planned_at), col(Campaign.created_at))
    rows = (
        await session.execute(
            select(
                col(Campaign.id),
                col(Campaign.key),
                col(Campaign.title),
                col(Campaign.state),
                col(Campaign.planned_at),
            )
            .where(during(planned, filters))
            .order_by(planned.desc(), col(Campaign.id).desc())
        )
    ).all()
    if not rows:
        return []
    recipient = CampaignRecipient
    ids, kept = [row.id for row in rows], in_scope(filters, col(recipient.member_id))
    # Two counts, each read in the order of ix_campaign_recipient_outcome: per platform and
    # status, then the exclusions per reason (a failure's reason may be any error text, so
    # only exclusions are grouped by theirs).
    statuses = (
        select(
            col(recipient.campaign_id), col(recipient.status), col(recipient.platform), func.count()
        )
        .where(col(recipient.campaign_id).in_(ids), kept)
        .group_by(col(recipient.campaign_id), col(recipient.status), col(recipient.platform))
    )
    reasons = (
        select(col(recipient.campaign_id), col(recipient.reason), func.count())
        .where(
            col(recipient.campaign_id).in_(ids),
            col(recipient.status) == RecipientStatus.EXCLUDED,
            kept,
        )
        .group_by(col(recipient.campaign_id), col(recipient.reason))
    )
    reach: Counter[int] = Counter()
    left_out: dict[int, Counter[str]] = {}
    by_platform: dict[int, dict[str, Counter[str]]] = {}
    for campaign_id, status, platform, n in await session.execute(statuses):
        by_platform.setdefault(campaign_id, {}).setdefault(platform, Counter())[status] += n
        if status != RecipientStatus.EXCLUDED:
            reach[campaign_id] += n
    for campaign_id, reason, n in await session.execute(reasons):
        left_out.setdefault(campaign_id, Counter())[reason or "unknown"] += n
    return [
        CampaignResult(
            key=row.key,
            title=row.title,
            state=str(row.state),
            planned_at=row.planned_at,
            reach=reach[row.id],
            excluded=dict(sorted(left_out.get(row.id, Counter()).items())),
            by_platform={
                platform: dict(sorted(statuses.items()))
                for platform, statuses in sorted(by_platform.get(row.id, {}).items())
            },
        )
        for row in rows
    ]


async def survey(
    session: Session, filters: Filters, questions: Questions | None = None
) -> list[SurveyQuestion]:
    """For every flow a campaign starts, each question's answers given in the period by the
    campaign's recipients (kept by the filters) after the campaign was made; with `questions`,
    every ask step is listed, answered or not."""
    started = await _survey_flows(session)
    if not started:
        return []
    dialect = session.get_bind().dialect.name
    kind = func.json_type if dialect == "sqlite" else func.jsonb_typeof
    shape = kind(col(Answer.value))
    # Only the started flows' questions: every answer read is of one of those flows.
    asked = {flow: steps for flow, steps in (questions or {}).items() if flow in started}
    shown = _shown(shape, asked)
    recipient = CampaignRecipient
    reached = exists_where(
        col(recipient.member_id) == col(Answer.member_id),
        col(recipient.status) != RecipientStatus.EXCLUDED,
        col(recipient.campaign_id) == col(Campaign.id),
        col(Answer.answered_at) >= col(Campaign.created_at),
        or_(
            *(
                and_(col(Answer.flow_id) == flow, col(Campaign.id).in_(ids))
                for flow, ids in started.items()
            )
        ),
    )
    # The value leaves the database only where it may be shown; grouped in an outer query so
    # PostgreSQL's GROUP BY need not match a CASE holding bound parameters.
    each = (
        select(
            col(Answer.flow_id).label("flow_id"),
            col(Answer.step_id).label("step_id"),
            case((shown, col(Answer.value)), else_=null()).label("value"),
        )
        .where(
            col(Answer.flow_id).in_(list(started)),
            during(col(Answer.answered_at), filters),
            in_scope(filters, col(Answer.member_id)),
            reached,
        )
        .subquery()
    )
    grouped = select(each.c.flow_id, each.c.step_id, each.c.value, func.count()).group_by(
        each.c.flow_id, each.c.step_id, each.c.value
    )
    answered: Counter[tuple[str, str]] = Counter()
    values: dict[tuple[str, str], Counter[str]] = {}
    for flow, step, value, n in await session.execute(grouped):
        answered[flow, step] += n
        counted = values.setdefault((flow, step), Counter())
        question = (questions or {}).get(flow, {}).get(step)
        for key in _values(value, question):
            counted[key] += n
    steps = [(flow, step) for flow in sorted(started) for step in (questions or {}).get(flow, {})]
    steps += sorted(key for key in answered if key not in set(steps))
    return [
        SurveyQuestion(
            flow, step, answered[flow, step], dict(sorted(values.get((flow, step), {}).items()))
        )
        for flow, step in steps
    ]


async def _survey_flows(session: Session) -> dict[str, list[int]]:
    """flow id → the campaigns that start it (their frozen file's `flow`)."""
    started: dict[str, list[int]] = {}
    for campaign_id, definition in await session.execute(
        select(col(Campaign.id), col(Campaign.definition))
    ):
        file = definition.get("file") if isinstance(definition, dict) else None
        flow = file.get("flow") if isinstance(file, dict) else None
        if isinstance(flow, str):
            started.setdefault(flow, []).append(campaign_id)
    return started


def _shown(shape: Any, questions: Questions) -> ColumnElement[bool]:
    """Where an answer's value may leave the database: a number or a list anywhere but a known
    text question; a lone string only in a known choice question."""

    def at(kept: Any) -> ColumnElement[bool]:
        """The answers to the questions `kept` accepts, one IN list per flow."""
        return or_(
            false(),
            *(
                and_(col(Answer.flow_id) == flow, col(Answer.step_id).in_(chosen))
                for flow, steps in questions.items()
                if (chosen := [step for step, question in steps.items() if kept(question)])
            ),
        )

    choice = at(lambda question: bool(question.choices))
    number = at(lambda question: question.number)
    unknown = ~at(lambda question: True)
    return or_(
        and_(choice, shape.in_((*_STRING, "array"))),
        and_(number, shape.in_(_NUMBER)),
        and_(unknown, shape.in_((*_NUMBER, "array"))),
    )


def _values(value: Any, question: Question | None) -> list[str]:
    """The keys an answer counts under: its choice ids, or its number; none for text. Checked
    again here, so a question whose choices changed never shows an old typed answer."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        number = question is None or question.number
        return [_number(value)] if number else []
    items = value if isinstance(value, list) else [value]
    if question is not None:
        return [item for item in items if isinstance(item, str) and item in question.choices]
    if isinstance(value, list) and all(isinstance(i, str) and _CHOICE_ID.match(i) for i in items):
        return list(items)
    return []


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
