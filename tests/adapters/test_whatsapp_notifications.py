"""What each WhatsApp notification means to the core (adapters/whatsapp/notifications.py), on
the shapes the emulator builds from Meta's webhook reference; and a notification whose events
could not all be committed is answered 500, so that Meta delivers it again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.whatsapp.adapter import WhatsAppAdapter
from adapters.whatsapp.notifications import Malformed, Reading, read
from bot.adapter import Receipt
from bot.events import (
    ChoiceMade,
    CommandInvoked,
    DeliveryUpdate,
    Event,
    MessageReceived,
    UnsupportedReceived,
)
from bot.runtime import Onramp
from bot.settings import Settings
from tests.adapters.test_whatsapp import ADA, GRACE, for_whatsapp
from tests.clock import RunningClock
from tests.fakes.whatsapp import WhatsAppEmulator, combine, message_id

JSON = dict[str, Any]


@pytest.fixture
def emulator() -> Iterator[WhatsAppEmulator]:
    with WhatsAppEmulator() as emulator:  # its builders only
        emulator.user(ADA, "Ada Lovelace")
        emulator.user(GRACE, "Grace Hopper")
        yield emulator


def _read(emulator: WhatsAppEmulator, notification: JSON) -> Reading:
    return read(notification, emulator.phone_number_id)


def _one(emulator: WhatsAppEmulator, notification: JSON) -> Event:
    [event] = _read(emulator, notification).events
    return event


def test_a_text_is_a_message_from_its_sender_keyed_on_its_wamid(
    emulator: WhatsAppEmulator,
) -> None:
    notification = emulator.text(ADA, "Hello there")
    event = _one(emulator, notification)
    assert isinstance(event, MessageReceived)
    assert (event.platform, event.actor, event.conversation, event.private) == (
        "whatsapp",
        ADA,
        ADA,
        True,
    )
    assert (event.dedupe_key, event.display_name, event.text) == (
        message_id(notification),
        "Ada Lovelace",
        "Hello there",
    )


def test_a_typed_command_is_a_command(emulator: WhatsAppEmulator) -> None:
    event = _one(emulator, emulator.text(ADA, "/language Français"))
    assert isinstance(event, CommandInvoked)
    assert (event.name, event.args) == ("language", "Français")


def test_taps_on_our_buttons_and_rows_are_choices_others_read_as_their_title(
    emulator: WhatsAppEmulator,
) -> None:
    button = _one(emulator, emulator.button_reply(ADA, "c:consent:yes", "Yes", "wamid.Q"))
    assert isinstance(button, ChoiceMade)
    assert (button.step_id, button.choice_ids, button.actor) == ("consent", ("yes",), ADA)
    row = _one(emulator, emulator.list_reply(ADA, "c:start_here:first_tasks", "First tasks"))
    assert isinstance(row, ChoiceMade)
    assert (row.step_id, row.choice_ids) == ("start_here", ("first_tasks",))
    for foreign in ("menu-7", "c:only_step", "x:consent:yes"):
        other = _one(emulator, emulator.button_reply(ADA, foreign, "Talk to a human"))
        assert isinstance(other, MessageReceived) and other.text == "Talk to a human"
    quick = _one(emulator, emulator.quick_reply(ADA, "Continue", "resume-onboarding"))
    assert isinstance(quick, MessageReceived) and quick.text == "Continue"


def test_what_the_bot_cannot_read_is_unsupported_by_kind(emulator: WhatsAppEmulator) -> None:
    built = [
        emulator.image(ADA, caption="me"),
        emulator.reaction(ADA, "wamid.Q"),
        emulator.location(ADA),
        emulator.sticker(ADA),
        emulator.unsupported(ADA),
        emulator.inbound(ADA, "audio", {"mime_type": "audio/ogg", "id": "1", "voice": True}),
        emulator.inbound(ADA, "interactive", {"type": "nfm_reply", "nfm_reply": {}}),
    ]
    kinds = []
    for notification in built:
        event = _one(emulator, notification)
        assert isinstance(event, UnsupportedReceived) and event.private
        assert event.dedupe_key == message_id(notification) and event.actor == ADA
        kinds.append(event.kind)
    assert kinds == [
        "image",
        "reaction",
        "location",
        "sticker",
        "unsupported",
        "audio",
        "interactive nfm_reply",
    ]
    group = _one(emulator, emulator.group_text(ADA, "Y2FwaV9ncm91cDox", "/help"))
    assert isinstance(group, UnsupportedReceived)  # not even a command counts in a group
    assert (group.kind, group.conversation, group.private) == ("group", "Y2FwaV9ncm91cDox", False)


def test_statuses_are_delivery_updates_keyed_on_message_and_status(
    emulator: WhatsAppEmulator,
) -> None:
    sent, failed = (
        _one(emulator, notification)
        for notification in emulator.statuses_for(
            "wamid.S",
            "sent",
            "failed",
            error=(131047, "Re-engagement message", "More than 24 hours have passed"),
        )
    )
    assert isinstance(sent, DeliveryUpdate) and isinstance(failed, DeliveryUpdate)
    assert (sent.delivery_id, sent.status, sent.dedupe_key, sent.error) == (
        "wamid.S",
        "sent",
        "status:wamid.S:sent",
        None,
    )
    assert (failed.status, failed.dedupe_key) == ("failed", "status:wamid.S:failed")
    assert failed.error == (
        "whatsapp: 131047 Re-engagement message: More than 24 hours have passed"
    )
    [deleted] = emulator.statuses_for("wamid.S", "deleted")
    assert _read(emulator, deleted) == Reading(ignored=("status 'deleted'",))


def test_several_entries_changes_and_items_are_read_in_order(
    emulator: WhatsAppEmulator,
) -> None:
    first = emulator.text(ADA, "one")
    second = emulator.text(ADA, "two")
    # Two messages in one change, as Meta may batch them, then another member's, a status.
    value = first["entry"][0]["changes"][0]["value"]
    value["messages"] += second["entry"][0]["changes"][0]["value"]["messages"]
    [status] = emulator.statuses_for("wamid.S", "delivered")
    events = _read(emulator, combine(first, emulator.text(GRACE, "three"), status)).events
    assert [type(e).__name__ for e in events] == [
        "MessageReceived",
        "MessageReceived",
        "MessageReceived",
        "DeliveryUpdate",
    ]
    assert [getattr(e, "text", None) for e in events] == ["one", "two", "three", None]
    assert events[2].display_name == "Grace Hopper"


def test_other_objects_fields_and_numbers_are_ignored_with_a_reason(
    emulator: WhatsAppEmulator,
) -> None:
    assert read({"object": "page", "entry": []}, "1") == Reading(ignored=("object 'page'",))
    other_number = emulator.text(ADA, "hi")
    other_number["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "999"
    assert _read(emulator, other_number).ignored == ("a notification for another phone number",)
    update = {"object": "whatsapp_business_account",
              "entry": [{"changes": [{"field": "account_update", "value": {}}]}]}  # fmt: skip
    assert _read(emulator, update).ignored == ("field 'account_update'",)
    errors = emulator.notification()
    errors["entry"][0]["changes"][0]["value"]["errors"] = [{"code": 130429}]
    assert _read(emulator, errors).ignored == ("errors Meta reports about the business number",)


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda n: n.pop("object"), "no object"),
        (lambda n: n.update(entry=None), "entry is not a list"),
        (lambda n: n["entry"][0].update(changes={}), "changes is not a list"),
        (lambda n: n["entry"][0]["changes"][0].update(value=[]), "value is not an object"),
        (lambda n: _value(n).update(messages={}), "messages is not a list"),
        (lambda n: _value(n)["messages"][0].pop("from"), "no from"),
        (lambda n: _value(n)["messages"][0].update(id=""), "no id"),
        (lambda n: _value(n)["messages"][0].update(id="wamid." + "A" * 300), "longer"),
        (lambda n: _value(n)["messages"][0].update(type=7), "no type"),
        (lambda n: _value(n)["messages"][0].update(text="hi"), "text is not an object"),
        (lambda n: _value(n).update(contacts=[7]), "a contact is not an object"),
        (lambda n: _value(n).update(statuses=[{"id": "wamid.S", "status": "read"}]),
         "no recipient_id"),
    ],
)  # fmt: skip
def test_a_notification_missing_what_meta_always_sends_is_malformed(
    emulator: WhatsAppEmulator, damage: Any, problem: str
) -> None:
    notification = emulator.text(ADA, "hi")
    damage(notification)
    with pytest.raises(Malformed, match=problem):
        _read(emulator, notification)


def _value(notification: JSON) -> JSON:
    value = notification["entry"][0]["changes"][0]["value"]
    assert isinstance(value, dict)
    return value


async def test_a_notification_not_wholly_committed_gets_500_and_its_redelivery_200(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with WhatsAppEmulator(number_limit=None, pair_limit=None) as emulator:
        settings = for_whatsapp(settings, emulator, monkeypatch)
        clock = RunningClock()  # the tests' clock, as in test_whatsapp.serving
        adapter = WhatsAppAdapter(settings, clock=clock)
        onramp = await Onramp.create(settings, {"whatsapp": adapter}, clock=clock)
        taken: list[Event] = []
        failing = {"on": True}
        receive = onramp.receive

        async def inbox(event: Event) -> Receipt:  # the database failing on Grace's message
            if failing["on"] and event.actor == GRACE:
                raise ConnectionError("the database went away")
            taken.append(event)
            return await receive(event)

        monkeypatch.setattr(onramp, "receive", inbox)  # the inbox start() hands the adapter
        await onramp.start()
        try:
            assert onramp.web is not None
            url = f"http://127.0.0.1:{onramp.web.port}/whatsapp/webhook"
            both = combine(emulator.text(ADA, "hi"), emulator.text(GRACE, "hello"))
            first = await asyncio.to_thread(emulator.deliver, url, both)
            assert first.status_code == 500
            assert any(r.message == "whatsapp notification not handled" for r in caplog.records)
            failing["on"] = False
            again = await asyncio.to_thread(emulator.deliver, url, both)  # Meta retries
            assert again.status_code == 200
            assert [event.actor for event in taken] == [ADA, ADA, GRACE]
            for wa_id in (ADA, GRACE):  # Ada's message counted once, Grace's too
                async with asyncio.timeout(10):
                    while len(emulator.messages_to(wa_id)) < 1:  # noqa: ASYNC110
                        await asyncio.sleep(0.02)
            await asyncio.sleep(0.1)
            # The language question, once: her "hi" again would be an answer it cannot take.
            assert len(emulator.messages_to(ADA)) == 1
        finally:
            await onramp.stop()
