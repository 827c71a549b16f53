"""What Slack POSTs, read: the body as Bolt will see it, checked first, and the fields of a payload.

Bolt reads ids from a payload wherever Slack may put them (`user` as an id or an object,
`team`, `channel`, `authorizations`…) and routes on `event.type`, `command`, `actions[0]`,
without looking at their types: a number where Slack sends a string raised inside Bolt (a 500
and an ERROR traceback). So before Bolt sees a body it is checked here against `SHAPE`, the
types of every field Bolt or Onramp reads, and refused with a 400 if it does not fit; and an
interaction Onramp does not use (a shortcut, a view, an options request) is answered 200 without
being read at all.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from adapters.http import Malformed, OneOf, Shape, conform, json_body, reject

PLATFORM = "slack"
JSON_TYPES = ("event_callback", "url_verification")  # the JSON bodies that reach Bolt
INTERACTIONS = ("block_actions",)  # the interactive payloads that do
_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")

# Where Bolt looks for ids: each may be an id or an object holding one.
_ID = OneOf(str, {"id": str, "team_id": str, "enterprise_id": str})
_IDS: dict[str, Shape] = {
    **dict.fromkeys(("user", "team", "channel", "enterprise"), _ID),
    **dict.fromkeys(
        (
            "type",
            "subtype",
            "user_id",
            "team_id",
            "channel_id",
            "enterprise_id",
            "user_team",
            "context_team_id",
            "context_enterprise_id",
            "thread_ts",
            "bot_id",
            "ts",
            "text",
            "channel_type",
            "event_id",
            "function_execution_id",
            "bot_access_token",
            "command",
            "trigger_id",
            "callback_id",
        ),
        str,
    ),
}
_PERSON: Shape = {
    "id": str,
    "team_id": str,
    "real_name": str,
    "locale": str,
    "is_bot": bool,
    "deleted": bool,
    "profile": {"display_name": str, "real_name": str},
}
_EVENT: Shape = {
    **_IDS,
    "user": OneOf(str, _PERSON),
    **dict.fromkeys(("item", "message", "previous_message", "assistant_thread"), _IDS),
}
_QUESTION: Shape = {  # the message a button was on: its blocks are read back when answered
    **_IDS,
    "blocks": [{"type": str, "block_id": str, "elements": [{"options": [dict]}]}],
}
SHAPE: Shape = {
    **_IDS,
    "user": OneOf(str, _PERSON),
    "authorizations": [_IDS],
    "event": _EVENT,
    "actions": [{"action_id": str, "block_id": str, "value": str}],
    "container": {"channel_id": str, "message_ts": str},
    "message": _QUESTION,
    "previous_message": _IDS,
    "item": _IDS,
    "view": dict,
    "state": dict,
}


def parse(content_type: str, body: bytes) -> tuple[str, dict[str, Any]]:
    """The body as Bolt will read it, or the reason Slack cannot have sent it (an
    HTTPException)."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type not in ("application/json", "application/x-www-form-urlencoded"):
        reject(
            PLATFORM,
            415,
            "content_type",
            f"content type {media_type[:50]!r}; Slack sends JSON or forms",
        )
    try:
        text = body.decode()
    except UnicodeDecodeError:
        reject(PLATFORM, 400, "malformed", "the body is not UTF-8")
    if media_type == "application/json":
        parsed = _json_object(text, "the body")
        if parsed["type"] == "event_callback":
            event = parsed.get("event")
            if not isinstance(event, dict) or not isinstance(event.get("type"), str):
                reject(PLATFORM, 400, "malformed", "an event_callback without an event type")
            if not isinstance(parsed.get("event_id"), str):
                reject(PLATFORM, 400, "malformed", "an event_callback without an event_id")
        return media_type, parsed
    form = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in form:
        return media_type, _json_object(form["payload"], "the payload")
    if form.get("command", "").startswith("/") or form.get("ssl_check") == "1":
        return media_type, form
    reject(PLATFORM, 400, "malformed", "a form that is neither a slash command nor an interaction")


def used(media_type: str, parsed: dict[str, Any]) -> bool:
    """Is it a kind of request Onramp reads? (Others get a 200 and are not read.)"""
    if media_type == "application/json":
        return parsed["type"] in JSON_TYPES
    return "type" not in parsed or parsed["type"] in INTERACTIONS


def check(parsed: dict[str, Any]) -> None:
    """A 400 for a payload whose fields have types Slack does not send."""
    try:
        conform(parsed, SHAPE, "payload")
        if parsed.get("type") == "block_actions" and not parsed.get("actions"):
            raise Malformed("block_actions without an action")  # Bolt reads actions[0]
    except Malformed as exc:
        reject(PLATFORM, 400, "malformed", str(exc))


def person(user: Any) -> dict[str, Any]:
    """A user object as `users.info` answers it (Slack's, but read as carefully)."""
    if not isinstance(user, dict):
        raise Malformed("users.info answered no user")
    conform(user, _PERSON, "user")
    return user


def _json_object(text: str, what: str) -> dict[str, Any]:
    parsed = json_body(PLATFORM, text, what)
    if not isinstance(parsed, dict) or not isinstance(parsed.get("type"), str):
        reject(PLATFORM, 400, "malformed", f"{what} is not a JSON object with a type")
    return parsed


# The fields of a payload, for the adapter's readers.


def text(mapping: dict[str, Any], key: str) -> str:
    value = mapping.get(key)
    if not isinstance(value, str) or not value:
        raise Malformed(f"no {key}")
    return value


def mapping(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    value = mapping.get(key)
    if not isinstance(value, dict):
        raise Malformed(f"no {key}")
    return value


def team(body: dict[str, Any]) -> str:
    """The workspace: every payload names it its own way."""
    found = body.get("team")
    user = body.get("user")
    for candidate in (
        body.get("team_id"),
        found.get("id") if isinstance(found, dict) else None,
        user.get("team_id") if isinstance(user, dict) else None,
    ):
        if isinstance(candidate, str) and candidate:
            return candidate
    return ""


def display_name(user: dict[str, Any]) -> str | None:
    """What Slack shows for a member: the display name they chose, else their full name
    (https://api.slack.com/types/user: `profile.display_name`, `profile.real_name`)."""
    profile = user.get("profile")
    profile = profile if isinstance(profile, dict) else {}
    for name in (profile.get("display_name"), profile.get("real_name"), user.get("real_name")):
        if isinstance(name, str) and name.strip():
            return name.strip()
    return None


def typed(text: str) -> str:
    """What the member typed, from Slack's markup of it: `<http://x.org|x.org>` (Slack links
    what looks like an address) is `x.org` again, `<#C1|general>` `#general`, `&lt;` `<`."""

    def unlinked(link: re.Match[str]) -> str:
        target, label = link.group(1), link.group(2)
        sigil = target[:1]
        if sigil in ("@", "#"):  # <@U1|ada>, <#C1|general>
            return sigil + (label or target[1:])
        if sigil == "!":  # <!here>, <!subteam^S1|@team>
            return "@" + (label or target[1:]).lstrip("@")
        return label or target.removeprefix("mailto:")

    unescaped = _LINK.sub(unlinked, text)
    return unescaped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
