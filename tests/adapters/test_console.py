"""The console adapter: who you are, and how a message looks in a terminal."""

from __future__ import annotations

import io

import pytest

from adapters.console import ConsoleAdapter
from bot.messages import Choice, OutgoingMessage
from bot.settings import Settings


def _console(
    monkeypatch: pytest.MonkeyPatch, user: str | None, login: str | None
) -> ConsoleAdapter:
    if login is None:
        monkeypatch.delenv("USER", raising=False)
    else:
        monkeypatch.setenv("USER", login)
    settings = Settings.model_construct(
        console=Settings().console.model_copy(update={"user": user, "display_name": user})
    )
    return ConsoleAdapter(settings, stdin=io.StringIO(""), stdout=io.StringIO())


def test_you_are_your_login_name_or_an_anonymous_newcomer(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (
        _console(monkeypatch, None, "ada").user,
        _console(monkeypatch, None, "ada").display_name,
    ) == ("ada", "ada")
    anonymous = _console(monkeypatch, None, None)
    assert (anonymous.user, anonymous.display_name) == ("newcomer", "")
    named = _console(monkeypatch, "Bea", "ada")
    assert (named.user, named.display_name) == ("Bea", "Bea")


async def test_a_question_prints_as_text_numbered_options_and_a_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    console = _console(monkeypatch, "Bea", None)
    message = OutgoingMessage(
        platform="console",
        recipient="Bea",
        text="**Which** language?\nPick one.",
        choices=(Choice("en", "English"), Choice("fr", "Français [fr]")),
        answer_hint="Reply with a number.",
    )
    await console.send(message)
    printed = console.out.file.getvalue()  # type: ignore[attr-defined]
    assert "Which language?\nPick one." in printed  # Markdown rendered, line break kept
    assert "  1. English\n  2. Français [fr]\n  Reply with a number." in printed
