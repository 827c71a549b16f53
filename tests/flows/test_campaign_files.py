"""`onramp check` on campaign files: each mistake names its file, line and a hint."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flows.campaign_checks import check_campaigns
from flows.content import load_tree
from tests.features import ACTIONS

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
    loaded, problems = load_tree(root, actions=ACTIONS)
    found = [str(p) for p in problems if p.severity == "error"]
    assert (loaded is None) == bool(found), "a tree loads only without errors"
    return found


def test_a_good_campaign_loads(root: Path) -> None:
    assert errors(root, GOOD) == []
    loaded, _ = load_tree(root, actions=ACTIONS)
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
            "    - locale: [en, de]",
            "content/campaigns/call.yaml:6: 'de' is not a locale of this community",
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
            "  en: Hello {{ member.name }}!\n",
            "",
            "content/campaigns/call.yaml:8: missing the 'en' text",
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


# A campaign whose time has passed is stale, not invalid: warnings, so that an old file left in
# campaigns/ never stops the bot (`onramp campaign send` refuses an expired one).

SIXTH = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def warnings_at(root: Path, text: str, now: datetime) -> list[str]:
    (root / "campaigns" / "call.yaml").write_text(text, encoding="utf-8")
    loaded, problems = load_tree(root, actions=ACTIONS)
    assert loaded is not None, [str(p) for p in problems]
    return [str(p) for p in check_campaigns(loaded, set(), now) if "call.yaml" in p.file]


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        (
            "send_at: 2026-12-01T10:00:00Z\nexpires_at: 2026-12-03T15:00:00Z\n",
            [
                "content/campaigns/call.yaml:13: warning: expires_at 2026-12-03 15:00 UTC has "
                "passed: nobody can be sent it; `onramp campaign send` refuses it; set a later "
                "send_at and expires_at, or remove the file"
            ],
        ),
        (
            "send_at: 2026-12-01T10:00:00Z\n",
            [
                "content/campaigns/call.yaml:12: warning: send_at 2026-12-01 10:00 UTC has "
                "passed; `onramp campaign send` would send it at once; set a later time to "
                "schedule it"
            ],
        ),
        (
            'send_at: { local_time: "10:00", date: 2026-12-05 }\n',
            [
                "content/campaigns/call.yaml:12: warning: send_at 10:00 local on 2026-12-05 has "
                "passed; `onramp campaign send` would send it at once; set a later time to "
                "schedule it"
            ],
        ),
        ('send_at: { local_time: "10:00", date: 2026-12-06 }\n', []),  # not yet in the west
        (
            'send_at: { local_time: "10:00", date: 2026-12-07 }\n'
            "expires_at: 2026-12-07T12:00:00Z\n",
            [
                "content/campaigns/call.yaml:13: warning: expires_at 2026-12-07 12:00 UTC comes "
                "before 10:00 local on 2026-12-07 in the time zones furthest west: members there "
                "would not get it; set a later expires_at, or an earlier send_at"
            ],
        ),
        (
            'send_at: { local_time: "10:00", date: 2026-12-07 }\n'
            "expires_at: 2026-12-06T19:00:00Z\n",
            [
                "content/campaigns/call.yaml:13: warning: expires_at 2026-12-06 19:00 UTC comes "
                "before 10:00 local on 2026-12-07 everywhere: nobody can be sent it; `onramp "
                "campaign send` refuses it; set a later send_at and expires_at, or remove the file"
            ],
        ),
        ("send_at: now\nexpire_after: 2d\n", []),  # counted from each member's own send time
    ],
)
def test_a_campaign_whose_time_has_passed_is_a_warning(
    root: Path, times: str, expected: list[str]
) -> None:
    text = GOOD.replace(
        'send_at: { local_time: "10:00", date: 2099-12-01 }\nexpire_after: 2d\n', times
    )
    assert warnings_at(root, text, SIXTH) == expected


def test_a_stale_campaign_warns_at_the_time_of_the_check(root: Path) -> None:
    """`onramp check` and the bot's start judge it at the moment they run: a date long past is
    past whenever the test runs, and the tree still loads."""
    stale = GOOD.replace(
        'send_at: { local_time: "10:00", date: 2099-12-01 }\nexpire_after: 2d\n',
        "send_at: 2001-12-01T10:00:00Z\nexpires_at: 2001-12-03T15:00:00Z\n",
    )
    (root / "campaigns" / "call.yaml").write_text(stale, encoding="utf-8")
    loaded, problems = load_tree(root, actions=ACTIONS)
    assert loaded is not None
    # (Its message is in three of the six languages: a coverage warning, not this test's.)
    assert [str(p) for p in problems if "call.yaml" in p.file and " covers " not in p.message] == [
        "content/campaigns/call.yaml:13: warning: expires_at 2001-12-03 15:00 UTC has passed: "
        "nobody can be sent it; `onramp campaign send` refuses it; set a later send_at and "
        "expires_at, or remove the file"
    ]
