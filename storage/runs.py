"""Flow runs and their answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Answer, FlowRun


async def current_run(session: AsyncSession, member_id: int) -> FlowRun | None:
    statement = select(FlowRun).where(FlowRun.member_id == member_id, FlowRun.status == "active")
    return (await session.execute(statement.order_by(FlowRun.id.desc()))).scalars().first()


async def last_paused_run(session: AsyncSession, member_id: int) -> FlowRun | None:
    statement = select(FlowRun).where(FlowRun.member_id == member_id, FlowRun.status == "paused")
    return (await session.execute(statement.order_by(FlowRun.id.desc()))).scalars().first()


async def answers_of(session: AsyncSession, run_id: int) -> dict[str, Any]:
    result = await session.execute(
        select(Answer.step_id, Answer.value).where(Answer.run_id == run_id)
    )
    return {step_id: value for step_id, value in result.all()}


async def save_answer(
    session: AsyncSession, run: FlowRun, step_id: str, value: Any, at: datetime
) -> None:
    assert run.id is not None
    changed = await session.execute(
        update(Answer)
        .where(Answer.run_id == run.id, Answer.step_id == step_id)
        .values(value=value, answered_at=at)
    )
    if changed.rowcount == 0:
        session.add(
            Answer(
                run_id=run.id,
                member_id=run.member_id,
                flow_id=run.flow_id,
                step_id=step_id,
                value=value,
                answered_at=at,
            )
        )


async def erase_answers(session: AsyncSession, run_id: int) -> None:
    await session.execute(delete(Answer).where(Answer.run_id == run_id))


async def end_runs(session: AsyncSession, member_id: int, status: str, at: datetime) -> None:
    """Close every open run of a member (active or paused)."""
    await session.execute(
        update(FlowRun)
        .where(FlowRun.member_id == member_id, FlowRun.status.in_(("active", "paused")))
        .values(status=status, finished_at=at, updated_at=at)
    )
