"""`onramp check`: each broken content tree gives the exact error a manager should read."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from flows.content import load_tree
from flows.problems import ContentError
from tests.features import ACTIONS
from tests.support.launcher import run_module

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
    ask: {
      en: Pick one, fr: Choisissez,
      es: Elige, pt: Escolha,
      ar: اختر, sw: Chagua }
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
    loaded, problems = load_tree(root, actions=ACTIONS)
    assert loaded is None, "a broken tree must not load"
    return [str(p) for p in problems if p.severity == "error"]


def test_the_shipped_content_is_valid_with_no_warnings() -> None:
    loaded, problems = load_tree(CONTENT, actions=ACTIONS)
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
    loaded, _ = load_tree(tree, actions=ACTIONS)
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


def test_missing_translation_for_a_declared_locale_is_a_coverage_warning(tree: Path) -> None:
    path = tree / "flows" / "hello.yaml"
    path.write_text(MINIMAL_FLOW.replace(" es: Elige,", ""), encoding="utf-8")
    _, problems = load_tree(tree, actions=ACTIONS)
    assert [str(p) for p in problems if p.file == "content/flows/hello.yaml"] == [
        "content/flows/hello.yaml:10: warning: 'es' covers 0 of 1 texts (0%); the rest is "
        "shown in English; onramp i18n export --locale es makes PO files to translate"
    ]  # one line for the file, however many of its texts miss 'es'; and no error


def test_missing_text_in_the_default_locale_is_an_error(tree: Path) -> None:
    errors = errors_after(tree, lambda s: s.replace(" en: Pick one,", ""))
    assert [e for e in errors if e.startswith("content/flows/hello.yaml")] == [
        "content/flows/hello.yaml:10 step 'pick': missing the 'en' text; add 'en:' here: 'en' "
        "is the community's default_locale, shown whenever a member's language has no "
        "translation"
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
        "content/flows/hello.yaml:25 step 'find_mentor': {{ answers.pik }}: flow 'hello' has no "
        "ask step 'pik'; did you mean 'pick'?"
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
    _, problems = load_tree(tmp_path / "content", actions=ACTIONS)
    messages = [str(p) for p in problems]
    assert "content/community.yaml:1: file not found; it is required" in messages
    assert any("no flows found" in m for m in messages)


def test_long_button_labels_only_warn(tree: Path) -> None:
    path = tree / "flows" / "hello.yaml"
    path.write_text(MINIMAL_FLOW.replace("label: A", "label: A label far too long for a button"))
    loaded, problems = load_tree(tree, actions=ACTIONS)
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
    loaded, problems = load_tree(tree, actions=ACTIONS)
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
        load_tree_or_raise(tree, actions=ACTIONS)
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
    loaded, problems = load_tree(tree, actions=ACTIONS)
    # A locale's missing file is a text not translated yet: shown in the default locale.
    assert loaded is not None
    assert (
        "content/flows/hello.yaml:8: warning: 'es' covers 1 of 2 texts (50%); the rest is "
        "shown in English; onramp i18n export --locale es makes PO files to translate"
    ) in [str(p) for p in problems if p.file.endswith("hello.yaml")]
    for locale, text in (("es", "**Hola**"), ("pt", "Oi"), ("ar", "مرحبا"), ("sw", "Habari")):
        (tree / "messages" / locale).mkdir()
        (tree / "messages" / locale / "greeting.md").write_text(text, encoding="utf-8")
    loaded, problems = load_tree(tree, actions=ACTIONS)
    assert loaded is not None
    assert [str(p) for p in problems if p.file.endswith("hello.yaml")] == []
    greet = loaded.flows["hello"].steps[0]
    assert greet.say["es"] == "**Hola**"  # type: ignore[union-attr]
    (tree / "messages" / "en" / "greeting.md").unlink()
    assert errors_after(tree, lambda s: s) == [
        "content/flows/hello.yaml:8 step 'greet': message file "
        "content/messages/en/greeting.md not found; write it, or check the name 'greeting'"
    ]


def test_keywords_match_words_and_phrases(tree: Path) -> None:
    path = tree / "flows" / "hello.yaml"
    path.write_text(
        MINIMAL_FLOW.replace(
            "  command: hello", "  command: hello\n  keywords: [mentor, 'first issue']"
        )
    )
    loaded, _ = load_tree(tree, actions=ACTIONS)
    assert loaded is not None
    assert loaded.flow_for_keyword("I'd like a MENTOR?") is loaded.flows["hello"]
    assert loaded.flow_for_keyword("any first  issue for me") is loaded.flows["hello"]
    assert loaded.flow_for_keyword("mentorship") is None


def test_the_shipped_matching_rules_are_the_defaults() -> None:
    from bot.mentorship.matching import Rules

    loaded, _ = load_tree(CONTENT, actions=ACTIONS)
    assert loaded is not None
    assert Rules.from_content(loaded.matching) == Rules()


def test_matching_rules_are_read_from_content(tree: Path) -> None:
    from bot.mentorship.matching import Rules

    path = tree / "matching.yaml"
    path.write_text("schema_version: 1\nhard: [language, timezone]\nweights:\n  topics: 5\n")
    loaded, _ = load_tree(tree, actions=ACTIONS)
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
    from flows.feature_settings import Checkins

    loaded, _ = load_tree(tree, actions=ACTIONS)
    assert loaded is not None
    assert loaded.checkins == Checkins()
    assert loaded.checkins.schedule.offsets() == [3, 7, 21, 35, 49, 63, 77, 90]
    (tree / "checkins.yaml").write_text(
        "schema_version: 1\nschedule: {days: [1], every: null, until: 30}\ngrace: 12h\n"
    )
    loaded, _ = load_tree(tree, actions=ACTIONS)
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
    lines = (tree / "matching.yaml").read_text(encoding="utf-8").splitlines()
    line = lines.index("offer_flow: mentor_offer") + 1
    errors = errors_after(
        tree,
        lambda text: text.replace("offer_flow: mentor_offer", "offer_flow: offers"),
        "matching.yaml",
    )
    # Only this: the offer flow nothing starts now is not blamed for its context as well.
    assert errors == [
        f"content/matching.yaml:{line}: flow 'offers' does not exist; add content/flows/offers.yaml"
    ]


# Templates are type-checked: every name a template reads must exist where it is rendered.
LINKS = "channels, code_of_conduct, contributing, first_tasks, privacy"


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (
            lambda s: s.replace("say: Hi!", "say: 'Hi {{ member.nmae }}'"),
            "content/flows/hello.yaml:8 step 'greet': {{ member.nmae }}: member has no field "
            "'nmae'; did you mean 'name'?",
        ),
        (
            lambda s: s.replace("say: Hi!", "say: 'See {{ community.links.no_such_link }}'"),
            "content/flows/hello.yaml:8 step 'greet': {{ community.links.no_such_link }}: "
            f"community.yaml has no link 'no_such_link'; add it under links in community.yaml "
            f"(links: {LINKS})",
        ),
        (
            lambda s: s.replace("say: Hi!", "say: 'Read {{ community.links.privcy }}'"),
            "content/flows/hello.yaml:8 step 'greet': {{ community.links.privcy }}: "
            "community.yaml has no link 'privcy'; did you mean 'privacy'?",
        ),
        (
            lambda s: s.replace("say: Hi!", "say: 'Welcome to {{ community.nmae }}'"),
            "content/flows/hello.yaml:8 step 'greet': {{ community.nmae }}: community has no "
            "'nmae'; did you mean 'name'?",
        ),
        (
            # `greet` comes before the question `pick` on every path.
            lambda s: s.replace("say: Hi!", "say: 'You picked {{ answers.pick }}'"),
            "content/flows/hello.yaml:8 step 'greet': {{ answers.pick }}: ask step 'pick' never "
            "comes before this step, so there is no answer yet; use it in a step after 'pick', "
            "or write {{ answers.pick | default('') }}",
        ),
        (
            lambda s: s.replace("say: Mentor!", "say: '{{ context.newcomer }}'"),
            "content/flows/hello.yaml:25 step 'find_mentor': {{ context.newcomer }}: no context "
            "'newcomer' is passed to flow 'hello'; it gets no context (/hello: no context)",
        ),
        (
            lambda s: s.replace("say: Mentor!", "say: 'You have {{ count }}'"),
            "content/flows/hello.yaml:25 step 'find_mentor': {{ count }}: this step has no "
            'count; add count: "{{ … }}" to say which number it shows',
        ),
        (
            lambda s: s.replace("say: Mentor!", "say: '{{ member.name | uppr }}'"),
            "content/flows/hello.yaml:25 step 'find_mentor': template error: no filter named "
            "'uppr'; did you mean 'upper'?",
        ),
        (
            lambda s: s.replace("title: Hello", "title: 'Hello {{ member.name }}'"),
            "content/flows/hello.yaml:3: {{ member.name }}: flow titles are also shown in "
            "command menus, where no member is known, so they can use no variables",
        ),
    ],
)
def test_a_template_reading_what_is_not_there(tree: Path, edit: Edit, error: str) -> None:
    assert errors_after(tree, edit) == [error]


def test_an_answer_asked_only_after_a_loop_back_is_there(tree: Path) -> None:
    """Paths, not the order in the file: a step after the question in the file but reached
    only before it is an error; one before it in the file but reached after it is not."""
    flow = """\
schema_version: 1
id: hello
title: Hello
trigger:
  command: hello
steps:
  - id: start
    goto: pick
  - id: thanks
    say: 'You picked {{ answers.pick }}'
    next: bye
  - id: pick
    ask: 'Pick one'
    choices:
      - id: a
        label: A
      - id: b
        label: B
    next: thanks
  - id: bye
    end: true
"""
    (tree / "flows" / "hello.yaml").write_text(flow, encoding="utf-8")
    loaded, problems = load_tree(tree, actions=ACTIONS)
    assert loaded is not None and problems == []


def test_an_answer_asked_on_some_paths_only_warns(tree: Path) -> None:
    errors_after_edit = MINIMAL_FLOW.replace(
        "    say: Mentor!",
        "    say: 'Mentor!'\n  - id: ask_name\n    ask: 'Name?'\n    input: text",
    ).replace("  - id: bye\n    end: true", "  - id: bye\n    end: 'Bye {{ answers.ask_name }}'")
    (tree / "flows" / "hello.yaml").write_text(errors_after_edit, encoding="utf-8")
    loaded, problems = load_tree(tree, actions=ACTIONS)
    assert loaded is not None
    assert [str(p) for p in problems] == [
        "content/flows/hello.yaml:30 step 'bye': warning: {{ answers.ask_name }}: some paths "
        "reach this step without asking 'ask_name', and then this text fails; write "
        "{{ answers.ask_name | default('') }}, or test {% if answers.ask_name is defined %}"
    ]
    guarded = errors_after_edit.replace(
        "{{ answers.ask_name }}", '{{ answers.ask_name | default("friend") }}'
    )
    (tree / "flows" / "hello.yaml").write_text(guarded, encoding="utf-8")
    assert load_tree(tree, actions=ACTIONS)[1] == []


def test_a_profile_field_is_there_once_this_flow_has_set_it(tree: Path) -> None:
    (tree / "flows" / "hello.yaml").write_text(
        MINIMAL_FLOW.replace("say: Hi!", "say: 'You said {{ member.experience }}'"),
        encoding="utf-8",
    )
    loaded, problems = load_tree(tree, actions=ACTIONS)
    assert loaded is not None
    assert [str(p) for p in problems] == [
        "content/flows/hello.yaml:8 step 'greet': warning: {{ member.experience }}: members "
        "have no 'experience' until a flow sets it, and then this text fails for them; write "
        "{{ member.experience | default('') }}, or test {% if member.experience is defined %}"
    ]
    set_first = MINIMAL_FLOW.replace(
        "  - id: greet\n    say: Hi!",
        "  - id: remember\n    set: {experience: some}\n"
        "  - id: greet\n    say: 'You said {{ member.experience }}'",
    )
    (tree / "flows" / "hello.yaml").write_text(set_first, encoding="utf-8")
    assert load_tree(tree, actions=ACTIONS)[1] == []


def test_filters_ifs_loops_and_sets_raise_no_false_alarm(tree: Path) -> None:
    say = (
        "    say:\n      '*': |\n"
        "        {% set greeting = 'Hello' %}{{ greeting }} {{ member.name | default('you') }}\n"
        "        {% for item in answers.pick | list %}{{ loop.index }}. {{ item | upper }}"
        "{% endfor %}\n"
        "        {% for key, link in community.links.items() %}{{ key }}: {{ link }}{% endfor %}\n"
        "        {% if member.interests is defined %}{{ member.interests | join(', ') }}"
        "{% endif %}\n"
        "        {{ member.name.upper() }} {{ member['locale'] }} {{ range(3) | list | length }}\n"
        "        {% if answers.pick == 'a' %}A{% elif answers.pick == 'b' %}B{% endif %}\n"
        "        {% macro cite(who) %}«{{ who }}»{% endmacro %}{{ cite(member.name) }}\n"
        "        {{ answers.pick | default('') }} {{ community.name ~ '!' }}\n"
        "        {{ member.roles | join(', ') if member.roles else '' }}\n"
    )
    # Before `pick` is asked, its answer guarded by a default, or by `is defined`, is fine.
    greet = "say: '{{ answers.pick | default(\"\") }}{% if answers.pick is defined %}!{% endif %}'"
    (tree / "flows" / "hello.yaml").write_text(
        MINIMAL_FLOW.replace("    say: Mentor!", say).replace("say: Hi!", greet), encoding="utf-8"
    )
    loaded, problems = load_tree(tree, actions=ACTIONS)
    assert [str(p) for p in problems] == []
    assert loaded is not None


def test_the_line_is_the_one_in_a_literal_block(tree: Path) -> None:
    block = "    say:\n      '*': |\n        First line\n        Then {{ member.nmae }}\n"
    errors = errors_after(tree, lambda s: s.replace("    say: Mentor!\n", block))
    assert errors == [
        "content/flows/hello.yaml:28 step 'find_mentor': {{ member.nmae }}: member has no "
        "field 'nmae'; did you mean 'name'?"
    ]
    assert (tree / "flows" / "hello.yaml").read_text().splitlines()[27].strip() == (
        "Then {{ member.nmae }}"
    )


def test_a_markdown_message_file_is_named_with_its_own_line(tree: Path) -> None:
    for locale in ("en", "fr", "es"):
        folder = tree / "messages" / locale
        folder.mkdir(parents=True, exist_ok=True)
        body = "\n**Hi**\n\nWelcome, {{ member.nmae }}!\n" if locale == "fr" else "Hi\n"
        (folder / "greeting.md").write_text(body, encoding="utf-8")
    errors = errors_after(tree, lambda s: s.replace("say: Hi!", "say: {md: greeting}"))
    assert errors == [
        "content/messages/fr/greeting.md:4 step 'greet': {{ member.nmae }}: member has no "
        "field 'nmae'; did you mean 'name'?"
    ]


@pytest.mark.parametrize(
    ("key", "before", "after", "error"),
    [
        (
            "kudos_thanks",
            "{{ context.name }}",
            "{{ context.nmae }}",
            "{{ context.nmae }}: no context 'nmae' is passed to system text 'kudos_thanks'; "
            "did you mean 'name'?",
        ),
        (
            "reminder",
            '"\n',
            ' {{ answers.consent }}"\n',
            "{{ answers.consent }}: there are no answers in system text 'reminder'; only the "
            "texts of a flow's steps can use answers of its ask steps",
        ),
        (
            "command_stop",
            '"\n',
            ' {{ member.name }}"\n',
            "{{ member.name }}: this text is also shown where no member is known, so it can use "
            "no variables",
        ),
        (
            "stopped",
            '"\n',
            ' {{ count }}"\n',
            "{{ count }}: the code says stopped without a number (flows/system_texts.py)",
        ),
    ],
)
def test_system_texts_read_what_the_code_passes_them(
    tree: Path, key: str, before: str, after: str, error: str
) -> None:
    path = tree / "system.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = lines.index(f"  {key}:\n")
    line = next(n for n in range(start + 1, len(lines)) if lines[n].startswith("    en:"))
    assert before in lines[line], lines[line]
    lines[line] = lines[line].replace(before, after, 1)
    path.write_text("".join(lines), encoding="utf-8")
    loaded, problems = load_tree(tree, actions=ACTIONS)
    assert loaded is None
    assert [str(p) for p in problems if p.severity == "error"] == [
        f"content/system.yaml:{line + 1}: {error}"
    ]


def test_a_campaign_message_knows_only_the_member_name(tree: Path) -> None:
    path = tree / "campaigns" / "community_call.yaml"
    text = path.read_text(encoding="utf-8")
    assert "{{ member.name }}" in text
    errors = errors_after(
        tree,
        lambda s: s.replace("{{ member.name }}", "{{ member.timezone }}", 1),
        "campaigns/community_call.yaml",
    )
    assert len(errors) == 1
    assert errors[0].endswith(
        "{{ member.timezone }}: only member.name can be used in campaign messages"
    )


def test_badge_texts_use_no_variables(tree: Path) -> None:
    errors = errors_after(
        tree,
        lambda s: s.replace("en: finished the welcome", "en: 'finished, {{ member.name }}'"),
        "badges.yaml",
    )
    assert errors == [
        "content/badges.yaml:12: {{ member.name }}: badge and category names and descriptions "
        "are shown without variables (in /badges, kudos and announcements)"
    ]


def test_context_a_flow_gets_only_one_way_it_starts_warns(tree: Path) -> None:
    path = tree / "flows" / "mentor_offer.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("  feature: true", "  command: offer"),
        encoding="utf-8",
    )
    loaded, problems = load_tree(tree, actions=ACTIONS)
    assert loaded is not None
    lines = path.read_text(encoding="utf-8").splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "**{{ context.newcomer }}**" in text)
    assert str(problems[0]) == (
        f"content/flows/mentor_offer.yaml:{line} step 'offer': warning: "
        "{{ context.newcomer }}: "
        "'newcomer' is not always passed to flow 'mentor_offer' (/offer: no context; "
        "matching.yaml offer_flow: deadline, interests, newcomer, offer, reasons), and then "
        "this text fails; write {{ context.newcomer | default('') }}"
    )


def test_context_only_some_calls_pass_warns(tree: Path) -> None:
    path = tree / "system.yaml"
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    line = lines.index("  kudos_usage:") + 2
    path.write_text(
        text.replace("say what for: /kudos @name", "say what for: /kudos @{{ context.name }}", 1),
        encoding="utf-8",
    )
    loaded, problems = load_tree(tree, actions=ACTIONS)
    assert loaded is not None
    assert [str(p) for p in problems] == [
        f"content/system.yaml:{line}: warning: {{{{ context.name }}}}: 'name' is not always "
        "passed to system text 'kudos_usage' (only by some of the calls in the code), and then "
        "this text fails; write {{ context.name | default('') }}"
    ]


def test_onramp_check_names_the_typos_of_the_issue(tmp_path: Path) -> None:
    """Issue 15: `onramp check` said "All good." to both, and every answer then failed."""
    import os

    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    flow = content / "flows" / "onboarding.yaml"
    text = flow.read_text(encoding="utf-8")
    lines = text.splitlines()
    welcome = next(
        n for n, line in enumerate(lines, 1) if "{{ member.name }}{% endif %}, and" in line
    )
    privacy = next(n for n, line in enumerate(lines, 1) if "Privacy notice:" in line)
    flow.write_text(
        text.replace(
            "{{ member.name }}{% endif %}, and", "{{ member.nmae }}{% endif %}, and"
        ).replace(
            "Privacy notice: {{ community.links.privacy }}",
            "Privacy notice: {{ community.links.no_such_link }}",
        ),
        encoding="utf-8",
    )
    result = run_module(
        "bot.cli",
        ["check"],
        cwd=CONTENT.parent,
        env={**os.environ, "ONRAMP_CONTENT__PATH": str(content)},
    )
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"content/flows/onboarding.yaml:{welcome} step 'welcome': {{{{ member.nmae }}}}: member "
        "has no field 'nmae'; did you mean 'name'?",
        f"content/flows/onboarding.yaml:{privacy} step 'consent': "
        "{{ community.links.no_such_link }}: community.yaml has no link 'no_such_link'; add it "
        f"under links in community.yaml (links: {LINKS})",
        f"2 error(s), 0 warning(s) in {content}",
    ]
