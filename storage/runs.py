"""Flow runs and their answers."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, select, update

from storage import loading
from storage.models import Answer, FlowRun
from storage.session import Session, dialect_insert
from storage.statuses import RunStatus

# A run not finished yet: the one being answered, or one waiting for it to end.
OPEN = (RunStatus.ACTIVE, RunStatus.PAUSED)

# Statements of the hot path are built once; only their parameters change per event.
_CURRENT_RUN = (
    select(FlowRun)
    .where(FlowRun.member_id == bindparam("member_id"), FlowRun.status == RunStatus.ACTIVE)
    .order_by(FlowRun.id.desc())
    .limit(1)
)
_ANSWERS = select(Answer.step_id, Answer.value).where(Answer.run_id == bindparam("run_id"))
_LAST_PAUSED_RUN = (
    select(FlowRun)
    .where(FlowRun.member_id == bindparam("member_id"), FlowRun.status == bindparam("paused"))
    .order_by(FlowRun.id.desc())
    .limit(1)
)


@cache
def _save_answer(dialect: str) -> Any:
    statement = dialect_insert(dialect)(Answer.__table__)
    return statement.on_conflict_do_update(
        index_elements=["run_id", "step_id"],
        set_={"value": statement.excluded.value, "answered_at": statement.excluded.answered_at},
    )


async def current_run(session: Session, member_id: int) -> FlowRun | None:
    run: FlowRun | None = await loading.one(session, _CURRENT_RUN, {"member_id": member_id})
    return run


async def last_paused_run(session: Session, member_id: int) -> FlowRun | None:
    params = {"member_id": member_id, "paused": RunStatus.PAUSED}
    run: FlowRun | None = await loading.one(session, _LAST_PAUSED_RUN, params)
    return run


async def answers_of(session: Session, run_id: int) -> dict[str, Any]:
    result = await session.core(_ANSWERS, {"run_id": run_id})
    return {step_id: value for step_id, value in result.all()}


async def save_answer(
    session: Session, run: FlowRun, step_id: str, value: Any, at: datetime
) -> None:
    assert run.id is not None
    await session.core(
        _save_answer(session.get_bind().dialect.name),
        {
            "run_id": run.id,
            "member_id": run.member_id,
            "flow_id": run.flow_id,
            "step_id": step_id,
            "value": value,
            "answered_at": at,
        },
    )


async def erase_answers(session: Session, run_id: int) -> None:
    await session.execute(delete(Answer).where(Answer.run_id == run_id))


async def end_runs(session: Session, member_id: int, status: RunStatus, at: datetime) -> None:
    """Close every open run of a member (active or paused)."""
    await session.execute(
        update(FlowRun)
        .where(FlowRun.member_id == member_id, FlowRun.status.in_(OPEN))
        .values(status=status, finished_at=at, updated_at=at)
    )


async def open_runs(session: Session, member_id: int) -> list[FlowRun]:
    """The member's unfinished runs (active or paused), of every flow."""
    statement = select(FlowRun).where(FlowRun.member_id == member_id, FlowRun.status.in_(OPEN))
    return list((await session.execute(statement.order_by(FlowRun.id))).scalars())


async def open_runs_of(session: Session, member_id: int, flow_id: str) -> list[FlowRun]:
    """The member's unfinished runs (active or paused) of one flow."""
    statement = select(FlowRun).where(
        FlowRun.member_id == member_id,
        FlowRun.flow_id == flow_id,
        FlowRun.status.in_(OPEN),
    )
    return list((await session.execute(statement.order_by(FlowRun.id))).scalars())


async def erase_finished_answers(session: Session, member_id: int) -> int:
    """Delete the member's answers to runs that have ended (an open run still branches on
    its own, until it ends); how many went."""
    still_open = select(FlowRun.id).where(FlowRun.member_id == member_id, FlowRun.status.in_(OPEN))
    result = await session.execute(
        delete(Answer).where(Answer.member_id == member_id, Answer.run_id.not_in(still_open))
    )
    return int(getattr(result, "rowcount", 0) or 0)
