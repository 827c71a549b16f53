"""Each adapter shows a message as its platform will, with no secrets and nothing started
(`render_preview`, what `onramp campaign preview` prints)."""

from __future__ import annotations

from adapters.console import ConsoleAdapter
from adapters.memory import MemoryAdapter
from adapters.slack.adapter import SlackAdapter
from adapters.telegram.adapter import TelegramAdapter
from adapters.whatsapp.adapter import WhatsAppAdapter
from adapters.zulip.adapter import ZulipAdapter
from bot.adapter import available_adapters
from bot.messages import Choice, OutgoingMessage

TEXT = "📣 The **call** is *Thursday* <3 & [agenda](https://example.org/a?b=1&c=2).\nBring `tea`."
CALL = OutgoingMessage(platform="any", recipient="preview", text=TEXT, locale="en")
QUESTION = OutgoingMessage(
    platform="any",
    recipient="preview",
    text="Which **one**?",
    choices=(Choice("a", "Apples"), Choice("b", "Pears")),
    step_id="fruit",
    answer_hint="Reply with a number.",
)


def test_every_installed_adapter_renders_a_preview() -> None:
    for name, factory in available_adapters().items():
        assert callable(getattr(factory, "render_preview", None)), name


def test_console_shows_the_text_as_the_terminal_does() -> None:
    assert ConsoleAdapter.render_preview(CALL) == (
        "📣 The call is Thursday <3 & agenda.\nBring tea."
    )
    assert ConsoleAdapter.render_preview(QUESTION) == (
        "Which one?\n  1. Apples\n  2. Pears\n  Reply with a number."
    )


def test_memory_passes_the_markdown_through() -> None:
    assert MemoryAdapter.render_preview(CALL) == TEXT


def test_slack_writes_mrkdwn() -> None:
    assert SlackAdapter.render_preview(CALL) == (
        "📣 The *call* is _Thursday_ &lt;3 &amp; <https://example.org/a?b=1&amp;c=2|agenda>.\n"
        "Bring `tea`."
    )
    assert SlackAdapter.render_preview(QUESTION) == "Which *one*?"  # the choices are buttons


def test_telegram_writes_html() -> None:
    assert TelegramAdapter.render_preview(CALL) == (
        "📣 The <b>call</b> is <i>Thursday</i> &lt;3 &amp; "
        '<a href="https://example.org/a?b=1&amp;c=2">agenda</a>.\nBring <code>tea</code>.'
    )
    assert TelegramAdapter.render_preview(QUESTION) == "Which <b>one</b>?"


def test_zulip_writes_its_markdown_with_numbered_choices() -> None:
    assert ZulipAdapter.render_preview(CALL) == (
        "📣 The **call** is *Thursday* <3 & [agenda](https://example.org/a?b=1&c=2).\nBring `tea`."
    )
    assert ZulipAdapter.render_preview(QUESTION) == (
        "Which **one**?\n\n1. Apples\n2. Pears\n\n*Reply with a number.*"
    )


def test_whatsapp_writes_its_own_markup() -> None:
    assert WhatsAppAdapter.render_preview(CALL) == (
        "📣 The *call* is _Thursday_ <3 & agenda (https://example.org/a?b=1&c=2).\nBring `tea`."
    )
    assert WhatsAppAdapter.render_preview(QUESTION) == "Which *one*?"  # reply buttons
