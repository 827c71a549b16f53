"""Cross-reference checks that a schema alone cannot make: ids, targets, reachability,
translations, templates, actions and platform limits, over the whole content tree."""

from __future__ import annotations

from babel import Locale, UnknownLocaleError

from flows.actions import Actions
from flows.campaign_checks import check_campaigns
from flows.content import ContentTree
from flows.coverage import coverage_problems
from flows.dashboard_texts import DASHBOARD_TEXT_KEYS, DASHBOARD_TEXT_VALUES, placeholders
from flows.flow_checks import FlowChecker
from flows.locale_choices import check_locale_choices
from flows.matching_checks import check_matching
from flows.problems import Problem, did_you_mean
from flows.schema import CORE_PROFILE_FIELDS
from flows.system_texts import COUNTED_SYSTEM_TEXTS, SYSTEM_TEXT_KEYS
from flows.template_scopes import NO_VARIABLES_RECOGNITION, bare, system_scope
from flows.text_checks import TextChecker


def _check_community(tree: ContentTree, unparsed: set[str]) -> list[Problem]:
    checker = TextChecker(
        tree,
        tree.documents["content/community.yaml"]
        if "content/community.yaml" in tree.documents
        else next(d for n, d in tree.documents.items() if n.endswith("community.yaml")),
    )
    for number, locale in enumerate(tree.community.locales):
        try:
            Locale.parse(locale)
        except (UnknownLocaleError, ValueError):
            checker.add(
                ("locales", number),
                None,
                f"unknown locale '{locale}'",
                "use a language code such as en, fr, es, sw or pt_BR",
            )
    if tree.community.onboarding_flow not in {*tree.flows, *unparsed}:
        checker.add(
            ("onboarding_flow",),
            None,
            f"flow '{tree.community.onboarding_flow}' does not exist",
            did_you_mean(tree.community.onboarding_flow, tree.flows),
        )
    for field_name in tree.community.profile_fields:
        if field_name in CORE_PROFILE_FIELDS:
            checker.add(
                ("profile_fields",),
                None,
                f"'{field_name}' is built in",
                "remove it from profile_fields",
                "warning",
            )
    return checker.problems


def _check_system(tree: ContentTree) -> list[Problem]:
    document = next(d for n, d in tree.documents.items() if n.endswith("system.yaml"))
    checker = TextChecker(tree, document)
    for key in SYSTEM_TEXT_KEYS:
        if key not in tree.system:
            checker.add(
                ("texts",), None, f"missing system text '{key}'", f"add it: {SYSTEM_TEXT_KEYS[key]}"
            )
    for key, text in tree.system.items():
        if key not in SYSTEM_TEXT_KEYS:
            checker.add(
                ("texts", key),
                None,
                f"unknown system text '{key}'",
                did_you_mean(key, SYSTEM_TEXT_KEYS),
                "warning",
            )
        checker.text(
            text,
            ("texts", key),
            None,
            counted=key in COUNTED_SYSTEM_TEXTS,
            scope=system_scope(tree, key),
        )
    return checker.problems


def _check_feature_flows(tree: ContentTree, unparsed: set[str]) -> list[Problem]:
    """The flows `matching.yaml` and `checkins.yaml` name must exist (when the file does)."""
    problems: list[Problem] = []
    named = {
        "matching.yaml": {
            "signup_flow": tree.matching.signup_flow,
            "offer_flow": tree.matching.offer_flow,
        },
        "checkins.yaml": {
            "checkin_flow": tree.checkins.checkin_flow,
            "feedback_flow": tree.checkins.feedback_flow,
        },
    }
    for file_name, wanted in named.items():
        document = next((d for n, d in tree.documents.items() if n.endswith(file_name)), None)
        if document is None:
            continue
        checker = TextChecker(tree, document)
        for key, flow_id in wanted.items():
            if flow_id not in {*tree.flows, *unparsed}:
                checker.add(
                    (key,),
                    None,
                    f"flow '{flow_id}' does not exist",
                    did_you_mean(flow_id, tree.flows) or f"add content/flows/{flow_id}.yaml",
                )
        problems.extend(checker.problems)
    return problems


def _check_recognition(tree: ContentTree, unparsed: set[str]) -> list[Problem]:
    """Categories' and badges' texts are translated; badges count what exists."""
    problems: list[Problem] = []
    recognition = next(
        (d for n, d in tree.documents.items() if n.endswith("recognition.yaml")), None
    )
    if recognition is not None:
        checker = TextChecker(tree, recognition, bare("category names", NO_VARIABLES_RECOGNITION))
        for number, category in enumerate(tree.recognition.categories):
            checker.text(category.name, ("categories", number, "name"), None)
        problems.extend(checker.problems)
    document = next((d for n, d in tree.documents.items() if n.endswith("badges.yaml")), None)
    if document is None:
        return problems
    checker = TextChecker(tree, document, bare("badges", NO_VARIABLES_RECOGNITION))
    categories = [c.id for c in tree.recognition.categories]
    for number, badge in enumerate(tree.badges.badges):
        checker.text(badge.name, ("badges", number, "name"), None)
        checker.text(badge.description, ("badges", number, "description"), None)
        when = badge.when
        if when is not None and when.category and when.category not in categories:
            checker.add(
                ("badges", number, "when", "category"),
                None,
                f"category '{when.category}' is not in recognition.yaml",
                did_you_mean(when.category, categories),
            )
        if when is not None and when.flow and when.flow not in {*tree.flows, *unparsed}:
            checker.add(
                ("badges", number, "when", "flow"),
                None,
                f"flow '{when.flow}' does not exist",
                did_you_mean(when.flow, tree.flows),
            )
    problems.extend(checker.problems)
    return problems


def _check_dashboard(tree: ContentTree) -> list[Problem]:
    """`dashboard.yaml` (when there is one) has every text, and each uses only the `{name}`
    values the dashboard passes it."""
    document = next((d for n, d in tree.documents.items() if n.endswith("dashboard.yaml")), None)
    if document is None:
        return []
    checker = TextChecker(tree, document)
    texts = tree.dashboard.texts
    for key in DASHBOARD_TEXT_KEYS:
        if key not in texts:
            checker.add(("texts",), None, f"missing dashboard text '{key}'", "add it")
    for key, text in texts.items():
        if key not in DASHBOARD_TEXT_KEYS:
            checker.add(
                ("texts", key),
                None,
                f"unknown dashboard text '{key}'",
                did_you_mean(key, DASHBOARD_TEXT_KEYS),
                "warning",
            )
            continue
        allowed = DASHBOARD_TEXT_VALUES.get(key, frozenset())
        for locale, translation in text.items():
            written = (
                translation if isinstance(translation, str) else " ".join(translation.values())
            )
            for name in sorted(placeholders(written) - allowed):
                known = ", ".join(f"{{{v}}}" for v in sorted(allowed)) or "none"
                checker.add(
                    ("texts", key, locale),
                    None,
                    f"dashboard text '{key}' uses {{{name}}}, which it is not given",
                    f"the values it can use: {known}",
                )
    return checker.problems


def validate_tree(
    tree: ContentTree,
    unparsed: set[str] | None = None,
    min_coverage: float = 0,
    actions: Actions | None = None,
) -> list[Problem]:
    """Every problem of `tree`; an action step may use only one of `actions` (the core's
    registry: none are known without it)."""
    problems = _check_community(tree, unparsed or set()) + _check_system(tree)
    problems += coverage_problems(tree, min_coverage) + check_locale_choices(tree)
    problems += _check_feature_flows(tree, unparsed or set())
    problems += _check_recognition(tree, unparsed or set())
    problems += check_campaigns(tree, unparsed or set())
    problems += check_matching(tree)
    problems += _check_dashboard(tree)
    commands: dict[str, str] = {}
    onboarding = tree.flows.get(tree.community.onboarding_flow)
    for flow in tree.flows.values():
        joined = flow.trigger.member_joined
        if joined != (flow is onboarding):
            document = tree.documents[tree.flow_files[flow.id]]
            problems.append(
                Problem(
                    document.file,
                    document.line_of(("trigger",)),
                    None,
                    "member_joined is for the community's onboarding_flow only"
                    if joined
                    else "the community's onboarding_flow must have trigger member_joined: true",
                    "a newcomer gets exactly one welcome: the onboarding_flow",
                )
            )
        problems.extend(FlowChecker(tree, flow, actions or {}).run())
        command = flow.trigger.command
        if command and command in commands:
            document = tree.documents[tree.flow_files[flow.id]]
            problems.append(
                Problem(
                    document.file,
                    document.line_of(("trigger", "command")),
                    None,
                    f"/{command} already starts flow '{commands[command]}'",
                    "give each flow its own command",
                )
            )
        elif command:
            commands[command] = flow.id
    return problems
