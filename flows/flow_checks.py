"""Checks of one flow: ids, targets, reachability, loops, conditions, actions, choices."""

from __future__ import annotations

from dataclasses import replace

from pydantic import ValidationError

from flows.actions import Actions
from flows.content import ContentTree
from flows.engine import END, WHOLE_ANSWER
from flows.flow_paths import edges
from flows.problems import Problem, did_you_mean
from flows.schema import (
    CONSENT_PREFIX,
    CORE_PROFILE_FIELDS,
    ActionStep,
    AskStep,
    BranchStep,
    Condition,
    EndStep,
    Flow,
    GotoStep,
    SayStep,
    SetStep,
    Step,
)
from flows.system_texts import RESERVED_COMMANDS
from flows.template_scopes import FlowScopes
from flows.template_types import ALWAYS, Scope
from flows.text_checks import (
    BUTTON_LABEL_LIMIT,
    LIST_ROW_LIMIT,
    LIST_ROWS_LIMIT,
    TextChecker,
)
from flows.yamlfile import PathKey


class FlowChecker(TextChecker):
    def __init__(self, tree: ContentTree, flow: Flow, actions: Actions) -> None:
        super().__init__(tree, tree.documents[tree.flow_files[flow.id]])
        self.flow = flow
        self.actions = actions
        self.index: dict[str, int] = {}
        self.scopes = FlowScopes(tree, flow)

    def run(self) -> list[Problem]:
        flow = self.flow
        self.text(flow.title, ("title",), None, scope=self.scopes.title())
        if flow.trigger.command in RESERVED_COMMANDS:
            self.add(
                ("trigger", "command"),
                None,
                f"'/{flow.trigger.command}' is a built-in command",
                "choose another command name",
            )
        for position, step in enumerate(flow.steps):
            if step.id == END:
                self.add(
                    ("steps", position, "id"),
                    step.id,
                    "'end' is reserved",
                    "name the step something else; 'next: end' ends a flow",
                )
            if step.id in self.index:
                first = self.document.line_of(("steps", self.index[step.id]))
                self.add(
                    ("steps", position, "id"),
                    step.id,
                    f"duplicate step id (first used on line {first})",
                    "step ids must be unique within a flow",
                )
                continue
            self.index[step.id] = position
        for position, step in enumerate(flow.steps):
            self.step(step, ("steps", position))
        self.graph()
        return self.problems

    def target(self, target: str | None, path: PathKey, step: str) -> None:
        if target is not None and target != END and target not in self.index:
            self.add(
                path,
                step,
                f"goto '{target}' does not exist",
                did_you_mean(target, self.index) or "use a step id of this flow or 'end'",
            )

    def step(self, step: Step, path: PathKey) -> None:
        sid = step.id
        self.target(step.next, (*path, "next"), sid)
        counted = getattr(step, "count", None) is not None
        scope = self.scopes.at(sid, counted)
        match step:
            case SayStep():
                self.text(step.say, (*path, "say"), sid, counted, scope)
            case AskStep():
                self.text(step.ask, (*path, "ask"), sid, counted, scope)
                if step.nudge:
                    self.text(step.nudge, (*path, "nudge"), sid, counted, scope)
                self.whatsapp_template(step, path)
                self.choices(step, path)
            case EndStep():
                if step.end is not True:
                    self.text(step.end, (*path, "end"), sid, counted, scope)
            case GotoStep():
                self.target(step.goto, (*path, "goto"), sid)
            case BranchStep():
                for number, case in enumerate(step.branch):
                    self.target(case.goto, (*path, "branch", number, "goto"), sid)
                    self.condition(case.when, (*path, "branch", number, "when"), sid)
                self.target(step.otherwise, (*path, "otherwise"), sid)
            case SetStep():
                self.set_step(step, path)
            case ActionStep():
                self.action(step, path)
        short = getattr(step, "short", None)
        if short is not None:  # lite mode's variant: checked like the text it stands for
            self.text(short, (*path, "short"), sid, counted, scope)
        count = getattr(step, "count", None)
        if count:
            self.template(count, (*path, "count"), sid, self.scopes.at(sid, counted=False))

    def whatsapp_template(self, step: AskStep, path: PathKey) -> None:
        if step.timeout is None:
            return
        if step.whatsapp_template is None:
            self.add(
                (*path, "timeout"),
                step.id,
                "the nudge after this timeout has no whatsapp_template; WhatsApp members who "
                "last wrote over 24 hours ago will not get it",
                "add whatsapp_template: {name: <an approved template>} to this step",
                "warning",
            )
            return
        scope = self.scopes.at(step.id, counted=False)
        for number, parameter in enumerate(step.whatsapp_template.parameters):
            self.template(
                parameter, (*path, "whatsapp_template", "parameters", number), step.id, scope
            )

    def choices(self, step: AskStep, path: PathKey) -> None:
        choices = step.choices or []
        seen: set[str] = set()
        for number, choice in enumerate(choices):
            choice_path = (*path, "choices", number)
            if choice.id in seen:
                self.add((*choice_path, "id"), step.id, f"duplicate choice id '{choice.id}'")
            seen.add(choice.id)
            self.text(
                choice.label, (*choice_path, "label"), step.id, scope=self.scopes.labels(step.id)
            )
            for locale, label in choice.label.items():
                longest = max(label.values(), key=len) if isinstance(label, dict) else label
                if len(longest) > BUTTON_LABEL_LIMIT and len(choices) <= 3:
                    self.add(
                        (*choice_path, "label", locale),
                        step.id,
                        f"label is {len(longest)} characters; WhatsApp buttons show at most "
                        f"{BUTTON_LABEL_LIMIT}",
                        "WhatsApp will show a list instead",
                        "warning",
                    )
                elif len(longest) > LIST_ROW_LIMIT:
                    self.add(
                        (*choice_path, "label", locale),
                        step.id,
                        f"label is {len(longest)} characters; WhatsApp list rows show at "
                        f"most {LIST_ROW_LIMIT}",
                        "WhatsApp will show numbered text",
                        "warning",
                    )
        if len(choices) > LIST_ROWS_LIMIT:
            self.add(
                (*path, "choices"),
                step.id,
                f"{len(choices)} choices; WhatsApp lists hold at most {LIST_ROWS_LIMIT}",
                "WhatsApp will show numbered text instead",
                "warning",
            )

    def condition(self, condition: Condition, path: PathKey, sid: str) -> None:
        for key, nested in (("not", condition.not_),):
            if nested is not None:
                self.condition(nested, (*path, key), sid)
        for key, group in (("all", condition.all), ("any", condition.any)):
            for number, nested in enumerate(group or []):
                self.condition(nested, (*path, key, number), sid)
        arrival = self.scopes.arrivals.get(sid)
        asked = arrival.answered_maybe if arrival is not None else self.scopes.asks
        if condition.answer is not None and condition.answer not in asked:
            self.add(
                (*path, "answer"),
                sid,
                f"no ask step '{condition.answer}' comes before this branch",
                did_you_mean(condition.answer, asked),
            )
        if condition.profile is not None and condition.profile not in self.profile_fields():
            self.add(
                (*path, "profile"),
                sid,
                f"unknown profile field '{condition.profile}'",
                did_you_mean(condition.profile, self.profile_fields())
                or "declare it under profile_fields in community.yaml",
            )

    def profile_fields(self) -> list[str]:
        return [*CORE_PROFILE_FIELDS, "roles", *self.tree.community.profile_fields]

    def set_step(self, step: SetStep, path: PathKey) -> None:
        fields = self.profile_fields()
        for name, value in step.set.items():
            if name.startswith(CONSENT_PREFIX):
                self.consent(name, value, (*path, "set", name), step.id)
                continue
            if name not in fields or name == "roles":
                self.add(
                    (*path, "set", name),
                    step.id,
                    f"cannot set profile field '{name}'",
                    did_you_mean(name, fields)
                    or "declare it under profile_fields in community.yaml",
                )
            if isinstance(value, str):
                self.template(value, (*path, "set", name), step.id, self.set_scope(step, value))
            if name == "consent" and not isinstance(value, bool):
                self.add(
                    (*path, "set", name),
                    step.id,
                    "consent is set to true or false",
                    "branch on the answer, then set consent: true (or false)",
                )
            if (
                name == "locale"
                and isinstance(value, str)
                and "{" not in value
                and value not in self.tree.community.locales
            ):
                self.add((*path, "set", name), step.id, f"'{value}' is not a community locale")

    def consent(self, name: str, value: object, path: PathKey, sid: str) -> None:
        """`consent.<purpose>: true|false`: the member's answer for one declared purpose."""
        purpose = name.removeprefix(CONSENT_PREFIX)
        purposes = self.tree.community.consent_purposes
        if purpose not in purposes:
            self.add(
                path,
                sid,
                f"unknown consent purpose '{purpose}'",
                did_you_mean(purpose, purposes)
                or "declare it under consent_purposes in community.yaml",
            )
        if not isinstance(value, bool):
            self.add(
                path,
                sid,
                f"{name} is set to true or false",
                f"branch on the answer, then set {name}: true (or false)",
            )

    def action(self, step: ActionStep, path: PathKey) -> None:
        spec = self.actions.get(step.action)
        if spec is None:
            known = sorted(self.actions)
            self.add(
                (*path, "action"),
                step.id,
                f"unknown action '{step.action}'",
                did_you_mean(step.action, known) or f"known actions: {', '.join(known) or 'none'}",
            )
            return
        try:
            spec.parameters.model_validate(step.with_)
        except ValidationError as exc:
            for detail in exc.errors():
                self.add(
                    (*path, "with", *detail["loc"]),
                    step.id,
                    f"action '{step.action}': {detail['msg']}",
                )

    def set_scope(self, step: SetStep, value: str) -> Scope:
        """A value that is one whole answer (`"{{ answers.language }}"`) is that answer or
        nothing, never an error: the answer need only be asked on some path before."""
        scope = self.scopes.at(step.id, counted=False)
        if WHOLE_ANSWER.match(value) and scope.answers is not None:
            return replace(scope, answers=dict.fromkeys(scope.answers, ALWAYS))
        return scope

    def edges(self, step: Step) -> list[str]:
        return edges(self.flow, step)

    def graph(self) -> None:
        steps = {s.id: s for s in self.flow.steps}
        seen: set[str] = set()
        todo = [self.flow.steps[0].id]
        while todo:
            current = todo.pop()
            if current in seen or current not in steps:
                continue
            seen.add(current)
            todo.extend(self.edges(steps[current]))
        for step_id, position in self.index.items():
            if step_id not in seen:
                self.add(
                    ("steps", position),
                    step_id,
                    "step can never be reached",
                    "point a goto, next or branch at it, or remove it",
                    "warning",
                )
        self.loops_without_ask(steps)

    def loops_without_ask(self, steps: dict[str, Step]) -> None:
        state: dict[str, int] = {}

        def visit(step_id: str) -> str | None:
            state[step_id] = 1
            for target in self.edges(steps[step_id]):
                if target not in steps or isinstance(steps[target], AskStep):
                    continue
                if state.get(target) == 1:
                    return target
                if target not in state and (found := visit(target)):
                    return found
            state[step_id] = 2
            return None

        for step_id, step in steps.items():
            if step_id not in state and not isinstance(step, AskStep):
                looped = visit(step_id)
                if looped:
                    self.add(
                        ("steps", self.index[looped]),
                        looped,
                        "these steps loop forever without asking anything",
                        "put an ask step in the loop or end it",
                    )
                    return
