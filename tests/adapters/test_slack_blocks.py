"""Block Kit rendering and reading presses back: what Slack's limits make of our messages."""

from __future__ import annotations

import json

import pytest

from adapters.slack.adapter import payloads as slack_payloads
from adapters.slack.blocks import (
    DONE,
    PICK,
    NotOurs,
    Press,
    answered_blocks,
    read_press,
    render_message,
)
from bot.messages import Choice, Invite, OutgoingMessage


def question(count: int, *, multiple: bool = False, text: str = "Pick **one**") -> OutgoingMessage:
    return OutgoingMessage(
        platform="slack",
        recipient="U0ADA00001",
        text=text,
        choices=tuple(Choice(f"c{n}", f"Choice {n}") for n in range(1, count + 1)),
        multiple=multiple,
        step_id="pick",
        answer_hint="Reply with a number.",
    )


def test_plain_text_is_mrkdwn_without_blocks() -> None:
    invited = Invite("Open a chat with me", source="group")  # Telegram's; Slack can write first
    rendered = render_message(
        OutgoingMessage(platform="slack", recipient="D1", text="Hi **Ada** & <co>", invite=invited)
    )
    assert (rendered.text, rendered.blocks) == ("Hi *Ada* &amp; &lt;co&gt;", None)


def test_a_single_choice_is_buttons_under_the_text() -> None:
    rendered = render_message(question(3))

    assert rendered.text == "Pick *one*"  # what a notification shows
    assert rendered.blocks is not None
    section, actions = rendered.blocks
    assert section["text"] == {"type": "mrkdwn", "text": "Pick *one*"}
    assert [e["action_id"] for e in actions["elements"]] == [
        "onramp.choice.0",
        "onramp.choice.1",
        "onramp.choice.2",
    ]
    assert json.loads(actions["elements"][1]["value"]) == {"step": "pick", "choice": "c2"}
    assert actions["elements"][1]["text"]["text"] == "Choice 2"


def test_a_multiple_choice_is_checkboxes_and_ok() -> None:
    rendered = render_message(question(10, multiple=True))

    assert rendered.blocks is not None
    boxes, ok = rendered.blocks[-1]["elements"]
    assert (boxes["type"], boxes["action_id"], len(boxes["options"])) == ("checkboxes", PICK, 10)
    assert boxes["options"][0]["value"] == "c1"
    assert (ok["action_id"], json.loads(ok["value"])) == (DONE, {"step": "pick"})


@pytest.mark.parametrize("message", [question(26), question(11, multiple=True)])
def test_more_choices_than_block_kit_holds_are_numbered_text(message: OutgoingMessage) -> None:
    rendered = render_message(message)

    assert rendered.blocks is None
    assert "\n1. Choice 1\n" in rendered.text and rendered.text.endswith("_Reply with a number._")


def test_a_long_question_spans_sections_of_at_most_3000_characters() -> None:
    paragraph = "word " * 500  # 2,500 characters
    rendered = render_message(question(2, text=f"{paragraph}\n\n{paragraph}\n\n{paragraph}"))

    assert rendered.blocks is not None
    sections = [b["text"]["text"] for b in rendered.blocks if b["type"] == "section"]
    assert len(sections) == 3 and all(len(s) <= 3000 for s in sections)
    assert " ".join(sections).split() == rendered.text.split()
    assert len({b.get("block_id") for b in rendered.blocks}) == len(rendered.blocks)


def test_a_long_label_is_shortened_on_its_button_not_in_its_value() -> None:
    message = OutgoingMessage(
        platform="slack",
        recipient="D1",
        text="?",
        choices=(Choice("long", "x" * 100),),
        step_id="s",
    )
    rendered = render_message(message)

    assert rendered.blocks is not None
    button = rendered.blocks[-1]["elements"][0]
    assert len(button["text"]["text"]) == 75 and button["text"]["text"].endswith("…")


def test_a_press_reads_back_its_answer_and_marks_the_question_answered() -> None:
    rendered = render_message(question(3))
    assert rendered.blocks is not None
    button = rendered.blocks[-1]["elements"][2]

    press = read_press({**button, "block_id": "onramp.choices"}, {})
    blocks = answered_blocks({"blocks": rendered.blocks}, press.choice_ids)

    assert press == Press("pick", ("c3",))
    assert [b["type"] for b in blocks] == ["section", "context"]
    assert blocks[-1]["elements"][0]["text"] == "✔️ Choice 3"


def test_ok_reads_the_ticked_boxes() -> None:
    rendered = render_message(question(4, multiple=True))
    assert rendered.blocks is not None
    boxes, ok = rendered.blocks[-1]["elements"]
    ticked = [boxes["options"][3], boxes["options"][1]]
    state = {"values": {"onramp.choices": {PICK: {"selected_options": ticked}}}}

    press = read_press({**ok, "block_id": "onramp.choices"}, state)
    blocks = answered_blocks({"blocks": rendered.blocks}, press.choice_ids)

    assert press == Press("pick", ("c4", "c2"))
    assert blocks[-1]["elements"][0]["text"] == "✔️ Choice 4, Choice 2"
    assert read_press({**ok, "block_id": "onramp.choices"}, {}).choice_ids == ()


@pytest.mark.parametrize(
    "action",
    [
        {"action_id": "approve", "value": "{}"},
        {"action_id": "onramp.choice.0", "value": "not json"},
        {"action_id": "onramp.choice.0", "value": '{"step": "s"}'},
        {"action_id": DONE, "value": "[]"},
        {"action_id": DONE},
    ],
)
def test_a_button_that_is_not_ours_is_refused(action: dict[str, str]) -> None:
    with pytest.raises(NotOurs):
        read_press(action, {})


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("<http://example.org|example.org>", "example.org"),
        ("<mailto:ada@example.org|ada@example.org>", "ada@example.org"),
        ("<https://example.org/a?b=1&amp;c=2>", "https://example.org/a?b=1&c=2"),
        ("ask <@U0BEA00001> in <#C0GENERAL1|general>", "ask @U0BEA00001 in #general"),
        ("<@U0BEA00001|bea>, <!subteam^S0TEAM0001|@mentors>", "@bea, @mentors"),
        ("1 &lt; 2 &amp;&amp; 3 &gt; 2, &amp;lt;", "1 < 2 && 3 > 2, &lt;"),
        ("<!here> hi", "@here hi"),
    ],
)
def test_what_a_member_typed_is_read_without_slacks_markup(typed: str, meant: str) -> None:
    assert slack_payloads.typed(typed) == meant
