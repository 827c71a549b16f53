"""Outgoing messages survive the outbox, and degrade to numbered text without buttons."""

from __future__ import annotations

import json

from bot.messages import Choice, OutgoingMessage, TemplateRef, numbered_text


def test_a_message_round_trips_through_the_outbox_payload() -> None:
    message = OutgoingMessage(
        platform="memory",
        recipient="ada",
        text="Which language?",
        choices=(Choice("en", "English"), Choice("fr", "Français")),
        step_id="language",
        answer_hint="Reply with a number.",
        locale="en",
        template=TemplateRef("nudge", "en", ("Ada",)),
    )
    payload = json.loads(json.dumps(message.to_payload()))  # as the JSON column stores it
    assert "platform" not in payload and "recipient" not in payload
    again = OutgoingMessage.from_payload("memory", "ada", payload, outbox_id=7)
    assert again == message
    assert again.outbox_id == 7


def test_numbered_text_for_platforms_without_buttons() -> None:
    message = OutgoingMessage(
        platform="memory",
        recipient="ada",
        text="Pick one:\n",
        choices=(Choice("a", "Code"), Choice("b", "Docs")),
        answer_hint="Reply with a number or the option's name.",
    )
    assert numbered_text(message) == (
        "Pick one:\n\n1. Code\n2. Docs\n\n_Reply with a number or the option's name._"
    )
    plain = OutgoingMessage(platform="memory", recipient="ada", text="Hello")
    assert numbered_text(plain) == "Hello"
