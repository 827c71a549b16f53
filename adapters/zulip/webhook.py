"""Zulip's outgoing webhooks: the request checked, and replies gathered for the answer.

Zulip POSTs `{"bot_email", "bot_full_name", "data", "message", "token", "trigger"}` for each
direct message to the bot and each @-mention of it, and waits 10 seconds for an answer. The
token is the same in every request; a request without it is turned away before anything else
is read from it.

Replies to a direct message between one member and the bot may go back in the answer
(`{"content": ...}`), which Zulip posts there as one message: `Answers` keeps, by outbox row,
the replies the sender hands over while the request waits for them (up to a budget). They are
then delivered as far as the outbox knows. Later replies go through the API, in order behind
them. Only replies to the member who wrote, in that conversation, may ride the answer: what
the same event sends anyone else (a kudos notice to the member thanked, an offer to a mentor)
goes through the API, or the writer would read it and its recipient never.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any, NoReturn

from starlette.requests import Request

from adapters import http
from adapters.http import Malformed, Shape, conform, json_body, require_json
from adapters.zulip.events import PLATFORM, BotUser
from bot.adapter import Receipt

log = logging.getLogger("onramp.zulip")
JSON = dict[str, Any]


# What is read from a request besides its message (which adapters/zulip/events.py reads).
_PAYLOAD: Shape = {"bot_email": str, "bot_full_name": str, "trigger": str}


async def payload(request: Request, token: bytes) -> tuple[JSON, JSON]:
    """The request's payload and its message; or a 415, 400 or 403 (HTTPException)."""
    require_json(PLATFORM, request.headers)
    data = json_body(PLATFORM, await request.body())
    if not isinstance(data, dict):
        reject(400, "malformed", "not an outgoing webhook: not an object")
    given = data.get("token")
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), token):
        reject(403, "token", "wrong or missing token")
    try:
        conform(data, _PAYLOAD, "payload")
    except Malformed as exc:
        reject(400, "malformed", f"not an outgoing webhook: {exc}")
    message = data.get("message")
    if not isinstance(message, dict):
        reject(400, "malformed", "not an outgoing webhook: no message")
    return data, message


def reject(status: int, reason: str, detail: str) -> NoReturn:
    """Turn a webhook request away; bot/web.py logs the HTTPException with its reason."""
    http.reject(PLATFORM, status, reason, detail)


def bot_from(data: JSON, message: JSON) -> BotUser:
    """Who the bot is, from a payload (before the API has said)."""
    email = str(data.get("bot_email") or "")
    recipients = message.get("display_recipient")
    found = [
        r.get("id")
        for r in (recipients if isinstance(recipients, list) else [])
        if isinstance(r, dict) and str(r.get("email", "")).lower() == email.lower()
    ]
    user_id = found[0] if found and isinstance(found[0], int) else -1
    return BotUser(user_id, str(data.get("bot_full_name") or ""), email)


class Answer:
    """The replies to one request's message, in outbox order."""

    def __init__(self, message_id: int, writer: str, max_length: int) -> None:
        self.message_id = message_id
        self.writer = writer  # the recipient the answer reaches: who wrote, where they wrote
        self.max_length = max_length
        self.replies: dict[int, str] = {}  # outbox id -> content
        self.open = True

    def take(self, outbox_id: int, content: str) -> str | None:
        """Keep a reply for the answer: its delivery id; None if it does not fit (then no
        later reply may come before the ones kept, so the answer closes)."""
        if not self.open or len(self.content()) + len(content) + 2 > self.max_length:
            self.open = False
            return None
        self.replies[outbox_id] = content
        return f"webhook:{self.message_id}:{outbox_id}"

    def content(self) -> str:
        return "\n\n".join(self.replies[outbox_id] for outbox_id in sorted(self.replies))


class Answers:
    """The answers requests are waiting for, by the outbox rows that may go in them."""

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length
        self._by_row: dict[int, Answer] = {}

    def holds(self, outbox_id: int | None, recipient: str) -> bool:
        """May this message go back in an answer a request is waiting for?"""
        answer = self._by_row.get(outbox_id) if outbox_id is not None else None
        return answer is not None and answer.open and answer.writer == recipient

    def take(self, outbox_id: int | None, recipient: str, content: str) -> str | None:
        """The sender hands a message over: its delivery id if it goes in an answer."""
        if outbox_id is None or not self.holds(outbox_id, recipient):
            return None
        return self._by_row[outbox_id].take(outbox_id, content)

    async def gather(self, receipt: Receipt, message_id: int, writer: str, budget: float) -> str:
        """The replies of `receipt` to `writer` that the sender hands over within `budget`
        seconds. Called as soon as the event is committed, before the sender can have started
        on them."""
        if receipt.duplicate or not receipt.outbox_ids or receipt.settled is None:
            return ""
        answer = Answer(message_id, writer, self.max_length)
        for outbox_id in receipt.outbox_ids:
            self._by_row[outbox_id] = answer
        try:
            await asyncio.wait_for(asyncio.shield(receipt.settled), budget)
        except TimeoutError:  # the rest goes through the API, after this answer
            log.info("zulip replies not ready within the budget")
        finally:
            answer.open = False
            for outbox_id in receipt.outbox_ids:
                self._by_row.pop(outbox_id, None)
        return answer.content()
