"""Loading the whole content tree. It loads entirely valid or not at all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from flows.actions import Actions
from flows.answers import AnswerWords, answer_words, fold
from flows.campaigns import CAMPAIGN_KEYS, Campaign
from flows.feature_settings import Badges, Checkins, Matching, Recognition
from flows.problems import ContentError, Problem, did_you_mean
from flows.schema import STEP_KINDS, Community, DashboardTexts, Flow, SystemTexts, Text
from flows.yamlfile import PathKey, YamlDocument, load_yaml

KNOWN_KEYS = sorted(
    {
        *STEP_KINDS,
        *Flow.model_fields,
        *Community.model_fields,
        "texts",
        "choices",
        "label",
        "multiple",
        "input",
        "pattern",
        "max_length",
        "timeout",
        "nudge",
        "expire_after",
        "count",
        "next",
        "otherwise",
        "when",
        "answer",
        "profile",
        "equals",
        "in",
        "has_any",
        "exists",
        "not",
        "all",
        "any",
        "with",
        "member_joined",
        "command",
        "keywords",
    }
)


@dataclass
class ContentTree:
    root: Path
    community: Community
    flows: dict[str, Flow]
    system: dict[str, Text]
    documents: dict[str, YamlDocument] = field(default_factory=dict)
    flow_files: dict[str, str] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    matching: Matching = field(default_factory=Matching)
    checkins: Checkins = field(default_factory=Checkins)
    recognition: Recognition = field(default_factory=Recognition)
    badges: Badges = field(default_factory=Badges)
    campaigns: dict[str, Campaign] = field(default_factory=dict)
    dashboard: DashboardTexts = field(default_factory=DashboardTexts)
    campaign_files: dict[str, str] = field(default_factory=dict)
    # Texts read from Markdown message files: (YAML file, path of the text) -> (the message
    # file, the line its text starts on), so problems in them name the right file and line.
    message_files: dict[tuple[str, PathKey], tuple[str, int]] = field(default_factory=dict)

    @cached_property
    def words(self) -> AnswerWords:
        """The yes, no and skip words of every language (system texts), folded once: every
        answer to a question is matched against them."""
        return answer_words(self.system)

    @property
    def onboarding(self) -> Flow:
        return self.flows[self.community.onboarding_flow]

    def flow_for_command(self, name: str) -> Flow | None:
        return next((f for f in self.flows.values() if f.trigger.command == name), None)

    def flow_for_keyword(self, text: str) -> Flow | None:
        """The flow one of whose keywords (a word or phrase) appears in the text."""
        words = f" {fold(text[:2000])} "
        for flow in self.flows.values():
            if any(f" {fold(k)} " in words for k in flow.trigger.keywords if fold(k)):
                return flow
        return None


def _display(root: Path, path: Path) -> str:
    try:
        return str(Path(root.name) / path.relative_to(root))
    except ValueError:
        return str(path)


def _inline_markdown(
    document: YamlDocument,
    root: Path,
    locales: list[str],
    problems: list[Problem],
    message_files: dict[tuple[str, PathKey], tuple[str, int]],
    default_locale: str | None = None,
) -> None:
    """`{md: welcome}` becomes the text of content/messages/<locale>/welcome.md per locale.
    Only the default locale's file is required: a text without another is shown in it."""

    def walk(node: Any, path: PathKey) -> Any:
        if isinstance(node, dict):
            if set(node) == {"md"} and isinstance(node["md"], str):
                texts = {}
                for locale in locales:
                    file = root / "messages" / locale / f"{node['md']}.md"
                    if file.is_file():
                        written = file.read_text(encoding="utf-8")
                        texts[locale] = written.strip()
                        leading = written[: len(written) - len(written.lstrip())].count("\n")
                        message_files[(document.file, (*path, locale))] = (
                            _display(root, file),
                            leading + 1,
                        )
                    elif default_locale is not None and locale != default_locale:
                        continue  # not translated yet: counted by flows/coverage.py
                    else:
                        texts[locale] = ""  # reported once, here, not again as untranslated
                        problems.append(
                            Problem(
                                document.file,
                                document.line_of(path),
                                _step_id(document, path),
                                f"message file {_display(root, file)} not found",
                                f"write it, or check the name '{node['md']}'",
                            )
                        )
                return texts
            return {k: walk(v, (*path, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, (*path, i)) for i, v in enumerate(node)]
        return node

    document.data = walk(document.data, ())


def _step_id(document: YamlDocument, loc: PathKey) -> str | None:
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        steps = document.data.get("steps") if isinstance(document.data, dict) else None
        if isinstance(steps, list) and loc[1] < len(steps) and isinstance(steps[loc[1]], dict):
            step_id = steps[loc[1]].get("id")
            return str(step_id) if step_id is not None else f"#{loc[1] + 1}"
    return None


PATTERN_HINTS = {
    "id": "ids use lowercase letters, digits and _ and start with a letter",
    "name": "a WhatsApp template's name as approved: lowercase letters, digits and _",
    "language": "a language code as approved for the template, such as en, fr or pt_BR",
    "time": "a local time as HH:MM, such as 09:00",
}


def _validation_problems(
    document: YamlDocument, error: ValidationError, known: list[str] = KNOWN_KEYS
) -> list[Problem]:
    problems = []
    for detail in error.errors():
        raw = detail["loc"]
        # pydantic puts the discriminator tag after a step's index: ("steps", 3, "ask", ...)
        is_tagged = len(raw) > 2 and raw[0] == "steps" and raw[2] in STEP_KINDS
        loc = (*raw[:2], *raw[3:]) if is_tagged else tuple(raw)
        hint = None
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "extra_forbidden":
            key = str(loc[-1])
            message = f"unknown key '{key}'"
            hint = did_you_mean(key, known) or "remove it or check the authoring guide"
        elif detail["type"] == "missing":
            message = f"'{loc[-1]}' is required here"
            loc = loc[:-1]
        elif detail["type"] == "string_pattern_mismatch":
            hint = PATTERN_HINTS.get(str(loc[-1]), PATTERN_HINTS["id"])
        elif detail["type"] == "step_kind":
            hint = "give the step one of say, ask, branch, set, goto, end or action"
        problems.append(
            Problem(document.file, document.line_of(loc), _step_id(document, loc), message, hint)
        )
    return problems


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], document: YamlDocument, problems: list[Problem]) -> M | None:
    if not isinstance(document.data, dict):
        problems.append(Problem(document.file, 1, None, "expected a mapping of keys at the top"))
        return None
    try:
        return model.model_validate(document.data)
    except ValidationError as exc:
        known = sorted(CAMPAIGN_KEYS) if model is Campaign else KNOWN_KEYS
        problems.extend(_validation_problems(document, exc, known))
        return None


def load_tree(
    root: Path, min_coverage: float = 0, actions: Actions | None = None
) -> tuple[ContentTree | None, list[Problem]]:
    """Load and validate everything under `root`; returns the tree only when it has no errors.
    A declared locale covering less than `min_coverage` percent of the texts is an error. An
    action step may use only one of `actions` (the core registry's: none without it)."""
    from flows.validate import validate_tree

    problems: list[Problem] = []
    if not root.is_dir():
        where = str(root)
        return None, [
            Problem(
                where,
                1,
                None,
                "content folder not found",
                "set [content] path in bot.toml or ONRAMP_CONTENT__PATH",
            )
        ]
    documents: dict[str, YamlDocument] = {}
    message_files: dict[tuple[str, PathKey], tuple[str, int]] = {}

    def read(path: Path) -> YamlDocument | None:
        name = _display(root, path)
        if not path.is_file():
            problems.append(Problem(name, 1, None, "file not found", "it is required"))
            return None
        loaded = load_yaml(path, name)
        if isinstance(loaded, Problem):
            problems.append(loaded)
            return None
        documents[name] = loaded
        return loaded

    community_doc = read(root / "community.yaml")
    community = _parse(Community, community_doc, problems) if community_doc else None
    locales = community.locales if community else []
    default_locale = community.default_locale if community else None
    system_doc = read(root / "system.yaml")
    system = None
    if system_doc:
        _inline_markdown(system_doc, root, locales, problems, message_files, default_locale)
        system = _parse(SystemTexts, system_doc, problems)
    flows: dict[str, Flow] = {}
    flow_files: dict[str, str] = {}
    unparsed: set[str] = set()  # flows with errors of their own: not reported missing again
    paths = sorted((root / "flows").glob("*.yaml")) if (root / "flows").is_dir() else []
    if not paths:
        problems.append(
            Problem(
                _display(root, root / "flows"),
                1,
                None,
                "no flows found",
                "add at least the onboarding flow as flows/<id>.yaml",
            )
        )
    for path in paths:
        document = read(path)
        if document is None:
            continue
        _inline_markdown(document, root, locales, problems, message_files, default_locale)
        flow = _parse(Flow, document, problems)
        if flow is None:
            if isinstance(document.data, dict) and isinstance(document.data.get("id"), str):
                unparsed.add(document.data["id"])
            continue
        if flow.id in flows:
            problems.append(
                Problem(
                    document.file,
                    document.line_of(("id",)),
                    None,
                    f"flow id '{flow.id}' is used by another file too",
                    "give each flow its own id",
                )
            )
            continue
        flows[flow.id] = flow
        flow_files[flow.id] = document.file
    campaigns, campaign_files = _campaigns(
        root, read, locales, problems, message_files, default_locale
    )
    matching: Matching | None = Matching()
    if (root / "matching.yaml").is_file():
        matching_doc = read(root / "matching.yaml")
        matching = _parse(Matching, matching_doc, problems) if matching_doc else None
    checkins = _optional(root, "checkins.yaml", Checkins, read, problems)
    recognition = _optional(root, "recognition.yaml", Recognition, read, problems)
    badges = _optional(root, "badges.yaml", Badges, read, problems)
    dashboard = _optional(root, "dashboard.yaml", DashboardTexts, read, problems)
    parts = (community, system, matching, checkins, recognition, badges, dashboard)
    if any(part is None for part in parts):
        return None, problems
    assert community is not None and system is not None and matching is not None
    assert checkins is not None and recognition is not None and badges is not None
    assert dashboard is not None
    tree = ContentTree(root, community, flows, system.texts, documents, flow_files)
    tree.matching, tree.checkins = matching, checkins
    tree.recognition, tree.badges = recognition, badges
    tree.campaigns, tree.campaign_files = campaigns, campaign_files
    tree.dashboard = dashboard
    tree.message_files = message_files
    problems.extend(validate_tree(tree, unparsed, min_coverage, actions))
    tree.warnings = [p for p in problems if p.severity == "warning"]
    if any(p.severity == "error" for p in problems):
        return None, problems
    return tree, problems


def _campaigns(
    root: Path,
    read: Callable[[Path], YamlDocument | None],
    locales: list[str],
    problems: list[Problem],
    message_files: dict[tuple[str, PathKey], tuple[str, int]],
    default_locale: str | None = None,
) -> tuple[dict[str, Campaign], dict[str, str]]:
    """`campaigns/<id>.yaml`: each file's id is its name."""
    campaigns: dict[str, Campaign] = {}
    files: dict[str, str] = {}
    for path in (
        sorted((root / "campaigns").glob("*.yaml")) if (root / "campaigns").is_dir() else []
    ):
        document = read(path)
        if document is None:
            continue
        _inline_markdown(document, root, locales, problems, message_files, default_locale)
        campaign = _parse(Campaign, document, problems)
        if campaign is None:
            continue
        if campaign.id != path.stem:
            problems.append(
                Problem(
                    document.file,
                    document.line_of(("id",)),
                    None,
                    f"campaign id '{campaign.id}' differs from its file's name",
                    f"name the file campaigns/{campaign.id}.yaml, or the id '{path.stem}'",
                )
            )
            continue
        campaigns[campaign.id] = campaign
        files[campaign.id] = document.file
    return campaigns, files


def _optional(
    root: Path,
    name: str,
    model: type[M],
    read: Callable[[Path], YamlDocument | None],
    problems: list[Problem],
) -> M | None:
    """An optional file of the tree: its defaults when absent, None when broken."""
    if not (root / name).is_file():
        return model()
    document = read(root / name)
    return _parse(model, document, problems) if document else None


def load_tree_or_raise(
    root: Path, min_coverage: float = 0, actions: Actions | None = None
) -> ContentTree:
    tree, problems = load_tree(root, min_coverage, actions)
    if tree is None:
        raise ContentError(problems)
    return tree
