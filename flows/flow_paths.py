"""The paths through a flow: which step can follow which, and what is known on arriving at a
step (the answers given and the profile fields set on the way), for `onramp check`."""

from __future__ import annotations

from dataclasses import dataclass

from flows.schema import AskStep, BranchStep, EndStep, Flow, GotoStep, SetStep, Step

END = "end"
NOTHING: frozenset[str] = frozenset()


def edges(flow: Flow, step: Step) -> list[str]:
    """The steps the engine may go to after `step` (END included)."""
    order = [s.id for s in flow.steps]
    position = order.index(step.id)
    following = step.next or (order[position + 1] if position + 1 < len(order) else END)
    match step:
        case GotoStep():
            return [step.goto]
        case EndStep():
            return []
        case BranchStep():
            return [c.goto for c in step.branch] + [step.otherwise or following]
    return [following]


@dataclass(frozen=True)
class Arrival:
    """What holds whenever the engine arrives at one step of a flow."""

    # Ask steps answered on some path here / on every path here.
    answered_maybe: frozenset[str]
    answered_surely: frozenset[str]
    # Profile fields a `set` step of this flow has set on every path here.
    set_surely: frozenset[str]


def arrivals(flow: Flow) -> dict[str, Arrival]:
    """For every step reachable from the first: what holds on arriving there. A forward
    data-flow over the step graph: 'some path' is a union, 'every path' an intersection,
    iterated until nothing changes (loops included)."""
    steps = {s.id: s for s in flow.steps}
    first = flow.steps[0].id
    maybe: dict[str, frozenset[str]] = {first: frozenset()}
    surely: dict[str, frozenset[str]] = {first: frozenset()}
    fields: dict[str, frozenset[str]] = {first: frozenset()}
    todo = [first]
    while todo:
        current = todo.pop()
        step = steps[current]
        answered = frozenset({current}) if isinstance(step, AskStep) else frozenset()
        set_here = (
            frozenset(k for k in step.set if "." not in k)
            if isinstance(step, SetStep)
            else frozenset()
        )
        out_maybe = maybe[current] | answered
        # An optional question may be skipped: answered on no path for sure.
        optional = isinstance(step, AskStep) and step.optional
        out_surely = surely[current] | (NOTHING if optional else answered)
        out_fields = fields[current] | set_here
        for target in edges(flow, step):
            if target not in steps:
                continue  # END, or a missing target (reported by the flow checks)
            new_maybe: frozenset[str]
            new_surely: frozenset[str]
            new_fields: frozenset[str]
            if target == first:
                # The flow's start is also entered afresh, with nothing answered.
                new_maybe, new_surely, new_fields = maybe[first] | out_maybe, NOTHING, NOTHING
            elif target in maybe:
                new_maybe = maybe[target] | out_maybe
                new_surely = surely[target] & out_surely
                new_fields = fields[target] & out_fields
            else:
                new_maybe, new_surely, new_fields = out_maybe, out_surely, out_fields
            if (
                maybe.get(target) != new_maybe
                or surely.get(target) != new_surely
                or fields.get(target) != new_fields
            ):
                maybe[target], surely[target], fields[target] = new_maybe, new_surely, new_fields
                todo.append(target)
    return {sid: Arrival(maybe[sid], surely[sid], fields[sid]) for sid in maybe}
