"""Content problems are user interface: each names the file, line, step and what to do."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    step: str | None
    message: str
    hint: str | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        step = f" step '{self.step}'" if self.step else ""
        hint = f"; {self.hint}" if self.hint else ""
        label = "warning: " if self.severity == "warning" else ""
        return f"{where}{step}: {label}{self.message}{hint}"


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None


class ContentError(Exception):
    """Raised when a content tree has errors; the bot refuses to start on it."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(p for p in problems if p.severity == "error")
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{len(self.problems)} error(s) in content:\n{lines}")
