"""Content texts as gettext PO entries, for translators' tools (Poedit, Weblate, Lokalize).

Each translatable text of a content file is one entry (a Markdown text of several paragraphs,
one per paragraph), found again on import by its msgctxt: `<file>:<yaml path>`, the path naming
list items by their id, as in `flows/onboarding.yaml:steps.consent.choices.yes.label`.
"""

from __future__ import annotations

import gettext
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po, write_po

from flows.content import ContentTree
from flows.coverage import texts_of
from flows.yamlfile import PathKey, YamlDocument

_PARAGRAPHS = re.compile(r"\n[ \t]*\n")
_COMMENT = re.compile(r"^\s*#\s?(.*)$")


@cache
def plural_forms(locale: str) -> tuple[str, ...]:
    """The CLDR category (one, few, many, other…) of each PO plural index of the language.

    Babel gives the gettext rule (`Plural-Forms`); the CLDR one names the categories. Each index
    is the category most numbers it covers fall into: for Portuguese, index 1 covers 0 (CLDR
    'one') and 2, 3, 4… ('other'): it is 'other'.
    """
    rule = get_plural(locale)
    index_of = gettext.c2py(rule.plural_expr)
    category_of = Locale.parse(locale).plural_form
    votes: list[Counter[str]] = [Counter() for _ in range(rule.num_plurals)]
    for n in range(1000):
        votes[index_of(n)][category_of(n)] += 1
    return tuple(v.most_common(1)[0][0] if v else "other" for v in votes)


@dataclass
class Entry:
    """One PO entry: a text (or one paragraph of it) of one content file."""

    context: str
    source: str | tuple[str, str]  # the default locale's text; (one, other) when plural
    path: PathKey  # of the text's mapping in the YAML
    line: int
    notes: list[str] = field(default_factory=list)
    paragraph: int | None = None  # 1-based, when the text is split into paragraphs
    translation: str | dict[str, str] | None = None  # already in the YAML


def content_name(tree: ContentTree, document: YamlDocument) -> str:
    """`content/flows/onboarding.yaml` -> `flows/onboarding.yaml`."""
    return document.file.split("/", 1)[1] if "/" in document.file else document.file


def _yaml_path(data: Any, path: PathKey) -> str:
    """List items by their id where they have one: steps.welcome.say."""
    names: list[str] = []
    node = data
    for key in path:
        if isinstance(key, int) and isinstance(node, list):
            item = node[key]
            has_id = isinstance(item, dict) and isinstance(item.get("id"), str | int)
            names.append(str(item["id"]) if has_id else str(key))
            node = item
        else:
            names.append(str(key))
            node = node[key] if isinstance(node, dict) else None
    return ".".join(names)


def _notes(lines: list[str], line: int) -> list[str]:
    """The comment lines just above `line` (1-based)."""
    found: list[str] = []
    number = line - 2
    while number >= 0 and (match := _COMMENT.match(lines[number])):
        found.insert(0, match.group(1).rstrip())
        number -= 1
    return found


def _plain(translation: Any) -> str | dict[str, str] | None:
    if isinstance(translation, str):
        return translation.strip("\n") or None
    if isinstance(translation, dict):
        forms = {k: v.strip("\n") for k, v in translation.items() if v.strip()}
        return forms or None
    return None


def entries(tree: ContentTree, document: YamlDocument, locale: str) -> list[Entry]:
    """The document's texts in the default locale, with their `locale` translation if any.
    Texts read from Markdown message files are translated as files, not here."""
    default = tree.community.default_locale
    name = content_name(tree, document)
    try:
        lines = (tree.root / name).read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        lines = []
    found: list[Entry] = []
    for text in texts_of(document, default):
        if (document.file, (*text.path, default)) in tree.message_files:
            continue
        context = f"{name}:{_yaml_path(document.data, text.path)}"
        line = document.line_of(text.path)
        notes = _notes(lines, line)
        if len(text.path) >= 2 and text.path[0] == "steps":
            step_line = document.line_of(text.path[:2])
            notes = [n for n in _notes(lines, step_line) if n not in notes] + notes
        source = _plain(text.translations[default])
        translation = _plain(text.translations.get(locale))
        if source is None:
            continue
        if isinstance(source, dict):
            plural = (source.get("one", source.get("other", "")), source.get("other", ""))
            found.append(Entry(context, plural, text.path, line, notes, None, translation))
            continue
        paragraphs = _PARAGRAPHS.split(source)
        if len(paragraphs) == 1:
            single = translation if isinstance(translation, str) else None
            found.append(Entry(context, source, text.path, line, notes, None, single))
            continue
        translated = _PARAGRAPHS.split(translation) if isinstance(translation, str) else []
        if len(translated) != len(paragraphs):
            translated = []  # written as a whole, not paragraph for paragraph: start afresh
        for number, paragraph in enumerate(paragraphs, 1):
            found.append(
                Entry(
                    f"{context}#{number}",
                    paragraph,
                    text.path,
                    line,
                    notes if number == 1 else [],
                    number,
                    translated[number - 1] if translated else None,
                )
            )
    return found


def _message(entry: Entry, locale: str, file: str) -> Message:
    string: str | tuple[str, ...]
    if isinstance(entry.source, tuple):
        forms = entry.translation if isinstance(entry.translation, dict) else {}
        string = tuple(forms.get(category, "") for category in plural_forms(locale))
        if not all(string):
            string = tuple("" for _ in string)  # a half-written plural is not offered
    else:
        string = entry.translation if isinstance(entry.translation, str) else ""
    message = Message(
        entry.source,
        string,
        locations=[(file, entry.line)],
        auto_comments=entry.notes,
        context=entry.context,
    )
    message.flags.clear()  # babel guesses python-format from `{`: these are Jinja templates
    return message


def _merge(message: Message, previous: Message | None) -> None:
    """Keep a translator's work from the previous PO file: as it is while the English is
    the same, marked fuzzy (with the previous English) when it changed."""
    if previous is None or not _filled(previous.string):
        return
    if previous.id == message.id:
        if not _filled(message.string):
            message.string = previous.string
            if previous.fuzzy:
                message.flags.add("fuzzy")
                message.previous_id = previous.previous_id
        return
    if not _filled(message.string) or message.string == previous.string:
        message.string = previous.string
        message.flags.add("fuzzy")
        message.previous_id = [previous.id] if isinstance(previous.id, str) else list(previous.id)


def _filled(string: Any) -> bool:
    return any(string) if isinstance(string, tuple | list) else bool(string)


def catalog(
    tree: ContentTree, document: YamlDocument, locale: str, previous: Path | None
) -> Catalog:
    made = Catalog(locale=locale, project="Onramp content", fuzzy=False, charset="utf-8")
    made.revision_date = made.creation_date
    made.last_translator = "onramp i18n export"
    old: dict[str, Message] = {}
    if previous is not None and previous.is_file():
        with previous.open("rb") as stream:
            earlier = read_po(stream, locale=locale)
        old = {str(m.context): m for m in earlier if m.id}
        # The translator's tool set these: keep them.
        made.revision_date, made.last_translator = earlier.revision_date, earlier.last_translator
        made.language_team = earlier.language_team
    for entry in entries(tree, document, locale):
        message = _message(entry, locale, document.file)
        _merge(message, old.get(entry.context))
        made[message.id] = message
    return made


def export(tree: ContentTree, locale: str, out: Path) -> list[Path]:
    """One PO file per content file with texts, under `out` as the content is laid out
    (`out/flows/onboarding.po`); translations a previous export there holds are kept."""
    written: list[Path] = []
    for _, document in sorted(tree.documents.items()):
        if not any(True for _ in texts_of(document, tree.community.default_locale)):
            continue
        target = out / Path(content_name(tree, document)).with_suffix(".po")
        made = catalog(tree, document, locale, target)
        if not len(made):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as stream:
            write_po(stream, made, width=0, include_previous=True)
        written.append(target)
    return written
