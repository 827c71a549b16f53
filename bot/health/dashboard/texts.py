"""The dashboard's words in a reader's language, from `content/dashboard.yaml`.

Shared with the sign-in pages and the weekly digest: `text(content, key, locale)` is the
sentence in the reader's language, or in the community's default one where it has no
translation; `say(...)` also puts the given values where the sentence writes `{name}`.
"""

from __future__ import annotations

from flows.content import ContentTree
from flows.dashboard_texts import PLACEHOLDER
from flows.text import pick


def text(content: ContentTree, key: str, locale: str | None) -> str:
    """The text `key` in `locale`, falling back to its base language, then the default."""
    found = content.dashboard.texts.get(key)
    if not found:
        # A community without dashboard.yaml still gets a readable page (`onramp check` asks
        # for the file's texts once it exists).
        return key.replace("_", " ").capitalize()
    _, translation = pick(found, locale, content.community.default_locale)
    if isinstance(translation, dict):
        return translation.get("other") or next(iter(translation.values()), "")
    return translation


def say(content: ContentTree, key: str, locale: str | None, **values: str) -> str:
    """`text(...)` with `{name}` replaced by `values[name]`; a name not given stays as it is
    (`onramp check` refuses names a text is not given)."""
    written = text(content, key, locale)
    return PLACEHOLDER.sub(lambda match: values.get(match[1], match[0]), written)
