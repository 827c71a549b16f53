"""What a WhatsApp webhook notification means to Onramp: the core's events, or why it means
nothing.

A notification (`object: whatsapp_business_account`) holds entries, each with changes; a
change of `field: messages` carries, for one business number (`metadata.phone_number_id`),
the members' `messages` (with their `contacts`: profile names) and `statuses` of messages the
bot sent. Every message and status becomes one event:

- `text`: a `CommandInvoked` when it is a typed `/command`, else a `MessageReceived`;
- `interactive` `button_reply` / `list_reply`: a `ChoiceMade` when the id is one the adapter
  set (`c:STEP:CHOICE`), else a `MessageReceived` with the tapped title;
- `button` (a template's quick reply): a `MessageReceived` with its text;
- anything else (image, audio, reaction, location, sticker, `unsupported`…), and anything
  written in a group: an `UnsupportedReceived`, which the core answers politely;
- a status `sent` / `delivered` / `read` / `failed`: a `DeliveryUpdate` for that message.

The member is their `wa_id`; messages dedupe on their `wamid`, statuses on (wamid, status).
Other objects, fields and phone numbers are ignored (Meta wants a 200 for them all); a
notification with a message or status that lacks what Meta always sends is `Malformed`, and
none of it is taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast, get_args

from adapters.http import Malformed  # what a reader raises for what it cannot take
from adapters.whatsapp import messages as bodies
from bot.events import (
    ChoiceMade,
    CommandInvoked,
    DeliveryStatus,
    DeliveryUpdate,
    Event,
    MessageReceived,
    UnsupportedReceived,
    parse_typed_command,
)

PLATFORM = "whatsapp"
OBJECT = "whatsapp_business_account"
MAX_ID = 200  # wamids are about 60 characters; dedupe keys hold 255
_STATUSES = frozenset(get_args(DeliveryStatus))


@dataclass(frozen=True)
class Reading:
    events: tuple[Event, ...] = ()
    ignored: tuple[str, ...] = ()  # why parts of it mean nothing to Onramp


def read(payload: object, phone_number_id: str) -> Reading:
    notification = _object(payload, "the notification")
    kind = notification.get("object")
    if not isinstance(kind, str):
        raise Malformed("no object")
    if kind != OBJECT:
        return Reading(ignored=(f"object {kind[:40]!r}",))
    events: list[Event] = []
    ignored: list[str] = []
    for entry in _list(notification.get("entry"), "entry"):
        for change in _list(_object(entry, "an entry").get("changes"), "changes"):
            change = _object(change, "a change")
            field, value = change.get("field"), _object(change.get("value"), "a change's value")
            if field != "messages":
                ignored.append(f"field {str(field)[:40]!r}")
                continue
            number = _object(value.get("metadata", {}), "metadata").get("phone_number_id")
            if number != phone_number_id:
                ignored.append("a notification for another phone number")
                continue
            reading = _change(value)
            events += reading.events
            ignored += reading.ignored
    return Reading(tuple(events), tuple(ignored))


def _change(value: dict[str, Any]) -> Reading:
    names = {}
    for contact in _list(value.get("contacts", []), "contacts"):
        contact = _object(contact, "a contact")
        profile = contact.get("profile")
        name = profile.get("name") if isinstance(profile, dict) else None
        if isinstance(contact.get("wa_id"), str) and isinstance(name, str):
            names[contact["wa_id"]] = name
    events: list[Event] = [
        _message(_object(message, "a message"), names)
        for message in _list(value.get("messages", []), "messages")
    ]
    ignored = []
    for status in _list(value.get("statuses", []), "statuses"):
        update = _status(_object(status, "a status"))
        if update is None:
            ignored.append(f"status {str(status.get('status'))[:20]!r}")
        else:
            events.append(update)
    if value.get("errors"):
        ignored.append("errors Meta reports about the business number")
    return Reading(tuple(events), tuple(ignored))


def _message(message: dict[str, Any], names: dict[str, str]) -> Event:
    sender, wamid, kind = (_text_field(message, key) for key in ("from", "id", "type"))
    if len(wamid) > MAX_ID:
        raise Malformed("a message id longer than Meta's")
    said: dict[str, Any] = {
        "platform": PLATFORM,
        "dedupe_key": wamid,
        "actor": sender,
        "conversation": sender,
        "private": True,
        "display_name": names.get(sender) or None,
    }
    group = message.get("group_id")
    if group is not None:  # conversation there is none of the bot's business
        in_group = {**said, "conversation": str(group), "private": False}
        return UnsupportedReceived(**in_group, kind="group")
    content = message.get(kind)
    match kind:
        case "text":
            text = _text_field(_object(content, "text"), "body")
            command = parse_typed_command(text)
            if command is not None:
                return CommandInvoked(**said, name=command[0], args=command[1])
            return MessageReceived(**said, text=text)
        case "interactive":
            return _reply(said, _object(content, "interactive"))
        case "button":
            button = _object(content, "button")
            tapped = button.get("text") or button.get("payload")
            if not isinstance(tapped, str):
                raise Malformed("a quick reply without text")
            return MessageReceived(**said, text=tapped)
    return UnsupportedReceived(**said, kind=kind[:32])


def _reply(said: dict[str, Any], interactive: dict[str, Any]) -> Event:
    kind = interactive.get("type")
    if kind not in ("button_reply", "list_reply"):
        return UnsupportedReceived(**said, kind=f"interactive {str(kind)[:20]}")
    reply = _object(interactive.get(kind), kind)
    reply_id, title = _text_field(reply, "id"), _text_field(reply, "title")
    picked = bodies.read_reply_id(reply_id)
    if picked is None:  # not one of ours: what it says is the answer
        return MessageReceived(**said, text=title)
    step_id, choice_id = picked
    return ChoiceMade(**said, step_id=step_id, choice_ids=(choice_id,))


def _status(status: dict[str, Any]) -> DeliveryUpdate | None:
    wamid, state = _text_field(status, "id"), _text_field(status, "status")
    recipient = _text_field(status, "recipient_id")
    if len(wamid) > MAX_ID:
        raise Malformed("a status for an id longer than Meta's")
    if state not in _STATUSES:
        return None
    return DeliveryUpdate(
        platform=PLATFORM,
        dedupe_key=f"status:{wamid}:{state}",
        actor=recipient,
        conversation=recipient,
        delivery_id=wamid,
        status=cast(DeliveryStatus, state),
        error=_error(status.get("errors")) if state == "failed" else None,
    )


def _error(errors: object) -> str:
    """Why a message failed, as Meta put it: `131047 Re-engagement message: <details>`."""
    first = errors[0] if isinstance(errors, list) and errors else None
    if not isinstance(first, dict):
        return "whatsapp: failed (Meta gave no reason)"
    details = first.get("error_data", {})
    details = details.get("details") if isinstance(details, dict) else None
    words = [str(first.get("code", "")), str(first.get("title") or first.get("message") or "")]
    reason = " ".join(word for word in words if word)
    return f"whatsapp: {reason}" + (f": {details}" if details else "")


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"{what} is not an object")
    return value


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise Malformed(f"{what} is not a list")
    return value


def _text_field(value: dict[str, Any], key: str) -> str:
    field = value.get(key)
    if not isinstance(field, str) or not field:
        raise Malformed(f"no {key}")
    return field
