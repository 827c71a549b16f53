"""Type-checking one template against a scope: what Jinja allows must not raise false alarms,
and what fails at run time must be caught."""

from __future__ import annotations

import pytest
from jinja2 import StrictUndefined, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from flows.template_types import ALWAYS, MAYBE, Scope, check_template

SCOPE = Scope(
    "flow 'hello'",
    member={"name": ALWAYS, "locale": ALWAYS, "experience": MAYBE},
    member_known=frozenset({"name", "locale", "experience", "timezone"}),
    links=frozenset({"privacy", "contributing"}),
    answers={"colour": ALWAYS, "size": MAYBE},
    asks=frozenset({"colour", "size", "later"}),
    context={"partner": ALWAYS},
)
# What the bot renders with, for the same scope: a member who never set `experience`, and who
# was not asked `size` (nor `later`).
VARIABLES = {
    "member": {"name": "Ada", "locale": "en"},
    "community": {"name": "OHC", "links": {"privacy": "https://p", "contributing": "https://c"}},
    "answers": {"colour": "red"},
    "context": {"partner": "Bea"},
    "count": None,
}


def _renders(source: str) -> bool:
    environment = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    try:
        environment.from_string(source).render(**VARIABLES)
    except UndefinedError:
        return False
    return True


@pytest.mark.parametrize(
    "source",
    [
        "{% if member.experience is defined %}{{ member.experience }}{% endif %}",
        "{{ member.experience if member.experience is defined else '' }}",
        "{{ answers.size | default('M') }} {{ answers.later | d('') }}",
        "{% if answers.size is defined and answers.colour %}{{ answers.size }}{% endif %}",
        "{% set member = {'nmae': 1} %}{{ member.nmae }}",
        "{% for member in [1, 2] %}{{ member }}{% endfor %}",
        "{% for k, v in community.links.items() %}{{ k }}{{ loop.index }}{% endfor %}",
        "{{ member.get('anything') }} {{ member.name.upper() }} {{ member['locale'] }}",
        "{% set key = 'colour' %}{{ answers[key] }}",
        "{% macro line(x) %}- {{ x }}{% endmacro %}{{ line(context.partner) }}",
        "{{ community.name ~ ': ' ~ community.links.privacy }}",
        "{% raw %}{{ member.nmae }}{% endraw %}",
    ],
)
def test_what_renders_is_not_reported(source: str) -> None:
    assert _renders(source)
    assert check_template(source, SCOPE) == []


@pytest.mark.parametrize(
    ("source", "message", "severity"),
    [
        ("{{ member.nmae }}", "{{ member.nmae }}: member has no field 'nmae'", "error"),
        ("{{ member.nmae.upper() }}", "{{ member.nmae }}: member has no field 'nmae'", "error"),
        (
            "{{ member.timezone }}",
            "{{ member.timezone }}: only member.experience, member.locale, member.name can be "
            "used in flow 'hello'",
            "error",
        ),
        (
            "{% if member.experience %}x{% endif %}",
            "{{ member.experience }}: members have no 'experience' until a flow sets it, and "
            "then this text fails for them",
            "warning",
        ),
        (
            # `default` guards only what it is given: the chain fails before it gets there.
            "{{ answers.size.upper() | default('') }}",
            "{{ answers.size }}: some paths reach this step without asking 'size', and then "
            "this text fails",
            "warning",
        ),
        (
            "{{ answers.later }}",
            "{{ answers.later }}: ask step 'later' never comes before this step, so there is no "
            "answer yet",
            "error",
        ),
        (
            "{{ context.partnr }}",
            "{{ context.partnr }}: no context 'partnr' is passed to flow 'hello'",
            "error",
        ),
        (
            "{% for x in community.links.blog %}{{ x }}{% endfor %}",
            "{{ community.links.blog }}: community.yaml has no link 'blog'",
            "error",
        ),
        ("{{ count }}", "{{ count }}: this text is said without a number", "error"),
        (
            "{% if member.name is defind %}x{% endif %}",
            "template error: no test named 'defind'",
            "error",
        ),
        (
            "{{ member.name",
            "template error: unexpected end of template, expected 'end of print statement'.",
            "error",
        ),
    ],
)
def test_what_fails_is_reported(source: str, message: str, severity: str) -> None:
    found = check_template(source, SCOPE)
    assert [(p.message, p.severity) for p in found] == [(message, severity)]
    if message.startswith("{{") and not message.startswith("{{ count"):
        assert not _renders(source), "what is reported must really fail for this member"


def test_each_name_is_reported_once_at_its_first_line() -> None:
    found = check_template("Hi\n{{ member.nmae }}\n{{ member.nmae }}", SCOPE)
    assert [(p.line, p.message) for p in found] == [
        (2, "{{ member.nmae }}: member has no field 'nmae'")
    ]


def test_a_text_checked_again_is_judged_by_its_new_scope() -> None:
    """Each text is parsed once per process (content is checked again and again: every test's
    variant of the tree, every reload); what it may read is still each scope's own."""
    source = "Hi {{ member.experience }} and {{ answers.colour }}"
    assert check_template(source, SCOPE) != []  # `experience` may be missing here
    everything = Scope(
        "flow 'hello'",
        member={"experience": ALWAYS},
        member_known=frozenset({"experience"}),
        answers={"colour": ALWAYS},
        asks=frozenset({"colour"}),
    )
    assert check_template(source, everything) == []
    elsewhere = Scope("system text 'x'", answers=None)
    assert [p.message for p in check_template(source, elsewhere)] != []
    assert check_template(source, SCOPE) == check_template(source, SCOPE)
    broken = "{{ member.name"
    first = check_template(broken, SCOPE)
    first.append(first[0])  # what the caller does with the list is its own
    assert len(check_template(broken, SCOPE)) == 1
