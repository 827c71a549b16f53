"""The flow interpreter: a pure function from (flow, run state, input) to (state, outputs).

It reads no clock, touches no database and knows no platform. The core stores the new state,
turns prompts into outgoing messages and runs requested actions, all in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from jinja2 import UndefinedError

from flows import answers as parse
from flows.conditions import holds
from flows.engine_types import (
    AskKind,
    AwaitInput,
    Context,
    FlowInput,
    Outcome,
    Output,
    Pick,
    Prompt,
    PromptKind,
    Remind,
    Reply,
    Resume,
    RunAction,
    RunState,
    SaveAnswer,
    SetProfile,
    Start,
)
from flows.numbers import whole_number
from flows.schema import (
    ActionStep,
    AskStep,
    BranchStep,
    EndStep,
    Flow,
    GotoStep,
    SayStep,
    SetStep,
    Step,
    Text,
)
from flows.text import render, render_template

# The interpreter's interface: `advance`, and the types it takes and gives back (defined in
# flows/engine_types.py, named here too so the core imports the engine alone).
__all__ = [
    "CLARIFY",
    "END",
    "MAX_STEPS_PER_TURN",
    "WHOLE_ANSWER",
    "AwaitInput",
    "Context",
    "FlowInput",
    "FlowLoopError",
    "Outcome",
    "Output",
    "Pick",
    "Prompt",
    "PromptKind",
    "Remind",
    "Reply",
    "Resume",
    "RunAction",
    "RunState",
    "SaveAnswer",
    "SetProfile",
    "Start",
    "StepFailed",
    "advance",
]

END = "end"
MAX_STEPS_PER_TURN = 200
WHOLE_ANSWER = re.compile(r"^\{\{\s*answers\.([a-z][a-z0-9_]*)\s*\}\}$")
# Starts the ids of the options the bot adds about an answer ("did you mean": ~yes, ~no; a
# list of zones: ~1, ~2, …, ~none): no content choice id can start so (flows/schema.py).
CLARIFY = "~"


class FlowLoopError(RuntimeError):
    """A flow went round more steps than any real conversation needs without asking anything."""


# What Jinja says of a name a template reads that is not there.
_UNDEFINED = re.compile(
    r"(?:has no attribute '([A-Za-z_]\w{0,63})'|^'([A-Za-z_]\w{0,63})' is undefined)"
)


class StepFailed(RuntimeError):
    """A step could not be carried out (most often: its text reads a name that is not
    there). It names the flow, the step, the member's locale and the template variable when
    known, and never what a member wrote, so that it can be logged as it is."""

    def __init__(self, flow: str, step: str, locale: str, variable: str | None, error: str) -> None:
        self.flow, self.step, self.locale = flow, step, locale
        self.variable, self.error = variable, error
        what = f"'{variable}' is undefined" if variable else error
        super().__init__(
            f"flow '{flow}' step '{step}' (locale {locale}): {what}; "
            "`onramp check` names the problem in the content"
        )


class _Turn:
    def __init__(self, flow: Flow, state: RunState, context: Context) -> None:
        self.flow = flow
        self.steps: dict[str, Step] = {s.id: s for s in flow.steps}
        self.order = [s.id for s in flow.steps]
        self.answers = dict(state.answers)
        self.profile = dict(context.profile)
        self.context = context
        self.outputs: list[Output] = []

    def variables(self, count: Any = None) -> dict[str, Any]:
        member = {"name": self.profile.get("display_name") or "", **self.profile}
        return {
            "member": member,
            "answers": self.answers,
            "community": self.context.community,
            "context": self.context.extra,
            "count": count,
        }

    @contextmanager
    def carrying_out(self, step: Step) -> Iterator[None]:
        """Any failure while a step runs becomes a `StepFailed` naming it. Jinja's own message
        is left out: a computed name in it could be a member's text; a variable is named only
        when the content itself spells it in this step."""
        try:
            yield
        except StepFailed:
            raise
        except Exception as exc:
            found = _UNDEFINED.search(str(exc)) if isinstance(exc, UndefinedError) else None
            variable = (found.group(1) or found.group(2)) if found else None
            if variable is not None and not re.search(rf"\b{variable}\b", repr(step)):
                variable = None
            locale = str(self.profile.get("locale") or self.context.default_locale)
            raise StepFailed(self.flow.id, step.id, locale, variable, type(exc).__name__) from None

    def text(self, text: Text, count_expression: str | None = None) -> str:
        locale = self.profile.get("locale") or None
        count = None
        if count_expression:
            rendered = render_template(count_expression, self.variables())
            try:
                count = float(rendered) if "." in rendered else int(rendered)
            except ValueError:
                count = 0
        return render(text, locale, self.context.default_locale, self.variables(count))

    def short(self, step: SayStep | AskStep | EndStep) -> str | None:
        return self.text(step.short, step.count) if step.short is not None else None

    def following(self, step: Step) -> str:
        if step.next:
            return step.next
        index = self.order.index(step.id)
        return self.order[index + 1] if index + 1 < len(self.order) else END

    def ask(self, step: AskStep, kind: AskKind, reason: parse.Rejected | None = None) -> None:
        with self.carrying_out(step):
            text = self.text(step.nudge if kind == "nudge" and step.nudge else step.ask, step.count)
            locale = self.profile.get("locale") or None
            choices = tuple(
                (c.id, render(c.label, locale, self.context.default_locale, self.variables()))
                for c in step.choices or []
            )
            short = self.short(step) if kind == "ask" else None
            template = None
            if kind == "nudge" and step.whatsapp_template is not None:
                wanted = step.whatsapp_template
                parameters = tuple(render_template(p, self.variables()) for p in wanted.parameters)
                template = (wanted.name, wanted.language, parameters)
        self.outputs.append(
            Prompt(
                kind,
                step.id,
                text,
                choices,
                step.multiple,
                step.input,
                reason.reason if reason else None,
                reason.count if reason else 0,
                template,
                short,
                step.optional,
                reason.part if reason else None,
            )
        )
        if kind == "ask":
            self.outputs.append(AwaitInput(step.id, step.timeout, step.expire_after))

    def run_from(self, step_id: str) -> RunState:
        for _ in range(MAX_STEPS_PER_TURN):
            if step_id == END:
                return RunState(None, self.answers, waiting=False, finished=True)
            step = self.steps[step_id]
            with self.carrying_out(step):
                step_id, finished = self.run_step(step)
            if finished is not None:
                return finished
        raise FlowLoopError(f"flow {self.flow.id!r} ran {MAX_STEPS_PER_TURN} steps without asking")

    def run_step(self, step: Step) -> tuple[str, RunState | None]:
        """One step: the step to go to next, or the state to stop in (waiting, finished)."""
        match step:
            case SayStep():
                self.outputs.append(
                    Prompt("say", step.id, self.text(step.say, step.count), short=self.short(step))
                )
            case AskStep():
                chosen = self.chosen_answer(step)
                if chosen is not None:
                    return self.record(step, chosen), None
                self.ask(step, "ask")
                return step.id, RunState(step.id, self.answers, waiting=True)
            case BranchStep():
                return next(
                    (c.goto for c in step.branch if holds(c.when, self.answers, self.profile)),
                    step.otherwise or self.following(step),
                ), None
            case SetStep():
                for name, raw in step.set.items():
                    whole = WHOLE_ANSWER.match(raw) if isinstance(raw, str) else None
                    if whole and whole.group(1) not in self.answers:
                        continue  # a question skipped: what the member had stays
                    value = self.set_value(raw)
                    self.profile[name] = value
                    self.outputs.append(SetProfile(name, value))
            case GotoStep():
                return step.goto, None
            case EndStep():
                if step.end is not True:
                    text = self.text(step.end, step.count)
                    self.outputs.append(Prompt("end", step.id, text, short=self.short(step)))
                return step.id, RunState(None, self.answers, waiting=False, finished=True)
            case ActionStep():
                self.outputs.append(RunAction(step.id, step.action, dict(step.with_)))
        return self.following(step), None

    def set_value(self, raw: Any) -> Any:
        if not isinstance(raw, str):
            return raw
        whole = WHOLE_ANSWER.match(raw)
        if whole:
            return self.answers.get(whole.group(1))
        return render_template(raw, self.variables())

    @property
    def locale(self) -> str:
        return str(self.profile.get("locale") or self.context.default_locale)

    def waiting(self, step: AskStep, pending: Mapping[str, Any] | None = None) -> RunState:
        return RunState(step.id, self.answers, waiting=True, pending=pending)

    def answer(self, step: AskStep, given: Reply | Pick) -> RunState:
        words = self.context.words
        value: Any
        if isinstance(given, Pick):
            value = parse.choices_by_id(step, given.choice_ids)
        elif step.choices:
            value = parse.parse_choices(step, given.text, words)
        else:
            value = parse.parse_input(step, given.text, self.locale)
        # A skip word, unless it is one of the options ("Skip this step").
        named = step.choices and not isinstance(value, parse.Rejected | parse.Suggested)
        if isinstance(given, Reply) and not named and words.skips(given.text):
            return self.skip(step)
        if isinstance(value, parse.Suggested):
            option = next(c for c in step.choices or [] if c.id == value.choice_id)
            with self.carrying_out(step):
                label = render(
                    option.label, self.locale, self.context.default_locale, self.variables()
                )
            self.outputs.append(Prompt("did_you_mean", step.id, label))
            return self.waiting(
                step, {"kind": "did_you_mean", "option": option.id, "ids": list(value.ids)}
            )
        readable = not isinstance(value, parse.Rejected) or value.reason == "invalid_timezone"
        if step.input == "timezone" and isinstance(given, Reply) and readable:
            zones = parse.zone_candidates(given.text, self.locale)
            if len(zones) > 1:
                return self.which_zone(step, zones)
            if zones:
                return self.zone_chosen(step, zones[0])
        if isinstance(value, parse.Rejected):
            self.ask(step, "retry", value)
            return self.waiting(step)
        return self.run_from(self.record(step, value))

    def skip(self, step: AskStep) -> RunState:
        """A skip word: an optional question is left unanswered, any other asked again."""
        if not step.optional:
            self.ask(step, "retry", parse.Rejected("not_skippable"))
            return self.waiting(step)
        self.answers.pop(step.id, None)
        return self.run_from(self.following(step))

    def which_zone(self, step: AskStep, zones: list[str]) -> RunState:
        now = self.context.now
        labels = [parse.zone_label(z, self.locale, now) for z in zones]
        choices = tuple((f"{CLARIFY}{n}", label) for n, label in enumerate(labels, start=1))
        self.outputs.append(Prompt("which_zone", step.id, "", choices))
        return self.waiting(step, {"kind": "which_zone", "zones": zones})

    def zone_chosen(self, step: AskStep, zone: str) -> RunState:
        # The zone itself: the bot says it in words, with the time there now.
        self.outputs.append(Prompt("zone_confirmed", step.id, zone))
        return self.run_from(self.record(step, zone))

    def clarified(self, step: AskStep, pending: Mapping[str, Any], given: Reply | Pick) -> RunState:
        """The reply to a "did you mean" or to a list of zones: the option or zone it picks,
        the question again after "no" (or "none of these"), or else a fresh answer to it."""
        words = self.context.words
        if pending.get("kind") == "did_you_mean":
            picked = _picked(given, (f"{CLARIFY}yes", f"{CLARIFY}no"), (words.yes, words.no))
            # Still options of the question (the content may have changed meanwhile)?
            ids = parse.choices_by_id(step, [str(i) for i in pending.get("ids") or ()])
            if picked == 0 and not isinstance(ids, parse.Rejected):
                return self.run_from(self.record(step, ids))
        else:
            zones = [str(z) for z in pending.get("zones") or ()]
            options = (*(f"{CLARIFY}{n}" for n in range(1, len(zones) + 1)), f"{CLARIFY}none")
            picked = _picked(given, options, ())
            if picked is not None and picked < len(zones):
                return self.zone_chosen(step, zones[picked])
        if picked is not None:  # no, or none of these
            self.ask(step, "ask")
            return self.waiting(step)
        return self.answer(step, given)

    def record(self, step: AskStep, value: Any) -> str:
        """Keep an accepted answer; the step to go to next."""
        if step.choices and not step.multiple:
            value = value[0]
        self.answers[step.id] = value
        self.outputs.append(SaveAnswer(step.id, value))
        return self.following(step)

    def chosen_answer(self, step: AskStep) -> Any:
        """The answer the member already gave this question by setting, themselves, the
        profile field a `set` step fills with it whole (`locale: "{{ answers.language }}"`);
        None if they did not, or if what they set is not an answer the question accepts."""
        if not self.context.chosen:
            return None
        for other in self.flow.steps:
            if not isinstance(other, SetStep):
                continue
            for name, raw in other.set.items():
                whole = WHOLE_ANSWER.match(raw) if isinstance(raw, str) else None
                if whole is None or whole.group(1) != step.id or name not in self.context.chosen:
                    continue
                value = self.context.chosen[name]
                if step.choices:
                    ids = tuple(value) if isinstance(value, list) else (str(value),)
                    parsed = parse.choices_by_id(step, ids)
                else:
                    locale = str(self.profile.get("locale") or self.context.default_locale)
                    parsed = parse.parse_input(step, str(value), locale)
                if not isinstance(parsed, parse.Rejected):
                    return parsed
        return None


def advance(flow: Flow, state: RunState, given: FlowInput, context: Context) -> Outcome:
    """Run one turn of `flow` for one member."""
    turn = _Turn(flow, state, context)
    if isinstance(given, Start):
        return Outcome(turn.run_from(flow.steps[0].id), turn.outputs)
    if state.finished or state.step_id is None:
        return Outcome(state, [])
    if state.step_id not in turn.steps:
        # The step this member waited on was renamed or removed: begin the flow again
        # rather than swallow their replies.
        return Outcome(turn.run_from(flow.steps[0].id), turn.outputs)
    step = turn.steps[state.step_id]
    if not isinstance(step, AskStep) or not state.waiting:
        # Content changed under a waiting run, or the state is from another version:
        # carry on from here rather than stall.
        return Outcome(turn.run_from(step.id), turn.outputs)
    match given:
        case Resume():
            chosen = turn.chosen_answer(step)
            if chosen is not None:  # answered meanwhile (`/language` at the language question)
                return Outcome(turn.run_from(turn.record(step, chosen)), turn.outputs)
            turn.ask(step, "ask")  # the question itself, not a pending "did you mean"
            return Outcome(replace(state, pending=None), turn.outputs)
        case Remind(step_id=step_id):
            if step_id != step.id:
                return Outcome(state, [])
            turn.ask(step, "nudge")
            return Outcome(replace(state, pending=None), turn.outputs)
        case Reply() | Pick() if state.pending:
            return Outcome(turn.clarified(step, state.pending, given), turn.outputs)
        case Reply() | Pick():
            return Outcome(turn.answer(step, given), turn.outputs)
    return Outcome(state, [])


def _picked(
    given: Reply | Pick, options: tuple[str, ...], said: tuple[frozenset[str], ...]
) -> int | None:
    """Which of the bot's own options a reply picks (by button, number, or a word of
    `said[i]` for option i); None if it picks none of them."""
    if isinstance(given, Pick):
        ids = given.choice_ids
        return options.index(ids[0]) if len(ids) == 1 and ids[0] in options else None
    cleaned = parse.clean(given.text).rstrip(".)")
    number = whole_number(cleaned, low=1, high=len(options), strict=False)
    if isinstance(number, int):
        return number - 1
    wanted = parse.fold(cleaned)
    return next((n for n, words in enumerate(said) if wanted in words), None)
