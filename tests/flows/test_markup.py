"""Member text is data, never markup: the template layer's one escaping rule (flows/markup.py)
and what each platform's dialect makes of what it escaped (adapters/markdown.py)."""

from __future__ import annotations

import html
import re
from typing import Literal

from hypothesis import given
from hypothesis import strategies as st

from adapters.markdown import PLAIN, SLACK, TELEGRAM_HTML, WHATSAPP, WORD_JOINER, render
from adapters.zulip.adapter import ZULIP
from flows.markup import Markdown, escape, member_link, mentions_as_names
from flows.text import render_markdown, render_template

# What a member can type on one line: any character but the line breaks (a line's leading and
# trailing spaces are Markdown's to trim) and NUL (CommonMark reads it as U+FFFD).
SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
ONE_LINE = st.text(
    st.characters(exclude_categories=SURROGATES, exclude_characters="\n\r\x00"), max_size=80
)
# Mostly the characters that mean something somewhere, to find the cases that matter.
MARKUP = st.text(st.sampled_from(list("*_~`[]()<>!@#&;\\|$:/ aZ0é👋")), max_size=40)

HOSTILE = [
    "[Claim your prize](https://evil.example/win) [admin](member:777)",
    "[Reset your password](https://evil.example/login)",
    "[you](member:U0THIRD001)",
    "<!channel> <!here> <!everyone> <@U0THIRD001> <#C0GENERAL>",
    "@**all** @**everyone** @**stream** @**channel** @**topic** @**Ada Admin** @_**Bo|12**",
    "@*moderators* #**general** <time:2030-01-01T00:00:00Z> $$x^2$$ ~~gone~~",
    "*bold* _italic_ ~strike~ `code` ```block``` **strong** <b>html</b> &lt;b&gt;",
    "<https://evil.example/auto> <a href='https://evil.example'>x</a>",
    "\\*not\\* \\\\ a backslash",
]


def zulip_shows(content: str) -> str:
    """Zulip's reading of text: the HTML entities it knows (with their `;`) as characters."""
    entity = r"&(?:#[0-9]+|#x[0-9a-fA-F]+|[a-zA-Z0-9]+);"
    return re.sub(entity, lambda found: html.unescape(found[0]), content)


def framed(member_text: str) -> Markdown:
    """Member text inside an author's template, with Markdown of the author's own around it."""
    return render_markdown("**Hi** «{{ name }}»", {"name": member_text})


@given(ONE_LINE)
def test_escaped_text_reads_back_as_exactly_what_was_typed(text: str) -> None:
    assert render(framed(text), PLAIN) == f"Hi «{text}»"


@given(MARKUP)
def test_text_full_of_markup_reads_back_as_typed_on_every_platform(text: str) -> None:
    rendered = framed(text)
    assert render(rendered, PLAIN) == f"Hi «{text}»"
    # Telegram and Zulip read entities; Slack its three; word joiners are invisible.
    assert html.unescape(render(rendered, TELEGRAM_HTML)) == f"<b>Hi</b> «{text}»"
    assert zulip_shows(render(rendered, ZULIP)) == f"**Hi** «{text}»"
    slack = render(rendered, SLACK).replace(WORD_JOINER, "")
    assert slack.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == (
        f"*Hi* «{text}»"
    )
    assert render(rendered, WHATSAPP).replace(WORD_JOINER, "") == f"*Hi* «{text}»"


def test_what_the_bot_writes_stays_markup_and_member_text_does_not() -> None:
    name = "[Claim your prize](https://evil.example/win) [admin](member:777)"
    text = render_markdown(
        "Welcome **{{ who }}**, meet {{ mentor }}: [the guide](https://example.org/guide)",
        {"who": name, "mentor": member_link("12", "Ada *the* [mentor]")},
    )
    telegram = render(text, TELEGRAM_HTML)
    assert telegram == (
        "Welcome <b>[Claim your prize](https://evil.example/win) [admin](member:777)</b>, meet "
        '<a href="tg://user?id=12">Ada *the* [mentor]</a>: '
        '<a href="https://example.org/guide">the guide</a>'
    )
    assert render(text, ZULIP) == (
        "Welcome **&#91;Claim your prize&#93;(https://evil.example/win) &#91;admin&#93;"
        "(member:777)**, meet @_**Ada &#42;the&#42; &#91;mentor&#93;|12**: "
        "[the guide](https://example.org/guide)"
    )


def test_a_member_link_with_an_odd_id_is_only_the_name() -> None:
    assert member_link("12) [x](https://evil.example", "Ada") == "Ada"
    assert member_link("U0ADA00001", "") == "[U0ADA00001](member:U0ADA00001)"


def test_markdown_values_go_in_as_they_are_and_escaping_twice_changes_nothing() -> None:
    assert render_markdown("{{ a }}", {"a": Markdown("**b**")}) == "**b**"
    assert escape(escape("*b*")) == escape("*b*") == r"\*b\*"
    assert render_markdown("{{ a | upper }}", {"a": Markdown("*b*")}) == r"\*B\*"  # a new str


def test_values_are_not_escaped() -> None:
    # A profile field a flow sets, a count, a WhatsApp template parameter: data, not a message.
    assert render_template("{{ a }} {{ n }}", {"a": "*ada_l*", "n": 3}) == "*ada_l* 3"


def test_mentions_in_member_text_become_names() -> None:
    typed = r"helping [Bo](member:U0BO) and [A\]da](member:12) with [docs](https://x.org)"
    assert mentions_as_names(typed) == "helping @Bo and @A]da with [docs](https://x.org)"


def _formatted(text: str, marker: str) -> bool:
    """Would Slack or WhatsApp format this: a marker at a word boundary, next to the text it
    marks, closed the same way (their published rules; neither has an escape character)?"""
    m = re.escape(marker)
    edge = r"[\s.,;:!?()'\"]"
    return bool(re.search(rf"(?:^|(?<={edge})){m}(?=\S)[^{m}\n]*?(?<=\S){m}(?=$|{edge})", text))


def test_a_hostile_corpus_is_text_on_every_platform() -> None:
    for typed in HOSTILE:
        rendered = framed(typed)
        slack = render(rendered, SLACK)
        assert "<@" not in slack and "<!" not in slack and "<#" not in slack, slack
        assert "<http" not in slack, slack
        assert not any(_formatted(slack.removeprefix("*Hi*"), m) for m in "*_~`"), slack
        telegram = render(rendered, TELEGRAM_HTML)
        assert "<a " not in telegram and "<b>html" not in telegram, telegram
        assert telegram.count("<b>") == 1 and "<code>" not in telegram, telegram
        zulip = render(rendered, ZULIP)
        for live in ("@**", "@_**", "@*", "#**", "](", "`", "~~", "$$", "<time:"):
            assert live not in zulip, (live, zulip)
        assert zulip.count("**") == 2, zulip  # the author's **Hi** only
        whatsapp = render(rendered, WHATSAPP)
        assert not any(_formatted(whatsapp.removeprefix("*Hi*"), m) for m in "*_~`"), whatsapp


def test_links_to_odd_places_are_not_slack_mentions() -> None:
    # An author's typo or a member's text that slipped through must not notify anyone.
    assert render("[everyone](!channel) [you](@U0THIRD001)", SLACK) == (
        "everyone (!channel) you (@U0THIRD001)"
    )
    assert render("[guide](https://x.org/a|b)", SLACK) == "<https://x.org/a%7Cb|guide>"


def test_urls_in_text_stay_whole_on_slack_and_whatsapp() -> None:
    url = "https://github.com/org/repo/blob/main/CODE_OF_CONDUCT.md"
    assert render(f"Read {url} _now_", SLACK) == f"Read {url} _now_"
    assert render(escape(f"see {url} or *that*"), WHATSAPP) == (
        f"see {url} or {WORD_JOINER}*{WORD_JOINER}that{WORD_JOINER}*{WORD_JOINER}"
    )


def test_an_underscore_inside_a_word_is_left_as_typed_so_code_shows_no_backslash() -> None:
    # `{{ context.campaign }}` in backticks: a code span shows a backslash as it is.
    rendered = render_markdown("Sent `{{ key }}` and {{ key }}.", {"key": "community_call"})
    assert rendered == "Sent `community_call` and community_call."
    assert render(rendered, PLAIN) == "Sent community_call and community_call."
    # At a word's edge an underscore could mark emphasis: it is escaped there.
    assert escape("_x_ a__b") == r"\_x\_ a\_\_b"
    assert render(escape("_x_ a__b"), TELEGRAM_HTML) == "_x_ a__b"
