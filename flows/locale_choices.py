"""A language choice must set a locale the community declares: otherwise the member picks
"Deutsch" and silently gets the default language."""

from __future__ import annotations

import re

from flows.content import ContentTree
from flows.locale_codes import base_language, normalise_locale
from flows.problems import Problem
from flows.schema import AskStep, SetStep

# `locale: "{{ answers.language }}"` (or answers['language']): the answer, copied whole.
_COPIED_ANSWER = re.compile(r"^\s*\{\{\s*answers(?:\.(\w+)|\[\s*['\"](\w+)['\"]\s*\])\s*\}\}\s*$")


def check_locale_choices(tree: ContentTree) -> list[Problem]:
    declared = set(tree.community.locales)
    problems: list[Problem] = []
    for flow in tree.flows.values():
        document = tree.documents[tree.flow_files[flow.id]]
        copied = set()
        for step in flow.steps:
            if isinstance(step, SetStep) and isinstance(step.set.get("locale"), str):
                match = _COPIED_ANSWER.match(str(step.set["locale"]))
                if match:
                    copied.add(match.group(1) or match.group(2))
        for number, step in enumerate(flow.steps):
            if not isinstance(step, AskStep) or step.id not in copied or not step.choices:
                continue
            for index, choice in enumerate(step.choices):
                try:
                    locale = normalise_locale(choice.id)
                except ValueError as exc:
                    message, hint = f"choice '{choice.id}' sets locale '{choice.id}': {exc}", None
                else:
                    if locale in declared or base_language(locale) in declared:
                        continue
                    message = (
                        f"choice '{choice.id}' sets locale '{locale}', which community.yaml "
                        "does not declare"
                    )
                    hint = f"add '{locale}' to 'locales' in community.yaml, or remove the choice"
                problems.append(
                    Problem(
                        document.file,
                        document.line_of(("steps", number, "choices", index, "id")),
                        step.id,
                        message,
                        hint,
                    )
                )
    return problems
