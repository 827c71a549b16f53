"""Running flows for a member: start, continue, pause and resume, applying engine outputs."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.messages import Choice, TemplateRef
from bot.turn import Turn, community_variables
from flows import timezones
from flows.engine import (
    CLARIFY,
    AwaitInput,
    Context,
    FlowInput,
    Outcome,
    Prompt,
    Resume,
    RunAction,
    RunState,
    SaveAnswer,
    SetProfile,
    Start,
    StepFailed,
    advance,
)
from flows.markup import Markdown
from flows.schema import CONSENT_PREFIX, Flow
from storage import activity, consent, due, loading, runs, writeback
from storage.models import FlowRun
from storage.privacy import pseudonym
from storage.statuses import RunStatus

log = logging.getLogger("onramp.flows")

COLUMN_FIELDS = ("locale", "timezone", "display_name")
ANSWERS = "answers"  # the consent purpose of keeping a member's answers after a run


def nudge_key(run: FlowRun) -> str:
    return f"flow.nudge:{run.id}"


def expire_key(run: FlowRun) -> str:
    return f"flow.expire:{run.id}"


async def start_flow(turn: Turn, flow: Flow, context: Mapping[str, Any] | None = None) -> FlowRun:
    """Begin `flow`, its texts seeing `context` as `{{ context.* }}`. An unfinished run of
    another flow is paused and resumed afterwards."""
    current = None if turn.newcomer else await runs.current_run(turn.session, _member_id(turn))
    turn.newcomer = False
    if current is not None:
        current.status = RunStatus.CANCELLED if current.flow_id == flow.id else RunStatus.PAUSED
        current.updated_at = turn.now
        if current.status == RunStatus.CANCELLED:
            current.finished_at = turn.now
        await due.cancel(turn.session, nudge_key(current))
        # Written now, as a flush did: a flow that ends within this turn looks for the run it
        # paused (`last_paused_run`) before the turn writes its changes back.
        await writeback.write_back(turn.session, keep=True)
    run = FlowRun(
        member_id=_member_id(turn),
        flow_id=flow.id,
        status=RunStatus.ACTIVE,
        started_at=turn.now,
        updated_at=turn.now,
        expires_at=turn.now + flow.expire_after if flow.expire_after else None,
        state={"context": dict(context)} if context else {},
    )
    await loading.add_new(turn.session, run)
    if run.expires_at is not None:
        await turn.schedule("flow.expire", expire_key(run), run.expires_at, {"run": run.id})
    await _apply(turn, run, flow, _advance(turn, run, flow, RunState(), Start()))
    return run


async def continue_flow(turn: Turn, run: FlowRun, given: FlowInput) -> None:
    flow = turn.content.flows.get(run.flow_id)
    if flow is None:  # the flow was removed from content since this run began
        await _close(turn, run, RunStatus.CANCELLED)
        return
    state = RunState(
        run.step_id,
        await runs.answers_of(turn.session, _run_id(run)),
        waiting=bool(run.state.get("waiting")),
        pending=run.state.get("pending"),
    )
    await _apply(turn, run, flow, _advance(turn, run, flow, state, given))


def _advance(turn: Turn, run: FlowRun, flow: Flow, state: RunState, given: FlowInput) -> Outcome:
    try:
        return advance(flow, state, given, _context(turn, run))
    except StepFailed as failed:
        # Where, for the operator (the member is told "something went wrong" by the
        # dispatcher); `onramp check` then names the problem in the content.
        log.error(
            "a flow step failed",
            extra={
                "flow": failed.flow,
                "step": failed.step,
                "locale": failed.locale,
                "variable": failed.variable,
                "error": failed.error,
                "member": pseudonym(turn.member.id or 0),
            },
        )
        raise


def _context(turn: Turn, run: FlowRun) -> Context:
    return Context(
        turn.profile(),
        turn.content.community.default_locale,
        community_variables(turn.content),
        run.state.get("context") or {},
        run.state.get("chosen") or {},
        turn.content.words,
        turn.now,
    )


async def _apply(turn: Turn, run: FlowRun, flow: Flow, outcome: Outcome) -> None:
    nudging = bool(run.state.get("nudging"))
    turn.run, turn.run_answers = run, outcome.state.answers
    turn.flow_moved = True
    lead = None  # a time zone confirmed: said at the top of the message that follows
    for output in outcome.outputs:
        match output:
            case Prompt(kind="zone_confirmed"):
                lead = turn.system_text(
                    "timezone_confirmed",
                    zone=timezones.describe(output.text, turn.locale, turn.now, with_time=False),
                    time=timezones.local_time(output.text, turn.locale, turn.now),
                )
            case Prompt():
                _say(turn, output, lead)
                lead = None
            case SaveAnswer(step_id=step_id, value=value):
                await runs.save_answer(turn.session, run, step_id, value, turn.now)
            case SetProfile(field=name, value=value):
                await _set_profile(turn, flow, name, value)
            case RunAction(name=name, parameters=parameters):
                spec = turn.registry.actions.get(name)
                if spec is None:
                    raise LookupError(f"action {name!r} is not registered")
                await spec.handler(turn, spec.parameters.model_validate(dict(parameters)))
            case AwaitInput():
                nudging = await _await_input(turn, run, flow, output)
    if lead is not None:
        turn.reply(lead)
    run.step_id = outcome.state.step_id
    pending = dict(outcome.state.pending) if outcome.state.pending else None
    run.state = {
        **run.state,
        "waiting": outcome.state.waiting,
        "nudging": nudging,
        "pending": pending,
    }
    run.updated_at = turn.now
    if outcome.state.finished:
        await _close(turn, run, RunStatus.COMPLETED)


def _say(turn: Turn, prompt: Prompt, lead: str | None = None) -> None:
    text = prompt.text
    choices = tuple(Choice(cid, label) for cid, label in prompt.choices)
    if prompt.kind == "retry" and prompt.part is not None:
        text = turn.system_text("invalid_choice_part", part=prompt.part)
    elif prompt.kind == "retry" and prompt.reason:
        text = turn.system_text(prompt.reason, prompt.reason_count)
    elif prompt.kind == "nudge":
        text = f"{turn.system_text('reminder')}\n\n{text}"
    elif prompt.kind == "did_you_mean":  # the label is the content's own Markdown
        text = turn.system_text("did_you_mean", option=Markdown(prompt.text))
        choices = (
            Choice(f"{CLARIFY}yes", turn.system_text("answer_yes")),
            Choice(f"{CLARIFY}no", turn.system_text("answer_no")),
        )
    elif prompt.kind == "which_zone":
        text = turn.system_text("which_timezone")
        choices = (*choices, Choice(f"{CLARIFY}none", turn.system_text("none_of_these")))
    short = prompt.short
    if prompt.optional and prompt.kind in ("ask", "nudge", "retry"):
        hint = turn.system_text("skip_hint")
        text, short = f"{text}\n\n{hint}", f"{short}\n\n{hint}" if short else None
    if lead is not None:
        text, short = f"{lead}\n\n{text}", f"{lead}\n\n{short}" if short else None
    template = None
    if prompt.template is not None:
        name, language, parameters = prompt.template
        template = TemplateRef(name, language or turn.locale, parameters)
    turn.reply(
        text,
        choices=choices,
        multiple=prompt.multiple,
        step_id=prompt.step_id if choices or prompt.input else None,
        template=template,
        short=short,
    )


async def _set_profile(turn: Turn, flow: Flow, name: str, value: object) -> None:
    member = turn.member
    if name == "consent":
        member.consent = bool(value)
        member.consent_at = turn.now
        turn.audit("consent.given" if value else "consent.declined")
        if member.created_at is not None:  # a member of days ago: their funnel day moved
            await activity.consented(turn.session, member.created_at, turn.now)
    elif name.startswith(CONSENT_PREFIX):  # consent for one purpose: consent.announcements
        purpose = name.removeprefix(CONSENT_PREFIX)
        await record_consent(turn, purpose, bool(value), source=flow.id)
    elif name in COLUMN_FIELDS:
        setattr(member, name, None if value in (None, "") else str(value))
    else:
        member.profile = {**member.profile, name: value}


async def record_consent(turn: Turn, purpose: str, granted: bool, source: str) -> bool:
    """Record the member's consent for `purpose` (from a flow, or a command), audited as
    `consent.<purpose>.given` or `.withdrawn` when it changed; True if it did."""
    changed = await consent.set_consent(
        turn.session, _member_id(turn), purpose, granted, turn.now, source
    )
    if changed:
        turn.audit(f"consent.{purpose}.{'given' if granted else 'withdrawn'}", source=source)
    return changed


async def answers_kept(turn: Turn) -> bool:
    """Whether the member's answers are kept once a run ends (the `answers` purpose): what
    they chose in /privacy, else their answer to the onboarding's data question (`consent`),
    else community.yaml's default."""
    said = await consent.said(turn.session, _member_id(turn), ANSWERS)
    if said is not None:
        return said
    if turn.member.consent is not None:
        return turn.member.consent
    return turn.content.community.consent_default(ANSWERS)


async def _await_input(turn: Turn, run: FlowRun, flow: Flow, waiting: AwaitInput) -> bool:
    """Set the question's timers; True while a nudge is scheduled."""
    nudging = waiting.timeout is not None
    if waiting.timeout is not None:
        await turn.schedule(
            "flow.nudge",
            nudge_key(run),
            turn.now + waiting.timeout,
            {"run": run.id, "step": waiting.step_id},
        )
    elif run.state.get("nudging"):
        await due.cancel(turn.session, nudge_key(run))
    # The run expires at the flow's own limit, or sooner while this question has a shorter one.
    candidates = [run.started_at + flow.expire_after] if flow.expire_after else []
    if waiting.expire_after is not None:
        candidates.append(turn.now + waiting.expire_after)
    expires_at = min(candidates) if candidates else None
    if expires_at != run.expires_at:
        run.expires_at = expires_at
        if expires_at is None:
            await due.cancel(turn.session, expire_key(run))
        else:
            await turn.schedule("flow.expire", expire_key(run), expires_at, {"run": run.id})
    return nudging


async def _close(turn: Turn, run: FlowRun, status: RunStatus) -> None:
    run.status, run.finished_at, run.updated_at = status, turn.now, turn.now
    await due.cancel(turn.session, nudge_key(run))
    await due.cancel(turn.session, expire_key(run))
    if not await answers_kept(turn):
        # The member declined, or withdrew `answers` since: keep nothing they answered, and no
        # profile beyond the refusal. The run needed its answers until now (its branches).
        await runs.erase_answers(turn.session, _run_id(run))
        turn.member.profile = {}
    if status == RunStatus.COMPLETED:
        await activity.finished(turn.session, run.member_id, run.flow_id, turn.now)
        if turn.member.consent is not False:  # nothing more is kept about one who declined
            await writeback.write_back(turn.session, keep=True)  # the hooks count completed runs
            for hook in turn.registry.completion_hooks:
                await hook(turn, run)
        paused = await runs.last_paused_run(turn.session, _member_id(turn))
        if paused is not None:
            paused.status, paused.updated_at = RunStatus.ACTIVE, turn.now
            await continue_flow(turn, paused, Resume())


async def expire(turn: Turn, run: FlowRun) -> None:
    await _close(turn, run, RunStatus.EXPIRED)


async def cancel(turn: Turn, run: FlowRun) -> None:
    """End a run the member will not finish (a feature took its question back)."""
    await _close(turn, run, RunStatus.CANCELLED)
    await turn.session.flush()  # queries that follow in this turn see it closed


async def ask_again(turn: Turn, before: FlowRun | None) -> None:
    """After a command answered in the member's private chat: the question their run still
    waits for, asked again there so they do not lose their place. Nothing if the command
    answered only in a group (their chat still ends with the question), if it started,
    resumed or ended a flow itself (that said where they are), after /stop, or once the run
    has run out of time. `before` is their run as the command found it: with none, and no
    flow moved, nothing can be waiting, so the run is not read again (a kudos costs no query)."""
    if before is None or turn.flow_moved or turn.newcomer or turn.member.opted_out:
        return
    if not turn.spoke_privately():
        return
    run = await runs.current_run(turn.session, _member_id(turn))
    if run is not None and run.state.get("waiting") and not is_expired(run, turn.now):
        await continue_flow(turn, run, Resume())


async def chosen_by_member(turn: Turn, name: str, value: object) -> None:
    """The member set profile field `name` themselves (`/language fr`): in each of their
    unfinished runs, a question whose answer would only set that field is answered already."""
    if turn.newcomer:
        return
    for run in await runs.open_runs(turn.session, _member_id(turn)):
        run.state = {**run.state, "chosen": {**(run.state.get("chosen") or {}), name: value}}


async def resume_paused(turn: Turn) -> None:
    """With no run active, carry on with the one paused last, asking its question again."""
    if await runs.current_run(turn.session, _member_id(turn)) is not None:
        return
    paused = await runs.last_paused_run(turn.session, _member_id(turn))
    if paused is not None:
        paused.status, paused.updated_at = RunStatus.ACTIVE, turn.now
        await continue_flow(turn, paused, Resume())


def is_expired(run: FlowRun, now: datetime) -> bool:
    return run.expires_at is not None and run.expires_at <= now


def _member_id(turn: Turn) -> int:
    assert turn.member.id is not None
    return turn.member.id


def _run_id(run: FlowRun) -> int:
    assert run.id is not None
    return run.id
