"""Our Markdown subset in each platform's markup."""

from __future__ import annotations

import pytest

from adapters.markdown import PLAIN, SLACK, TELEGRAM_HTML, WHATSAPP, Dialect, render
from adapters.zulip.adapter import ZULIP

TEXT = (
    "Hello **Ada** & <friends>!\n"
    "Read the *guide*: [contribution guide](https://example.org/a?b=1&c=2)\n"
    "1. Code\n"
    "- docs `a<b`\n"
    "\n"
    "See <https://example.org/x>"
)


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        (
            SLACK,
            "Hello *Ada* &amp; &lt;friends&gt;!\n"
            "Read the _guide_: <https://example.org/a?b=1&amp;c=2|contribution guide>\n"
            "1. Code\n- docs `a&lt;b`\n\nSee <https://example.org/x>",
        ),
        (
            TELEGRAM_HTML,
            "Hello <b>Ada</b> &amp; &lt;friends&gt;!\n"
            'Read the <i>guide</i>: <a href="https://example.org/a?b=1&amp;c=2">'
            "contribution guide</a>\n"
            "1. Code\n- docs <code>a&lt;b</code>\n\n"
            'See <a href="https://example.org/x">https://example.org/x</a>',
        ),
        (
            WHATSAPP,
            "Hello *Ada* & <friends>!\n"
            "Read the _guide_: contribution guide (https://example.org/a?b=1&c=2)\n"
            "1. Code\n- docs `a<b`\n\nSee https://example.org/x",
        ),
        (
            PLAIN,
            "Hello Ada & <friends>!\n"
            "Read the guide: contribution guide (https://example.org/a?b=1&c=2)\n"
            "1. Code\n- docs a<b\n\nSee https://example.org/x",
        ),
    ],
)
def test_each_dialect(dialect: Dialect, expected: str) -> None:
    assert render(TEXT, dialect) == expected


def test_list_markers_and_headings_stay_as_typed() -> None:
    text = "# Not a heading\n2. two\n* star"
    assert render(text, SLACK) == "# Not a heading\n2. two\n* star"


def test_escaped_markup_and_unclosed_emphasis_are_literal() -> None:
    assert render(r"\*not italic\* and *open", TELEGRAM_HTML) == "*not italic* and *open"


def test_any_text_renders_without_error() -> None:
    for text in ["", "   ", "👋🏽 مرحبا", "\x00\x07", "[](", "**" * 500, "`" * 101]:
        assert isinstance(render(text, SLACK), str)


def test_a_member_link_is_each_platforms_own_mention() -> None:
    text = "Meet **Ada**: [Ada](member:U0ADA00001)."
    assert render(text, SLACK) == "Meet *Ada*: <@U0ADA00001>."
    assert render(text, TELEGRAM_HTML) == (
        'Meet <b>Ada</b>: <a href="tg://user?id=U0ADA00001">Ada</a>.'
    )
    assert render("[Ada](member:254700000001)", WHATSAPP) == "Ada (+254700000001)"
    assert render("[Ada](member:12)", ZULIP) == "@_**Ada|12**"
    assert render("[Ada](member:12)", PLAIN) == "Ada"
