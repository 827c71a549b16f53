"""`onramp check` on campaign files: each mistake names its file, line and a hint."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows.content import load_tree

CONTENT = Path(__file__).resolve().parents[2] / "content"

GOOD = """\
schema_version: 1
id: call
title: The call
segment:
  all:
    - locale: [en, fr]
    - not: { role: manager }
message:
  en: Hello {{ member.name }}!
  fr: Bonjour {{ member.name }} !
  es: ¡Hola {{ member.name }}!
send_at: { local_time: "10:00", date: 2099-12-01 }
expire_after: 2d
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    return root


def errors(root: Path, text: str, name: str = "call") -> list[str]:
    (root / "campaigns" / f"{name}.yaml").write_text(text, encoding="utf-8")
    loaded, problems = load_tree(root)
    found = [str(p) for p in problems if p.severity == "error"]
    assert (loaded is None) == bool(found), "a tree loads only without errors"
    return found


def test_a_good_campaign_loads(root: Path) -> None:
    assert errors(root, GOOD) == []
    loaded, _ = load_tree(root)
    assert loaded is not None and loaded.campaigns["call"].segment.test()[0] == "all"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "    - locale: [en, fr]",
            "    - langauge: [en, fr]",
            "content/campaigns/call.yaml:6: unknown key 'langauge'",
        ),
        (
            "    - not: { role: manager }",
            "    - nope: { role: manager }",
            "content/campaigns/call.yaml:7: unknown key 'nope'",
        ),
        (
            "    - locale: [en, fr]",
            "    - joined: { since: 30d }",
            "content/campaigns/call.yaml:6: unknown key 'since'",
        ),
        (
            "    - locale: [en, fr]",
            "    - locale: [en, pt]",
            "content/campaigns/call.yaml:6: 'pt' is not a locale of this community",
        ),
        (
            "    - locale: [en, fr]",
            "    - platform: slak",
            "content/campaigns/call.yaml:6: unknown platform 'slak'; did you mean 'slack'?",
        ),
        (
            "    - locale: [en, fr]",
            "    - country: XX",
            "content/campaigns/call.yaml:6: 'XX' is not a country code such as KE",
        ),
        (
            "    - locale: [en, fr]",
            "    - stalled: { for: 7d, at: intrests }",
            "content/campaigns/call.yaml:6: the onboarding flow has no step 'intrests'; did you "
            "mean 'interests'?",
        ),
        (
            'send_at: { local_time: "10:00", date: 2099-12-01 }',
            'send_at: { local_time: "10:00", date: 2099-02-30 }',
            "content/campaigns/call.yaml:12: invalid YAML: '2099-02-30' is not a real date",
        ),
        (
            'send_at: { local_time: "10:00", date: 2099-12-01 }',
            "send_at: 2099-12-01T10:00:00",
            "content/campaigns/call.yaml:12: send_at needs its offset",
        ),
        (
            'send_at: { local_time: "10:00", date: 2099-12-01 }',
            'send_at: { local_time: "25:00", date: 2099-12-01 }',
            'content/campaigns/call.yaml:12: a local time is "HH:MM"',
        ),
        (
            "  es: ¡Hola {{ member.name }}!\n",
            "",
            "content/campaigns/call.yaml:8: missing the 'es' translation",
        ),
        (
            "message:",
            "flow: onboarding_survey\nmessages:",
            "content/campaigns/call.yaml:9: unknown key 'messages'; did you mean 'message'?",
        ),
        (
            "  en: Hello {{ member.name }}!",
            "  en: Hello {{ member.nam }!",
            "content/campaigns/call.yaml:9: template error",
        ),
    ],
)
def test_each_mistake_is_named_with_its_line(root: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    found = errors(root, GOOD.replace(old, new))
    assert any(problem.startswith(expected) for problem in found), found


def test_a_message_over_a_platforms_length_limit_is_refused(root: Path) -> None:
    long = "word " * 900  # 4,500 characters: over Telegram's and WhatsApp's 4,096
    found = errors(root, GOOD.replace("Hello {{ member.name }}!", long))
    assert any(
        p.startswith("content/campaigns/call.yaml:9: the 'en' message is") and "allows" in p
        for p in found
    ), found


def test_the_file_is_named_after_its_id(root: Path) -> None:
    found = errors(root, GOOD, name="other")
    assert found == [
        "content/campaigns/other.yaml:2: campaign id 'call' differs from its file's name; name "
        "the file campaigns/call.yaml, or the id 'other'"
    ]


def test_a_flow_campaign_names_an_existing_flow_and_not_a_message_too(root: Path) -> None:
    text = GOOD.replace("message:", "flow: survey\nmessage:")
    found = errors(root, text)
    assert any("either 'message' or 'flow'" in p for p in found), found
    start = text.index("message:")
    only_flow = text[:start] + text[text.index("send_at") :]
    found = errors(root, only_flow)
    assert any(
        p.startswith("content/campaigns/call.yaml:8: flow 'survey' does not exist") for p in found
    ), found
