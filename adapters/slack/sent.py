"""Slack messages marked with their outbox row, and found again after a crash.

Every message is posted with message metadata naming the outbox row it delivers. A crash
between Slack taking a message and the bot recording it leaves the row in doubt; before it
goes again (`Adapter.already_sent`), the conversation's latest messages are read
(`conversations.history`) and a message this bot posted for that row, if any, is taken as
the delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.messages import OutgoingMessage

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

SENT_EVENT_TYPE = "onramp_message"
HISTORY_LOOKBACK = 100  # a member's messages go in order: an unrecorded one is among the last
HISTORY_RETRIES = 3  # times a rate-limited history read waits and tries again


def marked(message: OutgoingMessage) -> dict[str, Any] | None:
    """The message metadata a posted message is found by."""
    if message.outbox_id is None:
        return None
    return {"event_type": SENT_EVENT_TYPE, "event_payload": {"outbox_id": message.outbox_id}}


def history_client(make_client: Callable[..., AsyncWebClient]) -> AsyncWebClient:
    """A client for the lookups: `conversations.history` is rate limited (Tier 3, about 50 a
    minute), and after a crash with many messages in doubt a 429 would mean "cannot tell",
    so a duplicate; this client waits as Slack's `Retry-After` says, and retries."""
    from slack_sdk.http_retry.builtin_async_handlers import (
        AsyncConnectionErrorRetryHandler,
        AsyncRateLimitErrorRetryHandler,
    )

    return make_client(
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=HISTORY_RETRIES),
        ]
    )


async def find(
    history: AsyncWebClient, channel: str, outbox_id: int, bot_user: str | None
) -> str | None:
    """The `ts` of a message this bot posted in `channel` for the outbox row, if one is among
    the latest; None if not. Raises what the client raises when Slack cannot be asked."""
    latest = await history.conversations_history(
        channel=channel, limit=HISTORY_LOOKBACK, include_all_metadata=True
    )
    for posted in latest.get("messages") or []:
        metadata = posted.get("metadata") or {}
        payload = metadata.get("event_payload") or {}
        if (
            metadata.get("event_type") == SENT_EVENT_TYPE
            and payload.get("outbox_id") == outbox_id
            and (bot_user is None or posted.get("user") in (bot_user, None))
        ):
            return str(posted["ts"])
    return None
