"""Our Markdown subset in each platform's own markup.

Content is written in a small Markdown subset (**bold**, *italic*, `code`, [links](…), line
breaks; see "Markdown" in docs/managers/texts.md). markdown-it-py parses it — with only those
rules on, so that "1." or "- " at the start of a line stays as typed — and a `Dialect` says
how each platform spells each piece and what it must escape.

Member text reaches here already escaped by the core (flows/markup.py), so it is text tokens
only. Each dialect's `escape` makes a text token text on its platform too: Slack's `<!channel>`
and `<@…>`, Telegram's HTML, Zulip's mentions, and Slack's and WhatsApp's formatting, which
have no escape character (`unformatted`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.token import Token


@dataclass(frozen=True)
class Dialect:
    bold: tuple[str, str]
    italic: tuple[str, str]
    code: tuple[str, str]
    link: Callable[[str, str], str]  # (url, already rendered text) -> markup
    escape: Callable[[str], str]
    # A member on this platform, written [name](member:ID) by the core: (ID, rendered name).
    mention: Callable[[str, str], str] = lambda member, name: name
    # Inside `code`, where the platform reads no markup (None: as `escape`).
    code_escape: Callable[[str], str] | None = None


MEMBER_LINK = "member:"
WORD_JOINER = "\u2060"  # invisible, and no word boundary: a marker next to it marks nothing
_URL = re.compile(r"(?i)\b(?:https?://|mailto:|www\.)\S+")
# A URL a platform may link: it has a scheme (not Slack's `<!here>` or `<@U1>` in disguise).
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def has_link(text: str) -> bool:
    """Whether a platform could show a preview of a link in `text` (lite mode turns that off,
    where there is something to turn off: the option costs bytes of its own)."""
    return _URL.search(text) is not None


def unformatted(text: str, markers: str = "*_~`") -> str:
    """`text` where none of `markers` can start or end formatting, for platforms whose
    formatting has no escape character (Slack's mrkdwn, WhatsApp): a marker touching a
    character is fenced with word joiners, so it is neither at a word boundary nor next to the
    text it would format. URLs are left whole, so that they stay links."""
    marker = re.compile(f"(?<=\\S)[{re.escape(markers)}]|[{re.escape(markers)}](?=\\S)")

    def fenced(part: str) -> str:
        return marker.sub(lambda found: f"{WORD_JOINER}{found[0]}{WORD_JOINER}", part)

    pieces, start = [], 0
    for url in _URL.finditer(text):
        pieces += [fenced(text[start : url.start()]), url[0]]
        start = url.end()
    return "".join([*pieces, fenced(text[start:])])


def _slack_special(text: str) -> str:
    # https://api.slack.com/reference/surfaces/formatting#escaping: only these three.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_escape(text: str) -> str:
    """Text on Slack: its three special characters escaped, and `*bold*`, `_italic_`,
    `~strike~` and `` `code` `` (https://api.slack.com/reference/surfaces/formatting#basic-formatting)
    unformatted."""
    return unformatted(_slack_special(text))


def _slack_link(url: str, text: str) -> str:
    if not _SCHEME.match(url):  # `<!channel|…>` or `<@U1|…>` would notify, not link
        return f"{text} ({_slack_escape(url)})" if text else _slack_escape(url)
    target = _slack_special(url).replace("|", "%7C")
    return f"<{target}|{text}>" if text and text != url else f"<{target}>"


def _html_link(url: str, text: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}">{text or html.escape(url)}</a>'


def _plain_link(url: str, text: str) -> str:
    return url if not text or text == url else f"{text} ({url})"


SLACK = Dialect(
    ("*", "*"),
    ("_", "_"),
    ("`", "`"),
    _slack_link,
    _slack_escape,
    # https://api.slack.com/reference/surfaces/formatting#mentioning-users
    lambda member, name: f"<@{_slack_special(member)}>",
    _slack_special,
)
TELEGRAM_HTML = Dialect(
    ("<b>", "</b>"),
    ("<i>", "</i>"),
    ("<code>", "</code>"),
    _html_link,
    lambda text: html.escape(text, quote=False),
    # https://core.telegram.org/bots/api#formatting-options: a mention of a user by id
    lambda member, name: f'<a href="tg://user?id={html.escape(member, quote=True)}">{name}</a>',
)
# A WhatsApp member id is their phone number: the contact to write to. WhatsApp formats
# *bold*, _italic_, ~strike~, `code` and ```monospace``` and has no escape character:
# https://faq.whatsapp.com/539178204879377
WHATSAPP = Dialect(
    ("*", "*"),
    ("_", "_"),
    ("`", "`"),
    _plain_link,
    unformatted,
    lambda member, name: f"{name} (+{member})",
    lambda text: text,
)
PLAIN = Dialect(("", ""), ("", ""), ("", ""), _plain_link, lambda text: text)


@cache
def _parser() -> MarkdownIt:
    parser = MarkdownIt("zero", {"breaks": True, "linkify": False})
    return parser.enable(["emphasis", "backticks", "link", "autolink", "escape", "newline"])


def render(text: str, dialect: Dialect) -> str:
    """`text` (our Markdown subset) in `dialect`; paragraphs are kept apart by a blank line."""
    paragraphs = [
        _inline(token.children or [], dialect)
        for token in _parser().parse(text)
        if token.type == "inline"
    ]
    return "\n\n".join(paragraphs)


def _inline(tokens: Sequence[Token], dialect: Dialect) -> str:
    out: list[str] = []
    links: list[tuple[str, int]] = []  # (url, where its text starts in `out`)
    for token in tokens:
        match token.type:
            case "text":
                out.append(dialect.escape(token.content))
            case "strong_open" | "strong_close":
                out.append(dialect.bold[token.type == "strong_close"])
            case "em_open" | "em_close":
                out.append(dialect.italic[token.type == "em_close"])
            case "code_inline":
                start, end = dialect.code
                code_escape = dialect.code_escape or dialect.escape
                out.append(f"{start}{code_escape(token.content)}{end}")
            case "softbreak" | "hardbreak":
                out.append("\n")
            case "link_open":
                links.append((str(token.attrs.get("href", "")), len(out)))
            case "link_close":
                url, begins = links.pop()
                label = "".join(out[begins:])
                del out[begins:]
                if url.startswith(MEMBER_LINK):
                    out.append(dialect.mention(url.removeprefix(MEMBER_LINK), label))
                else:
                    out.append(dialect.link(url, label if label != dialect.escape(url) else ""))
            case _:
                out.append(dialect.escape(token.content))
    return "".join(out)
