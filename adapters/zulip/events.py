"""What a Zulip event means to Onramp: the core's events, or why it means nothing.

- Someone joining the organization (`realm_user` with `op: add`) is a `MemberJoined` whom the
  bot may write to directly. Its key is the user, so a join counts once however often it is
  reported (the event queue, then a catch-up after a restart).
- In a direct message between a member and the bot, `/command args` is a `CommandInvoked`,
  other text a `MessageReceived` (a leading @-mention of the bot is dropped), and what the
  bot cannot read (an uploaded file alone, a poll or to-do widget, a `/me` action) an
  `UnsupportedReceived`.
- In a channel, or a group direct message, only messages that @-mention the bot count:
  `@**Onramp** onboard` is the command `onboard`, answered in the member's direct messages. A
  group direct message may also carry a typed `/command`. Other conversation there is none of
  the bot's business.
- A message's key is its id, so a message handed over twice has one effect.
- In the text the core gets, a mention of a person is in the core's form: `@**Name|12**` (or
  silent, `@_**Name|12**`) a member link, `@**Name**` without an id `@"Name"` for the core to
  look up. Group mentions (`@*team*`) and `@**all**` and the like stay as typed.

Zulip has no buttons: choices are answered by typing, which the core reads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from adapters.http import Malformed, Shape, conform
from adapters.mentions import member_link, quoted_name
from bot.events import (
    CommandInvoked,
    Event,
    MemberJoined,
    MessageReceived,
    UnsupportedReceived,
    parse_typed_command,
)

PLATFORM = "zulip"
JSON = dict[str, Any]
_UPLOAD = re.compile(r"\[[^\]\n]*\]\(/user_uploads/[^)\s]+\)")
# Zulip's own syntax (zerver/lib/mention.py): `@**…**` or silent `@_**…**`, at the start or
# after a space, quote, bracket, comma, colon or `<`; inside, `Name`, `Name|id` or `|id`.
_MENTION = re.compile(r"(?<![^\s'\"(,:<])@_?\*\*([^*\n]+)\*\*")
_NAME_AND_ID = re.compile(r"(.*)\|(\d+)")
_EVERYONE = frozenset({"all", "everyone", "channel", "stream", "topic"})
_KINDS = {
    "image": ("png", "jpg", "jpeg", "gif", "webp", "heic", "bmp", "svg", "avif"),
    "video": ("mp4", "webm", "mov", "m4v", "mkv"),
    "audio": ("mp3", "ogg", "oga", "opus", "m4a", "wav", "flac", "aac"),
}


# The types of the fields read here besides those checked where they are read.
# https://zulip.com/api/get-events#message
_MESSAGE: Shape = {
    "sender_email": str,
    "sender_full_name": str,
    "subject": str,
    "is_me_message": bool,
    "submessages": [dict],
    "display_recipient": (str, list),
}


@dataclass(frozen=True)
class BotUser:
    """Who the bot is on this Zulip server."""

    user_id: int
    full_name: str
    email: str

    @cached_property
    def mention(self) -> re.Pattern[str]:
        """`@**Onramp**`, `@**Onramp|9**`, or `@**Old name|9**` after a rename; a silent
        mention (`@_**Onramp**`) notifies nobody and calls nobody."""
        name = re.escape(self.full_name)
        return re.compile(rf"@\*\*(?:{name}(?:\|{self.user_id})?|[^*|\n]*\|{self.user_id})\*\*")


@dataclass(frozen=True)
class Reading:
    """One Zulip event, read: the core's events, or why there are none. `direct`: a direct
    message between one member and the bot, whose replies may go back in a webhook's answer."""

    events: tuple[Event, ...] = ()
    ignored: str | None = None
    direct: bool = False


def read_event(event: JSON, bot: BotUser) -> Reading:
    """An event from the bot's event queue."""
    kind = event.get("type")
    if kind == "message":
        message = event.get("message")
        if not isinstance(message, dict):
            raise Malformed("a message event without a message")
        return read_message(message, bot)
    if kind == "realm_user" and event.get("op") == "add":
        person = event.get("person")
        if not isinstance(person, dict):
            raise Malformed("a realm_user event without a person")
        return read_join(person)
    return Reading(ignored=f"an event Onramp does not use ({str(kind)[:40]})")


def read_join(person: JSON) -> Reading:
    user_id, full_name = person.get("user_id"), person.get("full_name")
    if not _is_id(user_id) or not isinstance(full_name, str):
        raise Malformed("a person without user_id or full_name")
    if person.get("is_bot") or person.get("is_active") is False:
        return Reading(ignored="a bot, or a deactivated user, joined")
    joined = MemberJoined(
        platform=PLATFORM,
        dedupe_key=f"zulip:realm_user:{user_id}",
        actor=str(user_id),
        conversation=str(user_id),
        private=True,
        display_name=full_name or None,
        can_dm=True,
    )
    return Reading((joined,))


def read_message(message: JSON, bot: BotUser, *, mentioned: bool = False) -> Reading:
    """A message the bot received. `mentioned`: Zulip says it @-mentions the bot (an outgoing
    webhook's `mention` trigger); otherwise the content says."""
    conform(message, _MESSAGE, "message")
    message_id, sender_id = message.get("id"), message.get("sender_id")
    content, kind = message.get("content"), message.get("type")
    if not _is_id(message_id) or not _is_id(sender_id) or not isinstance(content, str):
        raise Malformed("a message without id, sender_id or content")
    if kind not in ("private", "stream"):
        raise Malformed("a message of no known type")
    if sender_id == bot.user_id or message.get("sender_email") == bot.email:
        return Reading(ignored="the bot's own message")
    where = _where(message, bot)
    said: JSON = {
        "platform": PLATFORM,
        "dedupe_key": f"zulip:message:{message_id}",
        "actor": str(sender_id),
        "conversation": where if where is not None else str(sender_id),
        "private": where is None,
        "display_name": message.get("sender_full_name") or None,
    }
    text = content.strip()
    addressed = mentioned or bool(bot.mention.search(text))
    if where is None:  # a direct message between the member and the bot
        unsupported = _unsupported(message, text)
        if unsupported is not None:
            return Reading((UnsupportedReceived(**said, kind=unsupported),), direct=True)
        if not text:
            return Reading(ignored="an empty message", direct=True)
        text = _without_leading_mention(text, bot)
        command = parse_typed_command(text)
        if command is not None:
            invoked = CommandInvoked(**said, name=command[0], args=_with_member_links(command[1]))
            return Reading((invoked,), direct=True)
        return Reading((MessageReceived(**said, text=_with_member_links(text)),), direct=True)
    command = _command(text, bot) if addressed else None
    if command is None and kind == "private" and not addressed:  # a group DM: /command
        command = parse_typed_command(text)
    if command is None:
        return Reading(ignored="not addressed to the bot, or not a command")
    return Reading((CommandInvoked(**said, name=command[0], args=_with_member_links(command[1])),))


def _where(message: JSON, bot: BotUser) -> str | None:
    """None for a direct message between the sender and the bot alone; else the channel and
    topic, or the group of people, as a conversation id."""
    if message["type"] == "stream":
        stream_id, topic = message.get("stream_id"), message.get("subject", "")
        if not _is_id(stream_id) or not isinstance(topic, str):
            raise Malformed("a channel message without stream_id or topic")
        return f"stream:{stream_id}:{topic}"[:128]
    recipients = message.get("display_recipient")
    if not isinstance(recipients, list) or not all(
        isinstance(r, dict) and _is_id(r.get("id")) for r in recipients
    ):
        raise Malformed("a direct message without its recipients")
    ids = {r["id"] for r in recipients}
    others = ids - {bot.user_id, message["sender_id"]}
    if not others:
        return None
    return "group:" + ",".join(str(i) for i in sorted(ids))[:122]


def _command(text: str, bot: BotUser) -> tuple[str, str] | None:
    """`@**Onramp** language fr` (or `@**Onramp** /language fr`): the mention names the bot,
    the first word the command. The mention alone asks for help."""
    rest = " ".join(bot.mention.sub(" ", text).split())
    if not rest:
        return ("help", "")
    return parse_typed_command(rest if rest.startswith("/") else f"/{rest}")


def _without_leading_mention(text: str, bot: BotUser) -> str:
    """In a direct message the bot needs no calling: `@**Onramp** /help` is `/help`."""
    leading = bot.mention.match(text)
    return text[leading.end() :].strip() if leading and text[leading.end() :].strip() else text


def _with_member_links(text: str) -> str:
    def mention(found: re.Match[str]) -> str:
        named = _NAME_AND_ID.fullmatch(found[1])
        if named is not None:
            return member_link(named[2], named[1])
        return found[0] if found[1] in _EVERYONE else quoted_name(found[1])

    return _MENTION.sub(mention, text)


def _unsupported(message: JSON, text: str) -> str | None:
    """What the bot cannot read, by kind: a widget (poll, to-do list), a `/me` action, or
    messages that are nothing but uploaded files."""
    submessages = message.get("submessages")
    if isinstance(submessages, list) and submessages:
        return _widget_type(submessages[0])
    if message.get("is_me_message"):
        return "me_message"
    uploads = _UPLOAD.findall(text)
    if uploads and not _UPLOAD.sub("", text).strip():
        return _file_kind(uploads[0])
    return None


def _widget_type(submessage: Any) -> str:
    try:
        content = json.loads(submessage.get("content", "")) if isinstance(submessage, dict) else {}
    except ValueError:
        content = {}
    kind = content.get("widget_type") if isinstance(content, dict) else None
    return kind if isinstance(kind, str) and kind.isidentifier() else "widget"


def _file_kind(link: str) -> str:
    extension = link.rsplit(")", 1)[0].rsplit(".", 1)[-1].lower()
    return next((kind for kind, known in _KINDS.items() if extension in known), "file")


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
