"""Checks of localized texts and templates, shared by every content file's checker."""

from __future__ import annotations

from jinja2 import TemplateSyntaxError

from flows.content import ContentTree
from flows.problems import Problem, did_you_mean
from flows.schema import ANY_LOCALE, Text
from flows.text import TEMPLATE_VARIABLES, plural_categories, template_names
from flows.yamlfile import PathKey, YamlDocument

BUTTON_LABEL_LIMIT = 20  # WhatsApp reply button title
LIST_ROW_LIMIT = 24  # WhatsApp list row title
LIST_ROWS_LIMIT = 10  # WhatsApp list message rows
MESSAGE_LIMIT = 4096  # Telegram's message length


class TextChecker:
    def __init__(self, tree: ContentTree, document: YamlDocument) -> None:
        self.tree = tree
        self.document = document
        self.problems: list[Problem] = []
        self.answer_ids: set[str] = set()

    def add(
        self,
        path: PathKey,
        step: str | None,
        message: str,
        hint: str | None = None,
        severity: str = "error",
    ) -> None:
        line = self.document.line_of(path)
        self.problems.append(
            Problem(
                self.document.file,
                line,
                step,
                message,
                hint,
                "warning" if severity == "warning" else "error",
            )
        )

    def template(self, source: str, path: PathKey, step: str | None) -> None:
        try:
            names, attributes = template_names(source)
        except TemplateSyntaxError as exc:
            self.add(
                path,
                step,
                f"template error: {exc.message}",
                "templates use {{ name }}; check the braces",
            )
            return
        for name in sorted(names - TEMPLATE_VARIABLES):
            self.add(
                path,
                step,
                f"template uses unknown variable '{name}'",
                did_you_mean(name, TEMPLATE_VARIABLES)
                or f"use one of: {', '.join(sorted(TEMPLATE_VARIABLES))}",
            )
        for variable, attribute in sorted(attributes):
            if variable == "answers" and attribute not in self.answer_ids:
                self.add(
                    path,
                    step,
                    f"template uses answers.{attribute}, but no ask step "
                    f"'{attribute}' comes before it in this flow",
                    did_you_mean(attribute, self.answer_ids),
                )
            if variable == "community" and attribute not in {"name", "links"}:
                self.add(
                    path,
                    step,
                    f"template uses community.{attribute}",
                    "community offers name and links",
                )

    def text(self, text: Text, path: PathKey, step: str | None, counted: bool = False) -> None:
        locales = self.tree.community.locales
        if ANY_LOCALE not in text:
            for locale in locales:
                if locale not in text:
                    self.add(
                        path,
                        step,
                        f"missing the '{locale}' translation",
                        f"add '{locale}:' here (every locale in community.yaml needs one)",
                    )
            for locale in text:
                if locale not in locales:
                    self.add(
                        (*path, locale),
                        step,
                        f"'{locale}' is not a locale of this community",
                        did_you_mean(locale, locales) or "add it to 'locales' in community.yaml",
                        "warning",
                    )
        for locale, translation in text.items():
            if isinstance(translation, dict):
                if "other" not in translation:
                    self.add((*path, locale), step, "plural forms need an 'other' form")
                if not counted:
                    self.add(
                        (*path, locale),
                        step,
                        "plural forms need a 'count' on the step",
                        'add count: "{{ ... }}" to say which number picks the form',
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
                sources = list(translation.values())
            else:
                sources = [translation]
            for source in sources:
                self.template(source, (*path, locale), step)
                if len(source) > MESSAGE_LIMIT:
                    self.add(
                        (*path, locale),
                        step,
                        f"text is over {MESSAGE_LIMIT} characters",
                        "some platforms will split it; consider shortening",
                        "warning",
                    )
