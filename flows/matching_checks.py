"""Checks of `matching.yaml` a schema alone cannot make: its experience levels name the
actual choices of the questions that ask members about their experience."""

from __future__ import annotations

from flows.content import ContentTree
from flows.feature_settings import EXPERIENCE_LEVELS
from flows.problems import Problem, did_you_mean
from flows.schema import AskStep, Flow
from flows.text_checks import TextChecker


def check_matching(tree: ContentTree) -> list[Problem]:
    """What `experience` says, when matching.yaml says it: each question exists, each answer
    a level lists is one of their choices, and each of their choices has a level."""
    document = next((d for n, d in tree.documents.items() if n.endswith("matching.yaml")), None)
    if document is None or not isinstance(document.data, dict):
        return []
    if "experience" not in document.data:
        return []
    checker = TextChecker(tree, document)
    experience = tree.matching.experience
    questions = {
        "newcomer_step": (tree.community.onboarding_flow, experience.newcomer_step),
        "mentor_step": (tree.matching.signup_flow, experience.mentor_step),
    }
    choices: dict[str, list[str]] = {}  # choice id -> the questions that offer it
    for key, (flow_id, step_id) in questions.items():
        flow = tree.flows.get(flow_id)
        if flow is None:
            continue  # a missing flow is reported where it is named
        asks = _questions(flow)
        if step_id not in asks:
            checker.add(
                ("experience", key),
                None,
                f"flow '{flow_id}' has no question with choices '{step_id}'",
                did_you_mean(step_id, asks) or "name an ask step with choices",
            )
            continue
        for choice in asks[step_id]:
            choices.setdefault(choice, []).append(f"{flow_id} step '{step_id}'")
    if not choices:
        return checker.problems
    named = set()
    for level in EXPERIENCE_LEVELS:
        for number, answer in enumerate(getattr(experience, level)):
            named.add(answer)
            if answer not in choices:
                checker.add(
                    ("experience", level, number),
                    None,
                    f"'{answer}' is not a choice of the experience questions",
                    did_you_mean(answer, choices) or f"use one of: {', '.join(choices)}",
                )
    for choice, where in choices.items():
        if choice not in named:
            checker.add(
                ("experience",),
                None,
                f"choice '{choice}' of {' and '.join(where)} is under no experience level",
                "list it under new, some or experienced; until then, whoever picks it is "
                "matched as if they had not said",
                "warning",
            )
    return checker.problems


def _questions(flow: Flow) -> dict[str, list[str]]:
    """A flow's ask steps with choices: step id -> choice ids."""
    return {
        step.id: [choice.id for choice in step.choices]
        for step in flow.steps
        if isinstance(step, AskStep) and step.choices
    }
