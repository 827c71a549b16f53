"""What happens when a flow's timers come due: a gentle nudge, or the run's expiry."""

from __future__ import annotations

from datetime import datetime

from bot import conversation
from bot.registry import Registry
from bot.turn import Turn
from flows.engine import Remind
from storage.models import DueWork, FlowRun


async def _open_run(turn: Turn, work: DueWork) -> FlowRun | None:
    run = await turn.session.get(FlowRun, work.payload.get("run"))
    if run is None or run.status != "active" or turn.member.opted_out:
        return None
    return run


def _answerable(run: FlowRun, work: DueWork, turn: Turn) -> bool:
    return (
        run.step_id == work.payload.get("step")
        and bool(run.state.get("waiting"))
        and not conversation.is_expired(run, turn.now)
    )


async def nudge(turn: Turn, work: DueWork) -> datetime | None:
    run = await _open_run(turn, work)
    if run is None or not _answerable(run, work, turn):
        return None
    await conversation.continue_flow(turn, run, Remind(run.step_id or ""))
    return None


async def expire(turn: Turn, work: DueWork) -> datetime | None:
    run = await _open_run(turn, work)
    if run is not None and conversation.is_expired(run, turn.now):
        await conversation.expire(turn, run)
    return None


def register(registry: Registry) -> None:
    """A flow's nudge and its expiry, as due work."""
    registry.due("flow.nudge", quiet_hours=True)(nudge)
    registry.due("flow.expire")(expire)
