"""How messages reach a member (/mode): rich, text or lite, applied to every message the
core queues for them (`Turn.reply`), whichever feature wrote it.

- rich: buttons and lists where the platform has them, link previews;
- text: no buttons or lists, the options numbered in the text (answered by number or name);
- lite: as text, the content's `short:` variant where there is one, no link previews, and
  each link replaced by a marker (🔗1): the member gets the links with /links.
"""

from __future__ import annotations

import re
from dataclasses import replace

from bot.messages import OutgoingMessage, numbered_text
from flows.schema import MODES, Mode

LINK_MARKER = "🔗"
# A link of our Markdown subset (not a member mention), an autolink, or a bare URL; a bare
# URL ends before a space, an isolate (flows/text.py) or markup.
_LINK = re.compile(
    r"(?<!\\)\[(?P<label>(?:\\.|[^\\\]])*)\]\((?P<url>(?!member:)[^)\s]+)\)"
    r"|(?<!\\)<(?P<auto>[A-Za-z][A-Za-z0-9+.-]*:[^<>\s]+)>"
    r"|(?P<bare>\b(?:https?://|mailto:|www\.)[^\s\u2068\u2069<>]+)"
)
_TRAILING = re.compile(r"[.,;:!?)\]'\"»]+$")
_UNESCAPE = re.compile(r"\\(.)")


def mode_of(value: str | None) -> Mode | None:
    """A mode as a member may type it (`/mode Lite`); None if it is none."""
    wanted = (value or "").strip().casefold()
    return next((mode for mode in MODES if mode == wanted), None)


def as_text(message: OutgoingMessage) -> OutgoingMessage:
    """The message with its options as numbered lines of text: no buttons, no list."""
    if not message.choices:
        return message
    return replace(
        message,
        text=numbered_text(message),
        choices=(),
        multiple=False,
        answer_hint=None,
        submit_label=None,
        choose_label=None,
    )


def without_links(text: str, first: int = 1) -> tuple[str, list[str]]:
    """`text` with each link's address replaced by a numbered marker (its label stays), and
    the addresses in order; numbering starts at `first`."""
    links: list[str] = []

    def marked(found: re.Match[str]) -> str:
        trailing = ""
        if found["bare"] is not None:
            url = found["bare"]
            if cut := _TRAILING.search(url):
                url, trailing = url[: cut.start()], cut[0]
        else:
            url = found["url"] or found["auto"]
        links.append(_UNESCAPE.sub(r"\1", url))
        marker = f"{LINK_MARKER}{first + len(links) - 1}"
        label = found["label"]
        return (f"{label} {marker}" if label else marker) + trailing

    return _LINK.sub(marked, text), links
