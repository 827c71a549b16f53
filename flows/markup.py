"""Member text is data, never markup: the one escaping rule of the content's Markdown subset.

Messages are written in a small Markdown subset (adapters/markdown.py turns it into each
platform's markup). A template inserts whatever a member typed (a name, an answer, a kudos
reason, a bio) escaped, so that it reads back as exactly what they typed and never becomes a
link, a mention, bold or code. What the bot writes itself (a rendered text, a mention of a
member) is `Markdown` and is inserted as it is.
"""

from __future__ import annotations

import re
from typing import Any

# Every character our subset gives a meaning to: a backslash escape, emphasis, code, links
# and mentions ([…](…)), autolinks (<…>). A backslash before any of them makes it text.
# An underscore between two letters or digits (`community_call`) marks nothing in CommonMark,
# so it is left as typed: inside an author's `code` a backslash would show.
_SPECIAL = re.compile(r"([\\`*\[\]<>]|(?<![^\W_])_|_(?![^\W_]))")
# What a platform id may look like inside `member:ID` (Slack U0ADA, Telegram and Zulip numbers,
# WhatsApp phone numbers); anything else cannot be a link's destination as it is.
_MEMBER_ID = re.compile(r"[A-Za-z0-9_.:+-]{1,64}")
# A member link as the core and the adapters write it; its label may hold escapes.
_MEMBER_LINK = re.compile(r"\[(?P<label>(?:\\.|[^\\\]])*)\]\(member:(?P<id>[^)\s]+)\)")
_UNESCAPE = re.compile(r"\\(.)")


class Markdown(str):
    """Text in the content's Markdown subset, written by the bot or a content author (a text
    already rendered, a mention): a template inserts it as it is. Any other value it inserts
    is someone's text, and is escaped."""

    __slots__ = ()


def escape(value: Any) -> Markdown:
    """`value` as Markdown that reads back as exactly its text; `Markdown` stays as it is."""
    if isinstance(value, Markdown):
        return value
    return Markdown(_SPECIAL.sub(r"\\\1", str(value)))


def member_link(external_id: str, name: str) -> Markdown:
    """A mention of a member, `[name](member:ID)`, which each adapter renders as its
    platform's own mention; the name is text, whatever it holds."""
    if not _MEMBER_ID.fullmatch(external_id):
        return escape(name)
    return Markdown(f"[{escape(name or external_id)}](member:{external_id})")


def mentions_as_names(text: str) -> str:
    """Member text with each member link (a platform mention the adapter resolved, or one
    typed as it is) as `@name`: text to show, which mentions no one."""
    return _MEMBER_LINK.sub(lambda found: "@" + _UNESCAPE.sub(r"\1", found["label"]), text)
