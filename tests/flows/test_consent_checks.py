"""`onramp check` on consent per purpose: `set: {consent.<purpose>: true|false}` and
community.yaml's `consent_purposes`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from flows.content import load_tree
from tests.features import ACTIONS

CONTENT = Path(__file__).resolve().parents[2] / "content"

NEWS_FLOW = """\
schema_version: 1
id: news
title: News
trigger:
  command: news
steps:
  - id: ask
    ask: { en: News?, fr: Des nouvelles ?, es: ¿Noticias?, pt: Novidades?, ar: أخبار؟, sw: Habari? }
    choices:
      - { id: "yes", label: "Yes" }
      - { id: "no", label: "No" }
  - id: route
    branch:
      - when: { answer: ask, equals: "yes" }
        goto: agree
    otherwise: bye
  - id: agree
    set:
      consent.announcements: true
  - id: bye
    end: true
"""
SET_LINE = 19  # the line of `consent.announcements: true`
# community.yaml's `consent_purposes:` block, each purpose on its own line.
SHIPPED_PURPOSES = re.compile(r"^consent_purposes:(?:\n  .*)+", re.MULTILINE)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    (root / "flows" / "news.yaml").write_text(NEWS_FLOW, encoding="utf-8")
    return root


def problems_with(root: Path, setting: str, purposes: str | None = None) -> list[str]:
    flow = root / "flows" / "news.yaml"
    flow.write_text(NEWS_FLOW.replace("consent.announcements: true", setting), encoding="utf-8")
    shipped = (CONTENT / "community.yaml").read_text(encoding="utf-8")
    if purposes is not None:
        shipped = SHIPPED_PURPOSES.sub(purposes, shipped)
    (root / "community.yaml").write_text(shipped, encoding="utf-8")
    _, problems = load_tree(root, actions=ACTIONS)
    # What this flow and community.yaml are told (other files may use the purposes too).
    return [str(p) for p in problems if p.file.endswith(("news.yaml", "community.yaml"))]


def test_a_declared_purpose_set_to_true_or_false_is_valid(tree: Path) -> None:
    assert problems_with(tree, "consent.announcements: true") == []
    assert problems_with(tree, "consent.announcements: false") == []
    loaded, _ = load_tree(tree, actions=ACTIONS)
    assert loaded is not None and loaded.community.consent_purposes == {
        "answers": "granted",
        "mentorship": "granted",
        "leaderboards": "granted",
        "announcements": "asked",
        "statistics": "granted",
    }


def test_an_unknown_purpose_names_the_line_and_step_and_a_near_miss(tree: Path) -> None:
    assert problems_with(tree, "consent.anouncements: true") == [
        f"content/flows/news.yaml:{SET_LINE} step 'agree': unknown consent purpose "
        "'anouncements'; did you mean 'announcements'?"
    ]
    assert problems_with(tree, "consent.newsletter: true") == [
        f"content/flows/news.yaml:{SET_LINE} step 'agree': unknown consent purpose "
        "'newsletter'; declare it under consent_purposes in community.yaml"
    ]


def test_a_purpose_is_set_to_a_literal_true_or_false(tree: Path) -> None:
    for value in ("'{{ answers.ask }}'", '"yes"', "1"):
        assert problems_with(tree, f"consent.announcements: {value}") == [
            f"content/flows/news.yaml:{SET_LINE} step 'agree': consent.announcements is set to "
            "true or false; branch on the answer, then set consent.announcements: true (or false)"
        ]


def test_community_yaml_declares_the_purposes(tree: Path) -> None:
    both = "consent_purposes: [announcements, newsletter]"
    assert problems_with(tree, "consent.newsletter: false", both) == []
    # Without the key, a community has the one purpose the core's /announcements is about.
    assert problems_with(tree, "consent.announcements: true", "") == []
    assert problems_with(tree, "consent.announcements: true", "consent_purposes: []") == [
        f"content/flows/news.yaml:{SET_LINE} step 'agree': unknown consent purpose "
        "'announcements'; declare it under consent_purposes in community.yaml"
    ]


def test_a_purpose_is_an_id(tree: Path) -> None:
    assert (
        problems_with(tree, "consent.announcements: true", "consent_purposes: [announcements]")
        == []
    )
    lines = (tree / "community.yaml").read_text(encoding="utf-8").splitlines()
    line = lines.index("consent_purposes: [announcements]") + 1
    assert problems_with(tree, "consent.announcements: true", "consent_purposes: [Big News]") == [
        f"content/community.yaml:{line}: String should match pattern '^[a-z][a-z0-9_]{{0,31}}$'; "
        "ids use lowercase letters, digits and _ and start with a letter"
    ]


def test_a_list_gives_each_purpose_its_usual_default(tree: Path) -> None:
    listed = "consent_purposes: [announcements, leaderboards, newsletter]"
    assert problems_with(tree, "consent.newsletter: true", listed) == []
    loaded, _ = load_tree(tree, actions=ACTIONS)
    assert loaded is not None
    community = loaded.community
    assert community.consent_purposes == {
        "announcements": "asked",
        "leaderboards": "granted",
        "newsletter": "asked",
    }
    # The core's purposes are enforced whether listed or not, with their usual defaults.
    assert community.purposes() == [
        "answers",
        "mentorship",
        "leaderboards",
        "announcements",
        "statistics",
        "newsletter",
    ]
    assert community.consent_default("answers") and not community.consent_default("newsletter")


def test_only_purposes_that_send_nothing_may_be_granted_before_a_member_agrees(
    tree: Path,
) -> None:
    lines = (tree / "community.yaml").read_text(encoding="utf-8").splitlines()
    line = lines.index("consent_purposes:") + 1
    granted = "consent_purposes:\n  announcements: granted"
    assert problems_with(tree, "consent.announcements: true", granted) == [
        f"content/community.yaml:{line}: 'announcements: granted': only answers, "
        "mentorship, leaderboards, statistics may count before a member agrees (campaigns "
        "reach only members who said yes); write 'announcements: asked'"
    ]
    asked = "consent_purposes:\n  announcements: asked\n  statistics: asked"
    assert problems_with(tree, "consent.announcements: true", asked) == [
        f"content/community.yaml:{line}: 'statistics: asked': anonymous "
        "statistics count every member until they withdraw (docs/managers/consent.md); "
        "write 'statistics: granted'"
    ]
    typo = "consent_purposes:\n  announcements: maybe"
    [problem] = problems_with(tree, "consent.announcements: true", typo)
    assert "'granted' or 'asked'" in problem
