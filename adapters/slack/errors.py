"""What goes wrong when the bot calls Slack, and what the outbox does about it: wait as
Slack said (429), give the message up (an error another attempt will not mend), or try
again later."""

from __future__ import annotations

import functools
import logging
from typing import Any

from bot.adapter import AdapterConfigError, DeliveryError

log = logging.getLogger("onramp.slack")

# Errors another attempt will not mend: the message is given up at once.
PERMANENT = frozenset(
    [
        "access_denied",
        "account_inactive",
        "cannot_dm_bot",
        "channel_not_found",
        "ekm_access_denied",
        "invalid_arguments",
        "invalid_auth",
        "invalid_blocks",
        "invalid_blocks_format",
        "is_archived",
        "messages_tab_disabled",
        "missing_scope",
        "msg_too_long",
        "no_permission",
        "no_text",
        "not_allowed_token_type",
        "not_authed",
        "not_in_channel",
        "restricted_action",
        "team_access_not_granted",
        "token_expired",
        "token_revoked",
        "too_many_attachments",
        "user_disabled",
        "user_not_found",
        "user_not_visible",
        "users_not_found",
    ]
)
BAD_TOKEN = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)


class SlackConfigError(AdapterConfigError):
    pass


class Unavailable(Exception):
    """Slack could not be asked who we are: the request fails (500) and Slack retries it."""


@functools.cache
def call_errors(*also: type[Exception]) -> tuple[type[Exception], ...]:
    """What a call to Slack may raise (an error answer, a lost connection, a timeout), and
    `also`. A function, so that importing the adapter (to read its capabilities) loads no SDK:
    an `except call_errors()` clause asks only once something was raised."""
    import aiohttp
    from slack_sdk.errors import SlackClientError

    return (SlackClientError, aiohttp.ClientError, TimeoutError, *also)


def error_code(exc: BaseException) -> str:
    """Slack's error word (`channel_not_found`), the HTTP status, or the exception's kind:
    what is logged and recorded, never a token or a message's text."""
    from slack_sdk.errors import SlackApiError

    if isinstance(exc, SlackApiError):
        response = exc.response
        data = getattr(response, "data", None)
        if isinstance(data, dict) and data.get("error"):
            return str(data["error"])[:100]
        status = getattr(response, "status_code", None) or getattr(response, "status", None)
        return f"HTTP {status}"
    return type(exc).__name__


def delivery_error(exc: BaseException) -> DeliveryError:
    """Throttled (429): wait as told. Refused for good (no such channel or user, a deactivated
    account, a bad token or payload): permanent. Anything else (5xx, timeouts, a lost
    connection): try again. A request lost after Slack took it may have been posted; trying
    again may then show it twice, which we prefer to losing it: chat.postMessage has no
    idempotency key."""
    import aiohttp
    from slack_sdk.errors import SlackApiError

    code = error_code(exc)
    reason = f"slack: {code}"
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", None) or getattr(exc.response, "status", 0)
        if status == 429 or code == "ratelimited":
            return DeliveryError(reason, retry_after=retry_after(exc.response))
        if code in PERMANENT:
            if code in BAD_TOKEN:
                log.error("Slack refused SLACK_BOT_TOKEN", extra={"reason": code})
            return DeliveryError(reason, permanent=True)
        return DeliveryError(reason)
    if isinstance(exc, TimeoutError | aiohttp.ServerDisconnectedError):
        return DeliveryError(f"{reason} (it may have been delivered)")
    return DeliveryError(reason)


def retry_after(response: Any) -> float:
    """Seconds to wait, from a 429's Retry-After (a second when it says nothing usable)."""
    headers = getattr(response, "headers", None) or {}
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return max(0.0, float(value)) if value is not None else 1.0
    except ValueError:
        return 1.0
