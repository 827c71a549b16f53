"""`onramp check` on matching.yaml's experience levels: each answer it lists is a choice of
the questions that ask members about their experience, named with its line and a hint."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows.content import load_tree
from tests.features import ACTIONS

CONTENT = Path(__file__).resolve().parents[2] / "content"
SHIPPED = """\
experience:
  newcomer_step: experience
  mentor_step: experience
  new: [new]
  some: [some]
  experienced: [experienced]
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    return root


def problems(root: Path, old: str, new: str) -> list[str]:
    path = root / "matching.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    loaded, found = load_tree(root, actions=ACTIONS)
    shown = [str(p) for p in found if "matching.yaml" in p.file]
    assert (loaded is None) == any(p.severity == "error" for p in found)
    return shown


def line_of(root: Path, text: str) -> int:
    lines = (root / "matching.yaml").read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if line == text)


def test_the_shipped_levels_name_the_shipped_choices(root: Path) -> None:
    assert SHIPPED in (root / "matching.yaml").read_text(encoding="utf-8")
    assert problems(root, SHIPPED, SHIPPED) == []


def test_an_unknown_choice_id_is_an_error_with_a_did_you_mean(root: Path) -> None:
    found = problems(root, "  experienced: [experienced]", "  experienced: [experiencd]")
    line = line_of(root, "  experienced: [experiencd]")
    assert found == [
        f"content/matching.yaml:{line}: 'experiencd' is not a choice of the experience "
        "questions; did you mean 'experienced'?",
        f"content/matching.yaml:{line - 5}: warning: choice 'experienced' of onboarding step "
        "'experience' and mentor_signup step 'experience' is under no experience level; list it "
        "under new, some or experienced; until then, whoever picks it is matched as if they had "
        "not said",
    ]


def test_a_question_that_does_not_exist_is_an_error(root: Path) -> None:
    found = problems(root, "  mentor_step: experience", "  mentor_step: experiense")
    line = line_of(root, "  mentor_step: experiense")
    assert found == [
        f"content/matching.yaml:{line}: flow 'mentor_signup' has no question with choices "
        "'experiense'; did you mean 'experience'?"
    ]


def test_one_answer_means_one_level(root: Path) -> None:
    found = problems(root, "  new: [new]", "  new: [new, some]")
    line = line_of(root, "experience:")
    assert found == [f"content/matching.yaml:{line}: 'some' is under both 'new' and 'some'"]
