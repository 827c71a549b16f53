"""The console adapter: who you are, and how a message looks in a terminal."""

from __future__ import annotations

import asyncio
import io

import pytest

from adapters.console import ConsoleAdapter
from bot.adapter import Receipt, SystemText
from bot.adapter_texts import adapter_texts
from bot.events import Event, MemberJoined
from bot.messages import Choice, OutgoingMessage
from bot.runtime import Onramp
from bot.settings import Settings
from flows.content import load_tree_or_raise
from tests.clock import FakeClock
from tests.conftest import CONTENT
from tests.features import ACTIONS


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


async def _chat_in_the_console(settings: Settings, clock: FakeClock, typed: str) -> str:
    """A whole console session on the real runtime: what the terminal shows."""
    settings.console = settings.console.model_copy(update={"user": "Zuri", "display_name": "Zuri"})
    console = ConsoleAdapter(settings, stdin=io.StringIO(typed), stdout=io.StringIO())
    onramp = await Onramp.create(settings, {"console": console}, clock=clock)
    await onramp.start()
    try:
        await asyncio.wait_for(console.closed(), 30)
    finally:
        await onramp.stop()
    return console.out.file.getvalue()  # type: ignore[attr-defined,no-any-return]


async def test_the_console_says_goodbye_in_the_language_the_member_chose(
    settings: Settings, clock: FakeClock
) -> None:
    shown = await _chat_in_the_console(settings, clock, "Español\n1\n/quit\n")
    lines = shown.splitlines()
    # Before anyone is known, in the community's default language; then the language first.
    assert lines[0] == "Onramp console. Type your answers; /help for commands, /quit to leave."
    assert "Which language would you like me to use?" in shown
    assert "¿En qué zona horaria estás?" in shown
    assert lines[-1] == (
        "¡Hasta pronto! Vuelve a abrirme cuando quieras para seguir donde lo dejaste."
    )
    assert "Bye!" not in shown


async def test_the_console_says_goodbye_in_french_at_the_end_of_its_input(
    settings: Settings, clock: FakeClock
) -> None:
    shown = await _chat_in_the_console(settings, clock, "Français\n")
    assert "Cela vous convient-il ?" in shown  # consent, asked in French
    assert shown.splitlines()[-1] == (
        "Au revoir ! Relancez-moi quand vous voulez pour reprendre là où vous en étiez."
    )


@pytest.fixture(scope="module")
def texts() -> SystemText:
    return adapter_texts(load_tree_or_raise(CONTENT, actions=ACTIONS))


async def test_a_failure_and_a_slow_reply_are_told_in_the_member_s_language(
    monkeypatch: pytest.MonkeyPatch, texts: SystemText
) -> None:
    console = _console(monkeypatch, "Bea", None)
    console.set_texts(texts)
    spanish = OutgoingMessage(platform="console", recipient="Bea", text="¿Y?", locale="es")
    await console.send(spanish)

    async def failing(event: Event) -> Receipt:
        raise RuntimeError("a bug in the core")

    async def slow(event: Event) -> Receipt:
        return Receipt(duplicate=False, settled=asyncio.get_running_loop().create_future())

    monkeypatch.setattr("adapters.console.REPLY_WAIT_SECONDS", 0)
    joined = console._event(MemberJoined, 1)
    await console._submit(failing, joined)
    await console._submit(slow, joined)
    printed = console.out.file.getvalue()  # type: ignore[attr-defined]
    assert printed.splitlines()[-2:] == [
        "Lo siento, algo ha fallado por mi parte; los detalles están en el registro. "
        "Tus respuestas anteriores están a salvo.",
        "(la respuesta está tardando más de lo habitual)",
    ]


def test_the_console_prints_only_texts_without_variables(texts: SystemText) -> None:
    assert texts("console_goodbye", "fr").startswith("Au revoir !")
    assert texts("console_goodbye", "xx").startswith("Bye!")  # a language it lacks: the default
    with pytest.raises(KeyError, match="welcome_back"):
        texts("welcome_back", "en")  # it takes the member's name: an adapter knows no member
