"""Translations from PO files back into the content: all checked first, then all written, and
all put back when the content check fails afterwards."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.plurals import get_plural
from babel.messages.pofile import PoFileError, read_po

from flows.actions import Actions
from flows.content import ContentTree, load_tree
from flows.locale_codes import normalise_locale
from flows.po import Entry, entries, plural_forms
from flows.problems import Problem
from flows.yaml_edit import write_translations
from flows.yamlfile import PathKey

_PLACEHOLDER = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def placeholders(text: str) -> list[str]:
    """`{{ member.name }}`, `{% if … %}`: spaces and quoted words inside ignored (a fallback
    such as `{{ context.known or '(none)' }}` is translated too)."""
    return [re.sub(r"\s+", "", _QUOTED.sub("''", found)) for found in _PLACEHOLDER.findall(text)]


@dataclass
class ImportResult:
    problems: list[str] = field(default_factory=list)
    written: dict[str, int] = field(default_factory=dict)  # content file -> texts written
    fuzzy: int = 0
    untranslated: int = 0
    outdated: int = 0  # the English changed since the export
    incomplete: int = 0  # a text some of whose paragraphs are untranslated
    content_errors: list[Problem] = field(default_factory=list)  # after writing: put back


@dataclass
class _Planned:
    po: Path
    file: str  # relative to the content folder
    locale: str
    texts: dict[PathKey, str | dict[str, str]] = field(default_factory=dict)


def _read(po: Path, result: ImportResult) -> Catalog | None:
    try:
        with po.open("rb") as stream:
            return read_po(stream, abort_invalid=True)
    except (OSError, PoFileError, UnicodeDecodeError, ValueError) as exc:
        result.problems.append(f"{po}: not a readable PO file ({exc})")
        return None


def _check_message(po: Path, message: Message, entry: Entry, locale: str) -> str | None:
    where = f"{po}: entry '{message.context}'"
    if isinstance(entry.source, tuple):
        forms = plural_forms(locale)
        strings = message.string if isinstance(message.string, tuple | list) else ()
        if not isinstance(message.id, tuple | list) or len(strings) != len(forms):
            return f"{where}: needs {len(forms)} plural forms for '{locale}' ({', '.join(forms)})"
        if not all(strings):
            filled = sum(1 for s in strings if s)
            return (
                f"{where}: {filled} of the {len(forms)} plural forms '{locale}' needs are "
                f"written ({', '.join(forms)})"
            )
        # A form may leave out what its number makes plain ("one hour", "لا أحد"), never
        # bring in one the English does not have.
        wanted = {*placeholders(entry.source[0]), *placeholders(entry.source[1])}
        for category, text in zip(forms, strings, strict=True):
            if not set(placeholders(text)) <= wanted:
                return (
                    f"{where}: the '{category}' form has placeholders the English does not "
                    f"({', '.join(sorted(set(placeholders(text)) - wanted))})"
                )
        return None
    if isinstance(message.string, tuple | list):
        return f"{where}: has plural forms, but the English text has none"
    written = placeholders(str(message.string or ""))
    if sorted(written) != sorted(placeholders(str(entry.source))):
        return (
            f"{where}: placeholders {written} differ from the English "
            f"{placeholders(str(entry.source))}; keep each {{{{ … }}}} and {{% … %}} as it is"
        )
    return None


def _plan(tree: ContentTree, po: Path, result: ImportResult) -> _Planned | None:
    catalog = _read(po, result)
    if catalog is None:
        return None
    default = tree.community.default_locale
    try:
        locale = normalise_locale(str(catalog.locale or ""))
    except ValueError:
        result.problems.append(f"{po}: its Language header names no known locale")
        return None
    if locale == default:
        result.problems.append(f"{po}: is in '{locale}', the default locale: nothing to import")
        return None
    if catalog.num_plurals != get_plural(locale).num_plurals:
        result.problems.append(
            f"{po}: Plural-Forms says {catalog.num_plurals} forms; '{locale}' has "
            f"{get_plural(locale).num_plurals}: export again"
        )
        return None
    messages = [m for m in catalog if m.id]
    files = {str(m.context or "").split(":", 1)[0] for m in messages}
    if len(files) != 1:
        result.problems.append(f"{po}: its entries are not all for one content file")
        return None
    name = files.pop()
    document = tree.documents.get(f"{tree.root.name}/{name}")
    if document is None or not (tree.root / name).is_file():
        result.problems.append(
            f"{po}: its texts are for {tree.root.name}/{name}, which does not exist (moved or "
            "removed?): export again"
        )
        return None
    known = {e.context: e for e in entries(tree, document, locale)}
    planned = _Planned(po, name, locale)
    paragraphs: dict[PathKey, dict[int, str]] = {}
    for message in messages:
        entry = known.get(str(message.context))
        if entry is None:
            result.problems.append(
                f"{po}: entry '{message.context}' matches no text in {name} (moved or "
                "removed?): export again"
            )
            continue
        if message.fuzzy:
            result.fuzzy += 1
            continue
        strings = message.string if isinstance(message.string, tuple | list) else [message.string]
        if not any(strings):
            result.untranslated += 1
            continue
        english = tuple(message.id) if isinstance(message.id, tuple | list) else message.id
        if english != entry.source:
            result.outdated += 1
            continue
        problem = _check_message(po, message, entry, locale)
        if problem:
            result.problems.append(problem)
        elif isinstance(entry.source, tuple):
            forms = {c: str(s) for c, s in zip(plural_forms(locale), strings, strict=True)}
            had = entry.translation if isinstance(entry.translation, dict) else {}
            if any(had.get(c) != form for c, form in forms.items()):
                planned.texts[entry.path] = forms
        elif entry.paragraph is not None:
            paragraphs.setdefault(entry.path, {})[entry.paragraph] = str(message.string)
        elif message.string != entry.translation:
            planned.texts[entry.path] = str(message.string)
    for path, parts in paragraphs.items():
        split = [e for e in known.values() if e.path == path]
        if len(parts) != len(split):
            result.incomplete += 1
        elif any(parts[e.paragraph or 0] != e.translation for e in split):
            planned.texts[path] = "\n\n".join(parts[n] for n in sorted(parts))
    return planned


def import_po(
    tree: ContentTree, files: list[Path], min_coverage: float = 0, actions: Actions | None = None
) -> ImportResult:
    """Check every PO file; write nothing unless all are right; put every file back when the
    content check (against `actions`, the core registry's) fails after writing."""
    result = ImportResult()
    plans = [p for p in (_plan(tree, po, result) for po in files) if p is not None]
    if result.problems:
        return result
    originals: dict[Path, str] = {}
    try:
        for plan in plans:
            target = tree.root / plan.file
            source = originals.get(target) or target.read_text("utf-8")
            originals.setdefault(target, source)
            current = target.read_text("utf-8")
            target.write_text(
                write_translations(current, tree.community.default_locale, plan.locale, plan.texts),
                encoding="utf-8",
            )
            result.written[f"{tree.root.name}/{plan.file}"] = result.written.get(
                f"{tree.root.name}/{plan.file}", 0
            ) + len(plan.texts)
        after, problems = load_tree(tree.root, min_coverage, actions)
    except BaseException:
        _restore(originals)
        raise
    if after is None:
        result.content_errors = [p for p in problems if p.severity == "error"]
        _restore(originals)
        result.written = {}
    return result


def _restore(originals: dict[Path, str]) -> None:
    for path, source in originals.items():
        path.write_text(source, encoding="utf-8")
