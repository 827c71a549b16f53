"""`onramp check`: each broken content tree gives the exact error a manager should read."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import bot.features  # noqa: F401  (registers actions, as the CLI does)
from flows.content import load_tree
from flows.problems import ContentError

CONTENT = Path(__file__).resolve().parents[2] / "content"

MINIMAL_FLOW = """\
schema_version: 1
id: hello
title: Hello
trigger:
  command: hello
steps:
  - id: greet
    say: Hi!
  - id: pick
    ask:
      en: Pick one
      fr: Choisissez
      es: Elige
    choices:
      - id: a
        label: A
      - id: b
        label: B
  - id: route
    branch:
      - when: { answer: pick, equals: a }
        goto: find_mentor
    otherwise: bye
  - id: find_mentor
    say: Mentor!
  - id: bye
    end: true
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    (root / "flows" / "hello.yaml").write_text(MINIMAL_FLOW, encoding="utf-8")
    return root


Edit = Callable[[str], str]


def errors_after(root: Path, edit: Edit, file: str = "flows/hello.yaml") -> list[str]:
    path = root / file
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    loaded, problems = load_tree(root)
    assert loaded is None, "a broken tree must not load"
    return [str(p) for p in problems if p.severity == "error"]


def test_the_shipped_content_is_valid_with_no_warnings() -> None:
    loaded, problems = load_tree(CONTENT)
    assert loaded is not None
    assert [str(p) for p in problems] == []
    assert set(loaded.flows) == {
        "onboarding",
        "feedback",
        "mentor_signup",
        "mentor_offer",
        "mentor_checkin",
        "mentor_feedback",
        "onboarding_survey",
    }
    assert set(loaded.campaigns) == {"community_call", "onboarding_survey"}


def test_the_minimal_flow_loads(tree: Path) -> None:
    loaded, _ = load_tree(tree)
    assert loaded is not None and "hello" in loaded.flows


def test_unknown_goto_names_file_line_step_and_suggests(tree: Path) -> None:
    errors = errors_after(tree, lambda s: s.replace("goto: find_mentor", "goto: find_mentr"))
    assert errors == [
        "content/flows/hello.yaml:22 step 'route': goto 'find_mentr' does not exist; "
        "did you mean 'find_mentor'?"
    ]


def test_unknown_key_is_rejected_with_a_suggestion(tree: Path) -> None:
    errors = errors_after(tree, lambda s: s.replace("    otherwise: bye", "    otherwize: bye"))
    assert errors == [
        "content/flows/hello.yaml:23 step 'route': unknown key 'otherwize'; "
        "did you mean 'otherwise'?"
    ]


def test_malformed_yaml_names_the_line(tree: Path) -> None:
    errors = errors_after(tree, lambda s: s.replace("    say: Mentor!", "    say: [Mentor!"))
    assert len(errors) == 1
    assert errors[0].startswith("content/flows/hello.yaml:")
    assert "invalid YAML" in errors[0]


def test_duplicate_step_ids(tree: Path) -> None:
    errors = errors_after(tree, lambda s: s.replace("id: find_mentor", "id: greet"))
    assert (
        "content/flows/hello.yaml:24 step 'greet': duplicate step id (first used on line 7); "
        "step ids must be unique within a flow" in errors
    )


def test_missing_translation_for_a_declared_locale(tree: Path) -> None:
    errors = errors_after(tree, lambda s: s.replace("      es: Elige\n", ""))
    assert errors == [
        "content/flows/hello.yaml:10 step 'pick': missing the 'es' translation; "
        "add 'es:' here (every locale in community.yaml needs one)"
    ]


def test_unknown_action(tree: Path) -> None:
    errors = errors_after(tree, lambda s: s.replace("    say: Mentor!", "    action: add_rol"))
    assert errors == [
        "content/flows/hello.yaml:25 step 'find_mentor': unknown action 'add_rol'; "
        "did you mean 'add_role'?"
    ]


def test_action_parameters_are_checked(tree: Path) -> None:
    errors = errors_after(
        tree, lambda s: s.replace("    say: Mentor!", "    action: add_role\n    with: {rol: x}")
    )
    assert any("step 'find_mentor': action 'add_role'" in e and "role" in e for e in errors)


def test_template_variable_outside_the_allow_list(tree: Path) -> None:
    errors = errors_after(tree, lambda s: s.replace("say: Hi!", "say: 'Hi {{ secret }}'"))
    assert errors == [
        "content/flows/hello.yaml:8 step 'greet': template uses unknown variable 'secret'; "
        "use one of: answers, community, context, count, member"
    ]


def test_template_referring_to_an_unknown_answer(tree: Path) -> None:
    errors = errors_after(tree, lambda s: s.replace("say: Mentor!", "say: '{{ answers.pik }}'"))
    assert errors == [
        "content/flows/hello.yaml:25 step 'find_mentor': template uses answers.pik, but no ask "
        "step 'pik' comes before it in this flow; did you mean 'pick'?"
    ]


def test_branch_on_an_answer_that_is_never_asked(tree: Path) -> None:
    errors = errors_after(tree, lambda s: s.replace("answer: pick,", "answer: color,"))
    assert errors == [
        "content/flows/hello.yaml:21 step 'route': no ask step 'color' comes before this branch"
    ]


def test_a_step_with_no_type(tree: Path) -> None:
    errors = errors_after(tree, lambda s: s.replace("    say: Mentor!", "    sya: Mentor!"))
    assert any(
        e.startswith("content/flows/hello.yaml:24 step 'find_mentor': a step has exactly one of")
        for e in errors
    )


def test_reserved_command(tree: Path) -> None:
    errors = errors_after(tree, lambda s: s.replace("command: hello", "command: stop"))
    assert errors == [
        "content/flows/hello.yaml:5: '/stop' is a built-in command; choose another command name"
    ]


def test_loop_without_a_question(tree: Path) -> None:
    errors = errors_after(
        tree,
        lambda s: (
            s.replace("    say: Mentor!", "    say: Mentor!\n    next: route")
            .replace("goto: find_mentor", "goto: find_mentor")
            .replace("  - id: route\n", "  - id: route\n")
            .replace("    otherwise: bye", "    otherwise: find_mentor")
        ),
    )
    assert any("loop forever without asking" in e for e in errors)


def test_bad_regex_and_duration(tree: Path) -> None:
    broken = MINIMAL_FLOW.replace(
        "    choices:\n      - id: a\n        label: A\n      - id: b\n        label: B\n",
        "    input: regex\n    pattern: '[a-'\n    timeout: soon\n",
    )
    errors = errors_after(tree, lambda _: broken)
    assert any("step 'pick'" in e and "duration" in e for e in errors)


def test_setting_an_undeclared_profile_field(tree: Path) -> None:
    errors = errors_after(
        tree, lambda s: s.replace("    say: Mentor!", "    set: {favourite_colour: blue}")
    )
    assert errors == [
        "content/flows/hello.yaml:25 step 'find_mentor': cannot set profile field "
        "'favourite_colour'; declare it under profile_fields in community.yaml"
    ]


def test_missing_system_text(tree: Path) -> None:
    errors = errors_after(
        tree, lambda s: s.replace("  reminder:\n", "  remindr:\n"), file="system.yaml"
    )
    assert any("missing system text 'reminder'" in e for e in errors)


def test_missing_community_file_and_flows(tmp_path: Path) -> None:
    (tmp_path / "content").mkdir()
    _, problems = load_tree(tmp_path / "content")
    messages = [str(p) for p in problems]
    assert "content/community.yaml:1: file not found; it is required" in messages
    assert any("no flows found" in m for m in messages)


def test_long_button_labels_only_warn(tree: Path) -> None:
    path = tree / "flows" / "hello.yaml"
    path.write_text(MINIMAL_FLOW.replace("label: A", "label: A label far too long for a button"))
    loaded, problems = load_tree(tree)
    assert loaded is not None
    assert [p.severity for p in problems] == ["warning"]
    assert "WhatsApp buttons show at most 20" in str(problems[0])


def test_a_timeout_without_a_whatsapp_template_warns(tree: Path) -> None:
    path = tree / "flows" / "hello.yaml"
    path.write_text(
        MINIMAL_FLOW.replace(
            "      - id: b\n        label: B\n",
            "      - id: b\n        label: B\n    timeout: 2d\n",
        )
    )
    loaded, problems = load_tree(tree)
    assert loaded is not None
    assert [str(p) for p in problems] == [
        "content/flows/hello.yaml:19 step 'pick': warning: the nudge after this timeout has no "
        "whatsapp_template; WhatsApp members who last wrote over 24 hours ago will not get it; "
        "add whatsapp_template: {name: <an approved template>} to this step"
    ]


@pytest.mark.parametrize(
    ("added", "line", "error"),
    [
        (
            "    whatsapp_template: { name: Reminder! }\n",
            19,
            "String should match pattern '^[a-z0-9_]{1,512}$'; a WhatsApp template's name as "
            "approved: lowercase letters, digits and _",
        ),
        (
            "    whatsapp_template: { name: reminder }\n",
            9,  # the step as a whole
            "a 'whatsapp_template' stands in for the nudge sent after 'timeout'; add a timeout "
            "such as 2d",
        ),
        (
            "    timeout: 1d\n    whatsapp_template: { name: hi, parameters: ['{{ nam }}'] }\n",
            20,
            "template uses unknown variable 'nam'; use one of: answers, community, context, "
            "count, member",
        ),
    ],
)
def test_whatsapp_templates_are_checked(tree: Path, added: str, line: int, error: str) -> None:
    def edit(text: str) -> str:
        return text.replace(
            "      - id: b\n        label: B\n", f"      - id: b\n        label: B\n{added}"
        )

    assert errors_after(tree, edit) == [f"content/flows/hello.yaml:{line} step 'pick': {error}"]


def test_every_error_is_reported_at_once(tree: Path) -> None:
    errors = errors_after(
        tree,
        lambda s: s.replace("goto: find_mentor", "goto: nowhere").replace(
            "say: Hi!", "say: '{{ nope }}'"
        ),
    )
    assert len(errors) == 2


def test_loading_invalid_content_raises_with_every_problem(tree: Path) -> None:
    from flows.content import load_tree_or_raise

    (tree / "flows" / "hello.yaml").write_text(
        MINIMAL_FLOW.replace("goto: find_mentor", "goto: gone")
    )
    with pytest.raises(ContentError) as raised:
        load_tree_or_raise(tree)
    assert "goto 'gone' does not exist" in str(raised.value)


def test_consent_must_be_set_to_a_literal(tree: Path) -> None:
    errors = errors_after(
        tree, lambda s: s.replace("    say: Mentor!", "    set: {consent: '{{ answers.pick }}'}")
    )
    assert errors == [
        "content/flows/hello.yaml:25 step 'find_mentor': consent is set to true or false; "
        "branch on the answer, then set consent: true (or false)"
    ]


def test_only_the_onboarding_flow_starts_on_join(tree: Path) -> None:
    errors = errors_after(tree, lambda s: s.replace("  command: hello", "  member_joined: true"))
    assert errors == [
        "content/flows/hello.yaml:4: member_joined is for the community's onboarding_flow only; "
        "a newcomer gets exactly one welcome: the onboarding_flow"
    ]


def test_markdown_message_files(tree: Path) -> None:
    for locale, text in (("en", "**Hi** there"), ("fr", "**Salut**")):
        folder = tree / "messages" / locale
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "greeting.md").write_text(text + "\n", encoding="utf-8")
    path = tree / "flows" / "hello.yaml"
    path.write_text(MINIMAL_FLOW.replace("say: Hi!", "say: {md: greeting}"), encoding="utf-8")
    _, problems = load_tree(tree)
    assert [str(p) for p in problems] == [
        "content/flows/hello.yaml:8 step 'greet': message file "
        "content/messages/es/greeting.md not found; write it, or check the name 'greeting'"
    ]
    (tree / "messages" / "es").mkdir()
    (tree / "messages" / "es" / "greeting.md").write_text("**Hola**", encoding="utf-8")
    loaded, problems = load_tree(tree)
    assert loaded is not None and problems == []
    greet = loaded.flows["hello"].steps[0]
    assert greet.say == {"en": "**Hi** there", "fr": "**Salut**", "es": "**Hola**"}  # type: ignore[union-attr]


def test_keywords_match_words_and_phrases(tree: Path) -> None:
    path = tree / "flows" / "hello.yaml"
    path.write_text(
        MINIMAL_FLOW.replace(
            "  command: hello", "  command: hello\n  keywords: [mentor, 'first issue']"
        )
    )
    loaded, _ = load_tree(tree)
    assert loaded is not None
    assert loaded.flow_for_keyword("I'd like a MENTOR?") is loaded.flows["hello"]
    assert loaded.flow_for_keyword("any first  issue for me") is loaded.flows["hello"]
    assert loaded.flow_for_keyword("mentorship") is None


def test_the_shipped_matching_rules_are_the_defaults() -> None:
    from bot.matching import Rules

    loaded, _ = load_tree(CONTENT)
    assert loaded is not None
    assert Rules.from_content(loaded.matching) == Rules()


def test_matching_rules_are_read_from_content(tree: Path) -> None:
    from bot.matching import Rules

    path = tree / "matching.yaml"
    path.write_text("schema_version: 1\nhard: [language, timezone]\nweights:\n  topics: 5\n")
    loaded, _ = load_tree(tree)
    assert loaded is not None
    rules = Rules.from_content(loaded.matching)
    assert rules.hard == {"language", "timezone"} and rules.weights["topics"] == 5
    assert rules.weights["timezone"] == 2  # what the file leaves out keeps its default


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("hard: [language, height]", "content/matching.yaml:"),
        ("weights:\n  topics: -1", "greater than or equal to 0"),
        ("newcomer_hours: [9, 25]", "less than or equal to 23"),
        ("wieghts: {}", "wieghts"),
        (
            "weights: {topics: 0, timezone: 0, language: 0, experience: 0}",
            "give at least one criterion a weight",
        ),
    ],
)
def test_a_broken_matching_file_names_file_and_line(tree: Path, line: str, expected: str) -> None:
    errors = errors_after(tree, lambda _: f"schema_version: 1\n{line}\n", "matching.yaml")
    assert errors and all(e.startswith("content/matching.yaml:") for e in errors), errors
    assert any(expected in e for e in errors), errors


def test_the_shipped_check_in_schedule_is_the_default_and_offsets_follow_it(tree: Path) -> None:
    from flows.schema import Checkins

    loaded, _ = load_tree(tree)
    assert loaded is not None
    assert loaded.checkins == Checkins()
    assert loaded.checkins.schedule.offsets() == [3, 7, 21, 35, 49, 63, 77, 90]
    (tree / "checkins.yaml").write_text(
        "schema_version: 1\nschedule: {days: [1], every: null, until: 30}\ngrace: 12h\n"
    )
    loaded, _ = load_tree(tree)
    assert loaded is not None
    assert loaded.checkins.schedule.offsets() == [1, 30]
    assert loaded.checkins.grace.total_seconds() == 12 * 3600


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("schedule: {days: [7, 3]}", "'days' must go up"),
        ("schedule: {days: [3, 100], until: 90}", "day 100 is after 'until' (90)"),
        ("quiet_hours: [21, 24]", "less than or equal to 23"),
        ("grace: soon", "a duration is a number and a unit"),
        ("escalation: {low_score: 6}", "less than or equal to 5"),
        ("checkin_flow: mentor_chekin", "flow 'mentor_chekin' does not exist; did you mean"),
        ("feedback_flow: exit_survey", "add content/flows/exit_survey.yaml"),
    ],
)
def test_a_broken_check_in_file_names_file_and_line(tree: Path, text: str, expected: str) -> None:
    errors = errors_after(tree, lambda _: f"schema_version: 1\n{text}\n", "checkins.yaml")
    assert errors and all(e.startswith("content/checkins.yaml:2") for e in errors), errors
    assert any(expected in e for e in errors), errors


def test_matching_must_name_flows_that_exist(tree: Path) -> None:
    errors = errors_after(
        tree,
        lambda text: text.replace("offer_flow: mentor_offer", "offer_flow: offers"),
        "matching.yaml",
    )
    assert errors == [
        "content/matching.yaml:43: flow 'offers' does not exist; add content/flows/offers.yaml"
    ]
