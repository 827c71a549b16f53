"""Localized text: locale fallback, CLDR plurals (Babel) and sandboxed Jinja2 templates.

A message's template escapes every value it inserts for the content's Markdown subset, unless
the value is `Markdown` (flows/markup.py): member text stays text, whatever it holds.

In a right-to-left language (Babel's `character_order`), every value a template inserts is
also put between Unicode isolates (FSI … PDI), so that a Latin name, a link or a number keeps
its own direction and does not reorder the sentence around it. A value inserted as a link's
destination (`[docs]({{ community.links.docs }})`) or as the whole of a code span is isolated
with the link or the code around it: a URL stays a URL, and code is copied without them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError
from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from flows.markup import Markdown, escape
from flows.schema import ANY_LOCALE, Text, Translation

# The only names a template may use; `onramp check` rejects any other.
TEMPLATE_VARIABLES = frozenset({"member", "answers", "community", "context", "count"})

# Messages: whatever `{{ … }}` prints goes through `escape` (Jinja's `finalize`), the way
# autoescaping works for HTML; `Markdown` values are the bot's own markup and go as they are.
_environment = ImmutableSandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False, finalize=escape
)
FSI, PDI = "\u2068", "\u2069"  # first strong isolate, pop directional isolate


def _isolated(value: Any) -> Markdown:
    escaped = escape(value)
    return Markdown(f"{FSI}{escaped}{PDI}") if escaped else escaped


_isolating = ImmutableSandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False, finalize=_isolated
)
# `[label](FSI url PDI)`, as an isolated value makes a link: the isolates go around the link.
_ISOLATED_DESTINATION = re.compile(
    r"(?<!\\)\[(?P<label>(?:\\.|[^\\\]])*)\]\(" + FSI + r"(?P<url>[^)\s]*)" + PDI + r"\)"
)
# `` `FSI value PDI` ``: code shows every character and is copied as it is (a command to send
# back), so the isolates go around the code instead.
_ISOLATED_CODE = re.compile(r"`" + FSI + r"(?P<code>[^`" + FSI + PDI + r"]*)" + PDI + r"`")
# Values (a profile field a flow sets, a count, a WhatsApp template's parameter): as they are.
_values = ImmutableSandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
)


def fallback_chain(locale: str | None, default_locale: str) -> list[str]:
    """member locale -> its base language -> the community default, without repeats."""
    chain: list[str] = []
    if locale:
        chain.append(locale)
        base = locale.replace("-", "_").split("_")[0]
        chain.append(base)
    chain.append(default_locale)
    chain.append(ANY_LOCALE)
    return list(dict.fromkeys(chain))


def pick(text: Text, locale: str | None, default_locale: str) -> tuple[str, Translation]:
    """The translation to show, and the locale it is written in."""
    for candidate in fallback_chain(locale, default_locale):
        if candidate in text:
            return (default_locale if candidate == ANY_LOCALE else candidate), text[candidate]
    first = next(iter(text))
    return first, text[first]


@lru_cache(maxsize=256)
def _babel_locale(code: str) -> Locale | None:
    try:
        return Locale.parse(code)
    except (UnknownLocaleError, ValueError):
        return None


def plural_category(locale: str, count: float) -> str:
    parsed = _babel_locale(locale)
    return parsed.plural_form(count) if parsed is not None else ("one" if count == 1 else "other")


def plural_categories(locale: str) -> set[str]:
    parsed = _babel_locale(locale)
    return set(parsed.plural_form.tags) | {"other"} if parsed is not None else {"one", "other"}


@lru_cache(maxsize=2048)
def _compiled(source: str) -> Any:
    return _environment.from_string(source)


@lru_cache(maxsize=1024)
def _compiled_isolating(source: str) -> Any:
    return _isolating.from_string(source)


@lru_cache(maxsize=512)
def _compiled_value(source: str) -> Any:
    return _values.from_string(source)


def render_template(source: str, variables: Mapping[str, Any]) -> str:
    """A value, not a message: what the template prints is kept as it is."""
    if "{" not in source:
        return source
    return str(_compiled_value(source).render(**variables))


def render_markdown(
    source: str, variables: Mapping[str, Any], *, right_to_left: bool = False
) -> Markdown:
    """A message: the author's Markdown, with every value it prints escaped (member text
    stays text) unless it is `Markdown` already; `right_to_left`, each value isolated too."""
    if "{" not in source:
        return Markdown(source)
    if not right_to_left:
        return Markdown(_compiled(source).render(**variables))
    rendered = _compiled_isolating(source).render(**variables)
    rendered = _ISOLATED_DESTINATION.sub(rf"{FSI}[\g<label>](\g<url>){PDI}", rendered)
    return Markdown(_ISOLATED_CODE.sub(rf"{FSI}`\g<code>`{PDI}", rendered))


@lru_cache(maxsize=64)
def is_right_to_left(locale: str) -> bool:
    parsed = _babel_locale(locale)
    return parsed is not None and parsed.character_order == "right-to-left"


def render(
    text: Text, locale: str | None, default_locale: str, variables: Mapping[str, Any]
) -> str:
    """The text as a message: a `Markdown` (member text in it escaped), typed `str` for the
    callers that add to it."""
    shown_locale, translation = pick(text, locale, default_locale)
    if isinstance(translation, dict):
        count = variables.get("count")
        number = count if isinstance(count, int | float) else 0
        category = plural_category(shown_locale, number)
        source = translation.get(category) or translation["other"]  # type: ignore[call-overload]
    else:
        source = translation
    return render_markdown(source, variables, right_to_left=is_right_to_left(shown_locale))


def template_names(source: str) -> tuple[set[str], set[tuple[str, str]]]:
    """Top-level variables used, and (variable, attribute) pairs like ('answers', 'language').

    Raises TemplateSyntaxError for a broken template.
    """
    tree = _environment.parse(source)
    names = set(meta.find_undeclared_variables(tree))
    attributes = {
        (node.node.name, node.attr)
        for node in tree.find_all(nodes.Getattr)
        if isinstance(node.node, nodes.Name)
    }
    attributes |= {
        (node.node.name, str(node.arg.value))
        for node in tree.find_all(nodes.Getitem)
        if isinstance(node.node, nodes.Name) and isinstance(node.arg, nodes.Const)
    }
    return names, attributes


__all__ = [
    "TEMPLATE_VARIABLES",
    "Markdown",
    "TemplateSyntaxError",
    "fallback_chain",
    "is_right_to_left",
    "pick",
    "plural_categories",
    "plural_category",
    "render",
    "render_markdown",
    "render_template",
    "template_names",
]
