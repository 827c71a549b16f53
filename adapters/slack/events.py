"""What a Slack payload means to the core: an event (bot/events.py) and what to do once it is
committed, or why it means nothing to Onramp. The payload's fields are read and checked with
adapters/slack/payloads.py.

- `team_join` (if `welcome_workspace_joins`), `member_joined_channel` in one of
  `welcome_channels`: `MemberJoined`, addressed to the member's user id. Keeping the user id
  as the member's private conversation gives each member one recipient, so the sender's
  per-recipient order holds.
- `message.im` from a person: `MessageReceived` (or `CommandInvoked` for ` /cmd` typed there).
- `/command text`: `CommandInvoked`, answered in the member's DM.
- a press on one of our buttons (`block_actions`): `ChoiceMade`; the question is then edited
  to show the answer instead of its buttons.
- `user_change` with a new name: `ProfileChanged`, so the member is called by it.

In what members type, a mention of a member becomes the core's member link
(adapters/slack/mentions.py); the rest of Slack's markup is read back to what was typed.

Names come with `team_join` and `user_change`, else from `users.info` (remembered per
process); when that fails, the event goes without a name and `users.info` is asked again on a
later event, after a pause that doubles each time it fails (a broken API is not asked on
every event).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from adapters.http import Malformed
from adapters.slack import blocks as slack_blocks
from adapters.slack import mentions as slack_mentions
from adapters.slack import payloads
from adapters.slack.errors import call_errors, error_code
from adapters.slack.remembered import Remembered
from bot.events import (
    ChoiceMade,
    CommandInvoked,
    Event,
    MemberJoined,
    MessageReceived,
    ProfileChanged,
    parse_typed_command,
)
from bot.settings import SlackSettings

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("onramp.slack")
PLATFORM = "slack"
# After users.info fails for a member, their events go nameless this long before it is asked
# again (then twice as long, up to an hour).
PROFILE_RETRY_SECONDS = 30.0
PROFILE_RETRY_LIMIT = 3600.0

# Once a press is committed: the question's channel, the message, the choices pressed.
MarkAnswered = Callable[[str, dict[str, Any], tuple[str, ...]], Awaitable[None]]


@dataclass(frozen=True)
class Reading:
    """What one payload means: an event for the core and what to do once it is committed, or
    why it means nothing to Onramp."""

    event: Event | None = None
    then: Callable[[], Awaitable[None]] | None = None
    ignored: str | None = None


@dataclass(frozen=True)
class Person:
    name: str | None = None
    locale: str | None = None
    bot: bool = False


class Reader:
    """Reads events, slash commands and button presses; each read takes the payload and the
    loop time by which Slack must be answered (a name is not worth missing it)."""

    def __init__(
        self,
        settings: SlackSettings,
        web: AsyncWebClient,
        bot_user_id: Callable[[], str | None],
        mark_answered: MarkAnswered,
    ) -> None:
        self.settings = settings
        self._web = web
        self._bot_user_id = bot_user_id
        self._mark_answered = mark_answered
        self._profiles: Remembered[Person] = Remembered()
        self._unnamed: Remembered[tuple[float, float]] = Remembered()  # (ask again at, wait)

    async def event(self, body: dict[str, Any], deadline: float) -> Reading:
        event = payloads.mapping(body, "event")
        kind, event_id = payloads.text(event, "type"), payloads.text(body, "event_id")
        team = payloads.team(body)
        if kind == "team_join":
            if not self.settings.welcome_workspace_joins:
                return Reading(ignored="team_join (welcome_workspace_joins is off)")
            user = payloads.mapping(event, "user")
            if user.get("is_bot") or user.get("deleted"):
                return Reading(ignored="a bot or a deactivated account joined")
            user_id = payloads.text(user, "id")
            person = await self._who(user_id, deadline)
            name = payloads.display_name(user) or person.name
            joined = _from(user_id, team, event_id, name, user.get("locale") or person.locale)
            return Reading(MemberJoined(**joined))
        if kind == "member_joined_channel":
            if payloads.text(event, "channel") not in self.settings.welcome_channels:
                return Reading(ignored="a join to a channel that is not a welcome channel")
            user_id = payloads.text(event, "user")
            person = await self._who(user_id, deadline)
            if person.bot or user_id == self._bot_user_id():
                return Reading(ignored="a bot joined a welcome channel")
            return Reading(
                MemberJoined(**_from(user_id, team, event_id, person.name, person.locale))
            )
        if kind == "message":
            return await self._message(event, event_id, team, deadline)
        if kind == "user_change":
            return self._profile(payloads.mapping(event, "user"), event_id, team)
        return Reading(ignored=f"{kind[:40]} events are not used")

    async def command(self, body: dict[str, Any], deadline: float) -> Reading:
        name = payloads.text(body, "command").removeprefix("/").casefold()
        user_id, trigger = payloads.text(body, "user_id"), payloads.text(body, "trigger_id")
        if not name:
            raise Malformed("a slash command without a name")
        person = await self._who(user_id, deadline)
        key = f"command:{trigger}"
        common = _from(user_id, payloads.team(body), key, person.name, person.locale)
        args = payloads.typed(slack_mentions.linked(str(body.get("text") or ""))).strip()
        return Reading(CommandInvoked(**common, name=name, args=args))

    async def action(self, body: dict[str, Any], deadline: float) -> Reading:
        actions = body.get("actions")
        if body.get("type") != "block_actions":
            return Reading(ignored=f"{str(body.get('type'))[:40]} interactions are not used")
        if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
            raise Malformed("block_actions without an action")
        if slack_blocks.is_pick(actions[0]):
            return Reading(ignored="a box ticked; the answer comes with OK")
        try:
            press = slack_blocks.read_press(actions[0], body.get("state") or {})
        except slack_blocks.NotOurs as exc:
            return Reading(ignored=str(exc))
        user_id = payloads.text(payloads.mapping(body, "user"), "id")
        container = body.get("container")
        container = container if isinstance(container, dict) else {}
        channel, message_ts = container.get("channel_id"), container.get("message_ts")
        if not isinstance(channel, str) or not isinstance(message_ts, str):
            raise Malformed("a button press without the message it was on")
        # One answer per question message: a second press (a double click) is a duplicate.
        key = f"press:{channel}:{message_ts}"
        common = _from(user_id, payloads.team(body), key, conversation=channel)
        common["private"] = channel.startswith("D")
        event = ChoiceMade(**common, step_id=press.step_id, choice_ids=press.choice_ids)
        message = body.get("message")
        if not isinstance(message, dict) or message.get("ts") != message_ts:
            return Reading(event)
        return Reading(event, then=lambda: self._mark_answered(channel, message, press.choice_ids))

    def _profile(self, user: dict[str, Any], event_id: str, team: str) -> Reading:
        """`user_change` (https://api.slack.com/events/user_change): sent for anyone in the
        workspace whose profile changed in any way; only a new name matters here."""
        user_id, name = payloads.text(user, "id"), payloads.display_name(user)
        if user.get("is_bot") or user.get("deleted") or name is None:
            return Reading(ignored="a bot's profile, a deactivated account, or no name")
        known = self._profiles.recall(user_id)
        if known is not None and known.name == name:
            return Reading(ignored="a profile change that keeps the name")
        locale = user.get("locale") or (known.locale if known is not None else None)
        self._profiles.keep(user_id, Person(name, locale))
        self._unnamed.pop(user_id, None)
        return Reading(ProfileChanged(**_from(user_id, team, event_id, name, locale)))

    async def _message(
        self, event: dict[str, Any], event_id: str, team: str, deadline: float
    ) -> Reading:
        if event.get("channel_type") != "im":
            return Reading(ignored="a message outside the bot's direct messages")
        if event.get("subtype") or event.get("bot_id"):
            return Reading(ignored="an edit, a notice or a bot's message")
        user_id, channel = payloads.text(event, "user"), payloads.text(event, "channel")
        text = payloads.typed(slack_mentions.linked(str(event.get("text") or ""))).strip()
        if not text:
            return Reading(ignored="a message without text")
        person = await self._who(user_id, deadline)
        common = _from(user_id, team, event_id, person.name, person.locale, channel)
        command = parse_typed_command(text)
        if command is not None:
            return Reading(CommandInvoked(**common, name=command[0], args=command[1]))
        return Reading(MessageReceived(**common, text=text))

    async def _who(self, user_id: str, deadline: float) -> Person:
        """The member's name and language (`users.info`, remembered); within half what is left
        of the budget, else without: an event matters more than a name."""
        known = self._profiles.recall(user_id)
        if known is not None:
            return known
        now = asyncio.get_running_loop().time()
        failed = self._unnamed.recall(user_id)
        if failed is not None and now < failed[0]:
            return Person()  # asked lately, and it failed: not again yet
        left = (deadline - now) / 2
        try:
            async with asyncio.timeout(max(0.05, min(1.0, left))):
                found = await self._web.users_info(user=user_id, include_locale=True)
            user = payloads.person(found.get("user"))
        except call_errors(Malformed) as exc:
            wait = min(failed[1] * 2, PROFILE_RETRY_LIMIT) if failed else PROFILE_RETRY_SECONDS
            failed_at = asyncio.get_running_loop().time()  # the wait counts from the failure
            self._unnamed.keep(user_id, (failed_at + wait, wait))
            log.info("slack profile not read", extra={"reason": error_code(exc)})
            return Person()
        person = Person(payloads.display_name(user), user.get("locale"), bool(user.get("is_bot")))
        self._profiles.keep(user_id, person)
        self._unnamed.pop(user_id, None)
        return person


def _from(
    user_id: str,
    team: str,
    dedupe_key: str,
    name: str | None = None,
    locale: str | None = None,
    conversation: str | None = None,
) -> dict[str, Any]:
    """An event's common fields. Unless it happened in the bot's DM, the member's private
    conversation is their user id: posting to a user id reaches their DM with the bot, and
    one recipient per member keeps the sender's per-recipient order."""
    return {
        "platform": PLATFORM,
        "dedupe_key": dedupe_key,
        "actor": user_id,
        "conversation": conversation or user_id,
        "private": True,
        "workspace": team,
        "display_name": name,
        "locale_hint": locale,
    }
