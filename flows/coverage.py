"""How much of the content each locale covers.

A text missing in a member's language is shown in the community's default one (flows/text.py
`fallback_chain`), so a partial translation can go live: `onramp check` says, once per file and
locale, how much is translated, and `[content] min_coverage` sets the least a declared locale
may cover of the whole content.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flows.content import ContentTree
from flows.locale_codes import base_language, english_name, locale_or_none
from flows.problems import Problem
from flows.schema import ANY_LOCALE, PLURAL_CATEGORIES
from flows.yamlfile import PathKey, YamlDocument


@dataclass(frozen=True)
class FoundText:
    """One translatable text of a content file: where it is and its translations."""

    path: PathKey
    translations: dict[str, Any]  # normalised locale -> str or {plural category -> str}
    written_keys: dict[str, str]  # normalised locale -> the key as written in the file


def _locale_key(key: object) -> str | None:
    if not isinstance(key, str) or key == ANY_LOCALE:
        return None
    return locale_or_none(key)


def _is_translation(value: object) -> bool:
    if isinstance(value, str):
        return True
    return (
        isinstance(value, dict)
        and bool(value)
        and all(k in PLURAL_CATEGORIES and isinstance(v, str) for k, v in value.items())
    )


def texts_of(document: YamlDocument, default_locale: str) -> Iterator[FoundText]:
    """Every mapping of locale -> text in the document that has the default locale."""

    def walk(node: Any, path: PathKey) -> Iterator[FoundText]:
        if isinstance(node, dict) and node:
            locales = {key: _locale_key(key) for key in node}
            if all(locales.values()) and all(_is_translation(v) for v in node.values()):
                translations = {locales[k]: v for k, v in node.items()}
                if default_locale in translations:
                    yield FoundText(
                        path,
                        translations,  # type: ignore[arg-type]
                        {str(locales[k]): str(k) for k in node},
                    )
                    return
            for key, value in node.items():
                yield from walk(value, (*path, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from walk(value, (*path, index))

    yield from walk(document.data, ())


def _translated(translation: Any) -> bool:
    if isinstance(translation, dict):
        return any(isinstance(v, str) and v.strip() for v in translation.values())
    return isinstance(translation, str) and bool(translation.strip())


@dataclass(frozen=True)
class FileCoverage:
    file: str
    locale: str
    covered: int
    total: int
    first_missing: int  # the line of the first text without this locale (1 when none)

    @property
    def percent(self) -> int:
        return 100 if self.total == 0 else int(100 * self.covered / self.total)


def coverage(tree: ContentTree, locales: list[str] | None = None) -> list[FileCoverage]:
    """Per content file and locale (the declared ones but the default, unless given): how
    many of its texts the locale translates."""
    default = tree.community.default_locale
    wanted = locales if locales is not None else tree.community.locales
    found: list[FileCoverage] = []
    for name, document in sorted(tree.documents.items()):
        texts = list(texts_of(document, default))
        if not texts:
            continue
        for locale in wanted:
            if locale == default:
                continue
            base = base_language(locale)
            missing = [
                t
                for t in texts
                if not _translated(t.translations.get(locale))
                and (base == default or not _translated(t.translations.get(base)))
            ]
            first = document.line_of(missing[0].path) if missing else 1
            found.append(FileCoverage(name, locale, len(texts) - len(missing), len(texts), first))
    return found


def overall(found: list[FileCoverage]) -> dict[str, tuple[int, int]]:
    """locale -> (texts covered, texts) over the whole content."""
    totals: dict[str, tuple[int, int]] = {}
    for item in found:
        covered, total = totals.get(item.locale, (0, 0))
        totals[item.locale] = (covered + item.covered, total + item.total)
    return totals


def percent(covered: int, total: int) -> int:
    return 100 if total == 0 else int(100 * covered / total)


def coverage_problems(tree: ContentTree, min_coverage: float = 0) -> list[Problem]:
    """One warning per file and locale that is not fully translated; one per file and
    undeclared locale; an error per declared locale below `min_coverage` percent."""
    default = tree.community.default_locale
    shown_instead = english_name(default)
    problems: list[Problem] = []
    found = coverage(tree)
    for item in found:
        if item.covered < item.total:
            problems.append(
                Problem(
                    item.file,
                    item.first_missing,
                    None,
                    f"'{item.locale}' covers {item.covered} of {item.total} texts "
                    f"({item.percent}%); the rest is shown in {shown_instead}",
                    f"onramp i18n export --locale {item.locale} makes PO files to translate",
                    "warning",
                )
            )
    problems.extend(_undeclared(tree))
    community = next((d for n, d in tree.documents.items() if n.endswith("community.yaml")), None)
    for locale, (covered, total) in sorted(overall(found).items()):
        if total and 100 * covered < min_coverage * total:
            problems.append(
                Problem(
                    community.file if community else "community.yaml",
                    community.line_of(("locales",)) if community else 1,
                    None,
                    f"'{locale}' covers {percent(covered, total)}% of the content's texts "
                    f"({covered} of {total}), below [content] min_coverage ({min_coverage:g}%)",
                    "translate more of it (onramp i18n status), remove it from 'locales', "
                    "or lower min_coverage",
                )
            )
    return problems


def _undeclared(tree: ContentTree) -> list[Problem]:
    # A text in `pt` is shown to members in `pt_BR` when only `pt_BR` is declared.
    declared = set(tree.community.locales) | {base_language(x) for x in tree.community.locales}
    problems: list[Problem] = []
    for name, document in sorted(tree.documents.items()):
        seen: dict[str, tuple[int, int]] = {}  # locale -> (texts, first line)
        for text in texts_of(document, tree.community.default_locale):
            for locale in text.translations:
                if locale not in declared:
                    count, line = seen.get(locale, (0, 0))
                    where = document.line_of((*text.path, text.written_keys[locale]))
                    seen[locale] = (count + 1, line or where)
        for locale, (count, line) in sorted(seen.items()):
            problems.append(
                Problem(
                    name,
                    line,
                    None,
                    f"'{locale}' is not a locale of this community: its {count} text(s) in "
                    "this file are not shown",
                    f"add '{locale}' to 'locales' in community.yaml to show them",
                    "warning",
                )
            )
    return problems
