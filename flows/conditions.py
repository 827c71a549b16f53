"""Evaluating declarative branch conditions. Never code: only equals, in, has_any, exists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flows.schema import Condition


def _values(value: Any) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, list | tuple | set):
        return {str(v) for v in value}
    return {str(value)}


def holds(condition: Condition, answers: Mapping[str, Any], profile: Mapping[str, Any]) -> bool:
    if condition.not_ is not None:
        return not holds(condition.not_, answers, profile)
    if condition.all is not None:
        return all(holds(c, answers, profile) for c in condition.all)
    if condition.any is not None:
        return any(holds(c, answers, profile) for c in condition.any)
    if condition.answer is not None:
        present, value = condition.answer in answers, answers.get(condition.answer)
    else:
        assert condition.profile is not None
        present, value = condition.profile in profile, profile.get(condition.profile)
    present = present and value not in (None, "", [])
    if condition.exists is not None:
        return present == condition.exists
    if condition.equals is not None:
        if isinstance(condition.equals, bool):
            return value is condition.equals
        return present and str(value) == str(condition.equals)
    if condition.is_in is not None:
        return present and _values(value) <= set(condition.is_in) and bool(_values(value))
    if condition.has_any is not None:
        return bool(_values(value) & set(condition.has_any))
    return False
