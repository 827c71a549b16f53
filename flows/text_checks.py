"""Checks of localized texts and templates, shared by every content file's checker."""

from __future__ import annotations

import re
from functools import cached_property

from flows.content import ContentTree
from flows.problems import Problem
from flows.schema import ANY_LOCALE, Text
from flows.template_types import Scope, check_template
from flows.text import plural_categories
from flows.yamlfile import PathKey, YamlDocument

BUTTON_LABEL_LIMIT = 20  # WhatsApp reply button title
LIST_ROW_LIMIT = 24  # WhatsApp list row title
LIST_ROWS_LIMIT = 10  # WhatsApp list message rows
MESSAGE_LIMIT = 4096  # Telegram's message length

# A key whose value is a literal block (`en: |`): the text starts on the next line, line for
# line. A folded block (`>`) starts there too, but its lines are joined.
_LITERAL_BLOCK = re.compile(r"(?:^|:|-)\s*\|[-+0-9]*\s*(?:#.*)?$")
_FOLDED_BLOCK = re.compile(r"(?:^|:|-)\s*>[-+0-9]*\s*(?:#.*)?$")
# Where a template names no scope: only its syntax and its top-level names are checked.
NAMES_ONLY = Scope("this text", context={}, no_count=None)


class TextChecker:
    def __init__(
        self, tree: ContentTree, document: YamlDocument, scope: Scope | None = None
    ) -> None:
        self.tree = tree
        self.document = document
        self.scope = scope
        self.problems: list[Problem] = []

    def add(
        self,
        path: PathKey,
        step: str | None,
        message: str,
        hint: str | None = None,
        severity: str = "error",
    ) -> None:
        line = self.document.line_of(path)
        self.add_at(self.document.file, line, step, message, hint, severity)

    def add_at(
        self,
        file: str,
        line: int,
        step: str | None,
        message: str,
        hint: str | None = None,
        severity: str = "error",
    ) -> None:
        self.problems.append(
            Problem(
                file, line, step, message, hint, "warning" if severity == "warning" else "error"
            )
        )

    @cached_property
    def _source_lines(self) -> list[str]:
        try:
            return (self.tree.root.parent / self.document.file).read_text("utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return []

    def where(self, path: PathKey, template_line: int) -> tuple[str, int]:
        """The file and line of a template's `template_line`: in its Markdown message file,
        or in the YAML file, counting into a literal block."""
        message_file = self.tree.message_files.get((self.document.file, path))
        if message_file is not None:
            name, first_line = message_file
            return name, first_line + template_line - 1
        line = self.document.line_of(path)
        source = self._source_lines[line - 1] if 0 < line <= len(self._source_lines) else ""
        if _LITERAL_BLOCK.search(source):
            return self.document.file, line + template_line
        if _FOLDED_BLOCK.search(source):
            return self.document.file, line + 1
        return self.document.file, line

    def template(
        self, source: str, path: PathKey, step: str | None, scope: Scope | None = None
    ) -> None:
        """Type-check one template where it is rendered (`scope`, else the checker's)."""
        wanted = scope or self.scope
        if "{" not in source:
            return
        for found in check_template(source, wanted or NAMES_ONLY):
            if wanted is None and not found.message.startswith("template "):
                continue  # no scope known here: syntax and top-level names only
            file, line = self.where(path, found.line)
            self.add_at(file, line, step, found.message, found.hint, found.severity)

    def text(
        self,
        text: Text,
        path: PathKey,
        step: str | None,
        counted: bool = False,
        scope: Scope | None = None,
    ) -> None:
        # A text missing in another locale is shown in the default one: flows/coverage.py
        # counts those, one warning per file and locale, never one per text.
        default = self.tree.community.default_locale
        if ANY_LOCALE not in text and default not in text:
            self.add(
                path,
                step,
                f"missing the '{default}' text",
                f"add '{default}:' here: '{default}' is the community's default_locale, "
                "shown whenever a member's language has no translation",
            )
        for locale, translation in text.items():
            if isinstance(translation, dict):
                if "other" not in translation:
                    self.add((*path, locale), step, "plural forms need an 'other' form")
                if not counted:
                    where = scope or self.scope
                    self.add(
                        (*path, locale),
                        step,
                        "plural forms need a 'count' on the step"
                        if where is None or where.answers is not None
                        else "plural forms need a count",
                        'add count: "{{ ... }}" to say which number picks the form'
                        if where is None or where.answers is not None
                        else where.no_count,
                    )
                wanted = plural_categories(locale if locale != ANY_LOCALE else "en")
                for category in sorted(set(translation) - wanted):
                    self.add(
                        (*path, locale, category),
                        step,
                        f"'{locale}' has no '{category}' plural form",
                        f"'{locale}' uses: {', '.join(sorted(wanted))}",
                        "warning",
                    )
                sources: list[tuple[PathKey, str]] = [
                    ((*path, locale, form), written) for form, written in translation.items()
                ]
            else:
                sources = [((*path, locale), translation)]
            for key, source in sources:
                self.template(source, key, step, scope)
                if len(source) > MESSAGE_LIMIT:
                    self.add(
                        (*path, locale),
                        step,
                        f"text is over {MESSAGE_LIMIT} characters",
                        "some platforms will split it; consider shortening",
                        "warning",
                    )
