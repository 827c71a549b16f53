"""What a Telegram update means to Onramp: the core's events, and the button tap to answer.

- A private `/command args` is a `CommandInvoked` (`/start PAYLOAD` from a deep link
  included), other private text a `MessageReceived`. In groups only commands addressed to the
  bot count; conversation there is none of its business. In the text, a mention Telegram
  resolved to a person (a `text_mention`: someone without a username) is the core's member
  link; `@username` stays as typed, and every event carries its author's username.
- Someone joining a group (`new_chat_members`, or a `chat_member` change from outside to
  inside) is a `MemberJoined` whom the bot may not write to privately: the core welcomes them
  in the group with a deep-link button. Telegram often reports one join both ways, so a
  join's key is (group, member), not the update: one welcome per member and group, for as
  long as the core keeps keys (`retention.processed_events_days`).
- A button tap (`callback_query`) on an answer is a `ChoiceMade`; selecting one of several
  choices is only the keyboard's business (adapters/telegram/buttons.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram import (
    CallbackQuery,
    Chat,
    ChatMember,
    ChatMemberUpdated,
    Message,
    MessageEntity,
    Update,
    User,
)

from adapters.http import Required, Shape
from adapters.mentions import member_link
from adapters.telegram import buttons
from bot.events import (
    ChoiceMade,
    CommandInvoked,
    Event,
    MemberJoined,
    MessageReceived,
    parse_typed_command,
)

PLATFORM = "telegram"
_GROUPS = (Chat.GROUP, Chat.SUPERGROUP)
_INSIDE = (ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER)


# The types of every field read here or by the tap's answer (adapters/telegram/adapter.py), checked
# before python-telegram-bot builds an Update: it takes a number for `text` and lets it fail
# far away. https://core.telegram.org/bots/api#update
_USER: Shape = {
    "id": Required(int),
    "is_bot": Required(bool),
    "first_name": Required(str),
    "last_name": str,
    "username": str,
    "language_code": str,
}
_CHAT: Shape = {"id": Required(int), "type": Required(str), "title": str}
_MESSAGE: Shape = {
    "message_id": Required(int),
    "from": _USER,
    "chat": Required(_CHAT),
    "text": str,
    "entities": [
        {"type": Required(str), "offset": Required(int), "length": Required(int), "user": _USER}
    ],
    "new_chat_members": [_USER],
    "reply_markup": {
        "inline_keyboard": Required([[{"text": str, "callback_data": str, "url": str}]])
    },
}
_MEMBER: Shape = {"status": Required(str), "user": Required(_USER)}
_CHANGE: Shape = {
    "chat": Required(_CHAT),
    "from": Required(_USER),
    "old_chat_member": Required(_MEMBER),
    "new_chat_member": Required(_MEMBER),
}
UPDATE: Shape = {
    "update_id": Required(int),
    "message": _MESSAGE,
    "callback_query": {
        "id": Required(str),
        "from": Required(_USER),
        "message": _MESSAGE,
        "data": str,
    },
    "chat_member": _CHANGE,
    "my_chat_member": _CHANGE,
}


@dataclass(frozen=True)
class Reading:
    """One update, read: events for the core; a button tap to answer once they are committed
    (and the selection it changes, if that is all it does); or why it means nothing."""

    events: tuple[Event, ...] = ()
    tap: CallbackQuery | None = None
    toggle: buttons.Tap | None = None
    ignored: str | None = None


def read(update: Update, bot_username: str | None) -> Reading:
    if update.message is not None:
        return _message(update.update_id, update.message, bot_username)
    if update.chat_member is not None:
        return _member_change(update.chat_member)
    if update.callback_query is not None:
        return _button(update.update_id, update.callback_query)
    if update.my_chat_member is not None:
        return Reading(ignored="the bot's own membership changed")
    return Reading(ignored="an update type Onramp does not use")


def _message(update_id: int, message: Message, bot_username: str | None) -> Reading:
    chat, user, text = message.chat, message.from_user, message.text
    if chat.type in _GROUPS and message.new_chat_members:
        joins = tuple(_joined(chat, u) for u in message.new_chat_members if not u.is_bot)
        return Reading(joins, ignored=None if joins else "only bots joined")
    if user is None or user.is_bot or text is None:
        return Reading(ignored="not a person's text message")
    private = chat.type == Chat.PRIVATE
    if not private and not (chat.type in _GROUPS and _addressed(text, bot_username)):
        return Reading(ignored="group text not addressed to the bot")
    said = _said(user, dedupe_key=str(update_id), conversation=str(chat.id), private=private)
    text = _with_member_links(text, message.entities)
    command = parse_typed_command(text)
    if command is not None:
        return Reading((CommandInvoked(**said, name=command[0], args=command[1]),))
    if not private:
        return Reading(ignored="group text that is not a command")
    return Reading((MessageReceived(**said, text=text),))


def _addressed(text: str, bot_username: str | None) -> bool:
    """`/help@ThisBot`, or a `/help` any bot in the group may take."""
    if not text.startswith("/"):
        return False
    _, at, addressee = text.split(maxsplit=1)[0].partition("@")
    return not at or (bot_username is not None and addressee.casefold() == bot_username.casefold())


def _with_member_links(text: str, entities: tuple[MessageEntity, ...]) -> str:
    """Each `text_mention` as a member link, named as the text shows it. Entities count
    UTF-16 code units (an emoji is two), so the text is cut as UTF-16. Entities Telegram
    would not send (overlapping, outside the text, cutting a character in two) are not
    followed."""
    units = text.encode("utf-16-le")
    pieces: list[str] = []
    done = 0  # the bytes of `units` already in `pieces`
    try:
        for entity in sorted(entities, key=lambda e: e.offset):
            if entity.type != MessageEntity.TEXT_MENTION or entity.user is None:
                continue
            start, end = 2 * entity.offset, 2 * (entity.offset + entity.length)
            if start < done or end <= start or end > len(units):
                continue
            name = units[start:end].decode("utf-16-le")
            pieces += [
                units[done:start].decode("utf-16-le"),
                member_link(str(entity.user.id), name),
            ]
            done = end
        return "".join(pieces) + units[done:].decode("utf-16-le")
    except UnicodeDecodeError:
        return text


def _member_change(change: ChatMemberUpdated) -> Reading:
    user = change.new_chat_member.user
    if change.chat.type not in _GROUPS or user.is_bot:
        return Reading(ignored="not a person in a group")
    if _inside(change.old_chat_member) or not _inside(change.new_chat_member):
        return Reading(ignored="a membership change that is not a join")
    return Reading((_joined(change.chat, user),))


def _inside(member: ChatMember) -> bool:
    """A member of the group: also a restricted one, but not someone restricted who left."""
    if member.status == ChatMember.RESTRICTED:
        return bool(getattr(member, "is_member", False))
    return member.status in _INSIDE


def _joined(group: Chat, user: User) -> MemberJoined:
    key = f"join:{group.id}:{user.id}"
    return MemberJoined(
        **_said(user, dedupe_key=key, conversation=str(group.id), private=False),
        can_dm=False,
        source=f"group_{abs(group.id)}",  # a deep-link payload: A-Za-z0-9_-, at most 64
    )


def _button(update_id: int, query: CallbackQuery) -> Reading:
    tap = buttons.read(query.data)
    if tap is None:
        return Reading(tap=query, ignored="a button that is not Onramp's")
    if tap.kind in ("select", "unselect"):
        return Reading(tap=query, toggle=tap)
    message = query.message if isinstance(query.message, Message) else None  # None: too old
    chosen = (
        (tap.choice_id,)
        if tap.kind == "pick"
        else buttons.selected(message.reply_markup if message else None, tap.step_id)
    )
    where = message.chat if message else None
    choice = ChoiceMade(
        **_said(
            query.from_user,
            dedupe_key=str(update_id),
            conversation=str(where.id if where else query.from_user.id),
            private=where is None or where.type == Chat.PRIVATE,
        ),
        step_id=tap.step_id,
        choice_ids=chosen,
    )
    return Reading((choice,), tap=query)


def _said(user: User, *, dedupe_key: str, conversation: str, private: bool) -> dict[str, Any]:
    """What every event says about who did it, and where."""
    return {
        "platform": PLATFORM,
        "dedupe_key": dedupe_key,
        "actor": str(user.id),
        "conversation": conversation,
        "private": private,
        "display_name": user.full_name,
        "username": user.username,
        "locale_hint": user.language_code,
    }
