"""What `onramp check` believes each text is rendered with is what the code renders it with.

The type-check of templates reads declarations (flows/system_texts.py, flows/template_scopes.py);
these tests read every call site in the code and hold the declarations to them, so that adding
a `context` key to a call, or a new call, without declaring it fails here rather than passing
`onramp check` and failing for a member.
"""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.features import build_registry
from bot.registry import Registry
from bot.turn import Turn, community_variables
from flows.content import load_tree
from flows.system_texts import (
    BARE_SYSTEM_TEXTS,
    COUNTED_SYSTEM_TEXTS,
    FEATURE_FLOW_CONTEXT,
    SYSTEM_TEXT_CONTEXT,
    SYSTEM_TEXT_KEYS,
)
from flows.template_scopes import BUILT_IN_MEMBER_FIELDS, CAMPAIGN_MEMBER_FIELDS
from flows.template_types import COMMUNITY_ATTRIBUTES
from storage.models import Identity, Member
from tests.features import ACTIONS
from tests.flows.call_sites import Source, TextCall, flow_starts, system_text_calls

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "content"

# Keys this reader cannot narrow by itself, narrowed by hand: (file, the key as written) ->
# the texts it can be. `period` is checked against PERIODS (week, month, all) before use.
BY_HAND = {
    ("bot/recognition/kudos.py", "f'kudos_top_{period}'"): frozenset(
        {"kudos_top_week", "kudos_top_month", "kudos_top_all"}
    ),
    # Turn.unreachable_in_private's text, as /kudos, /dashboard and /privacy name it.
    ("bot/turn.py", "text_key"): frozenset(
        {"kudos_in_private", "dashboard_in_private", "privacy_in_private"}
    ),
}


@pytest.fixture(scope="module")
def calls() -> list[TextCall]:
    found = system_text_calls(Source(), frozenset(SYSTEM_TEXT_KEYS))
    return [_by_hand(call) for call in found]


def _by_hand(call: TextCall) -> TextCall:
    file, line = call.where.split(" ")[0].rsplit(":", 1)
    tree = ast.parse((ROOT / file).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and node.lineno == int(line)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "system_text"
        ):
            wanted = BY_HAND.get((file, ast.unparse(node.args[0])))
            if wanted is not None:
                return TextCall(call.where, wanted, call.counted, call.context)
    return call


def test_every_call_site_can_be_read(calls: list[TextCall]) -> None:
    unread = [c.where for c in calls if c.keys is None or c.context is None]
    assert unread == [], "say which system texts these calls use: add them to BY_HAND"
    unknown = [(c.where, k) for c in calls for k in c.keys or () if k not in SYSTEM_TEXT_KEYS]
    assert unknown == []


def test_the_declared_context_of_each_system_text_is_what_its_calls_pass(
    calls: list[TextCall],
) -> None:
    sites: dict[str, list[TextCall]] = {}
    for call in calls:
        for key in call.keys or ():
            sites.setdefault(key, []).append(call)
    passed: dict[str, tuple[str, ...]] = {}
    counted: set[str] = set()
    for key, found in sites.items():
        contexts = [c.context or frozenset() for c in found]
        every = frozenset.intersection(*contexts)
        some = frozenset.union(*contexts) - every
        if every or some:
            passed[key] = (*sorted(every), *sorted(f"{k}?" for k in some))
        if all(c.counted for c in found):
            counted.add(key)
    declared = {
        k: tuple(sorted(v, key=lambda k: (k.endswith("?"), k)))
        for k, v in SYSTEM_TEXT_CONTEXT.items()
    }
    assert declared == passed, "update SYSTEM_TEXT_CONTEXT in flows/system_texts.py"
    assert set(COUNTED_SYSTEM_TEXTS) == counted, "update COUNTED_SYSTEM_TEXTS"


# Where the code reads content.system itself rather than through Turn.system_text: the method
# itself, the command menus (each command's help_key, checked below), and what adapters print
# themselves (bot/adapter_texts.py, which refuses any text not declared bare).
DIRECT_READS = {
    ("bot/turn.py", "key"),
    ("bot/commands.py", "command.help_key"),
    ("bot/adapter_texts.py", "key"),
}


def test_texts_rendered_without_a_member_are_declared_bare() -> None:
    """The command menus render the /help lines with no variables (bot/commands.py), and a
    campaign freezes its opt-out line the same way (bot/campaigns/timing.py): any text read
    from `content.system` other than through `Turn.system_text` can use no variables."""
    help_keys = {c.help_key for c in build_registry().commands.values() if c.help_key}
    assert help_keys <= BARE_SYSTEM_TEXTS
    read: set[str] = set()
    for file, module in Source().modules.items():
        for node in ast.walk(module):
            if isinstance(node, ast.Subscript) and _is_system(node.value):
                key = node.slice
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and _is_system(node.func.value)
                and node.args
            ):
                key = node.args[0]
            else:
                continue
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                read.add(key.value)
            elif (file, ast.unparse(key)) not in DIRECT_READS:
                read.add(f"{file}:{node.lineno} {ast.unparse(key)}")
    assert read <= BARE_SYSTEM_TEXTS, "declare these in BARE_SYSTEM_TEXTS"


def _is_system(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "system"


def test_flows_a_feature_starts_get_the_declared_context() -> None:
    starts = flow_starts(Source())
    assert starts, "no start_flow calls found: the reader is broken"
    for start in starts:
        settings = [s for s in FEATURE_FLOW_CONTEXT if s in start.names]
        assert start.context is not None, f"{start.where}: pass the context as a dict literal"
        if settings:
            for setting in settings:
                assert start.context == frozenset(FEATURE_FLOW_CONTEXT[setting]), start.where
        else:
            assert start.context == frozenset(), f"{start.where}: declare which flow this is"


def test_every_member_has_the_built_in_fields() -> None:
    tree, _ = load_tree(CONTENT, actions=ACTIONS)
    assert tree is not None
    member = Member(id=1, display_name="Ada", profile={})
    identity = Identity(member_id=1, platform="memory", external_id="ada")
    when = datetime(2026, 3, 2, tzinfo=UTC)
    turn = Turn(None, None, tree, member, identity, when, key="k", registry=Registry())  # type: ignore[arg-type]
    variables = turn.template_variables()
    assert set(variables["member"]) == set(BUILT_IN_MEMBER_FIELDS)
    assert set(variables["community"]) == set(COMMUNITY_ATTRIBUTES)
    assert set(community_variables(tree)["links"]) == set(tree.community.links)


def test_a_campaign_message_gets_the_declared_member_fields() -> None:
    from bot.campaigns.delivery import _variables
    from storage.models import CampaignRecipient

    recipient = CampaignRecipient(campaign_id=1, member_id=1, name="Ada", locale="en")
    variables = _variables({"community": {}}, recipient)
    assert set(CAMPAIGN_MEMBER_FIELDS) <= set(variables["member"])


def test_every_shipped_system_text_renders_with_what_it_is_declared_to_get() -> None:
    """What `onramp check` accepts really renders: each text, in each language, with only the
    context keys declared for it, a count where declared, and a member with no profile."""
    from flows.text import render

    tree, _ = load_tree(CONTENT, actions=ACTIONS)
    assert tree is not None
    member = Member(id=1, display_name="Ada", profile={})
    identity = Identity(member_id=1, platform="memory", external_id="ada")
    when = datetime(2026, 3, 2, tzinfo=UTC)
    turn = Turn(None, None, tree, member, identity, when, key="k", registry=Registry())  # type: ignore[arg-type]
    for key, text in tree.system.items():
        context = {k: "x" for k in SYSTEM_TEXT_CONTEXT.get(key, ()) if not k.endswith("?")}
        count = 2 if key in COUNTED_SYSTEM_TEXTS else None
        variables = {} if key in BARE_SYSTEM_TEXTS else turn.template_variables(count, context)
        for locale in tree.community.locales:
            assert render(text, locale, "en", variables) is not None, key
