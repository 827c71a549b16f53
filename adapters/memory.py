"""An in-process platform for tests and benchmarks, with a transcript helper.

chat = Chat(onramp, adapter, user="ada")
await chat.join()
chat.expect("Welcome")
await chat.say("1")
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from bot.adapter import Adapter, Capabilities, DeliveryError, Inbox, Receipt
from bot.events import (
    ChoiceMade,
    CommandInvoked,
    Event,
    MemberJoined,
    MessageReceived,
    parse_typed_command,
)
from bot.messages import OutgoingMessage


class MemoryAdapter(Adapter):
    """Carries no files unless a test says so (`capabilities=Capabilities(max_document_bytes=
    …)`): then the messages with a document are in `documents`."""

    name = "memory"
    capabilities = Capabilities(max_buttons=10, markdown="markdown")

    def __init__(
        self,
        settings: Any = None,
        *,
        capabilities: Capabilities | None = None,
        remembers: bool = False,
    ) -> None:
        """`remembers`: a platform that can say whether it already has a message (Slack's
        history), asked after a crash (`already_sent`); by default it cannot, as Telegram."""
        if capabilities is not None:  # a test's platform with other limits
            self.capabilities = capabilities
        self.remembers = remembers
        self._delivered: dict[int, str] = {}  # outbox id -> delivery id, when it remembers
        self.sent: list[OutgoingMessage] = []
        self.inbox: Inbox | None = None
        # Errors to raise on the next sends, in order: simulate throttling and outages.
        self.failures: deque[DeliveryError] = deque()
        self._ids = itertools.count(1)
        self._listeners: dict[str, asyncio.Queue[OutgoingMessage]] = {}

    async def start(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def stop(self) -> None:
        self.inbox = None

    async def send(self, message: OutgoingMessage) -> str:
        if self.failures:
            raise self.failures.popleft()
        document = message.document
        if document is not None and document.size > self.capabilities.max_document_bytes:
            raise DeliveryError("memory: file too large", permanent=True)
        self.sent.append(message)
        queue = self._listeners.get(message.recipient)
        if queue is not None:
            queue.put_nowait(message)
        delivery_id = f"memory-{next(self._ids)}"
        if self.remembers and message.outbox_id is not None:
            self._delivered[message.outbox_id] = delivery_id
        return delivery_id

    async def already_sent(self, message: OutgoingMessage) -> str | None:
        if not self.remembers or message.outbox_id is None:
            return None
        return self._delivered.get(message.outbox_id)

    @property
    def documents(self) -> list[OutgoingMessage]:
        """The messages sent with a file (`message.document`), oldest first."""
        return [message for message in self.sent if message.document is not None]

    def listen(self, recipient: str) -> asyncio.Queue[OutgoingMessage]:
        """A queue receiving every message later sent to `recipient` (for benchmarks)."""
        return self._listeners.setdefault(recipient, asyncio.Queue())

    def routes(self) -> list[Any]:
        return []

    @classmethod
    def render_preview(cls, message: OutgoingMessage) -> str:
        """The message as the core wrote it: this platform takes the Markdown as it is."""
        return message.text


@dataclass
class Chat:
    """A conversation transcript with one member, for tests: say(), then expect()."""

    adapter: MemoryAdapter
    user: str = "ada"
    display_name: str | None = "Ada"
    locale_hint: str | None = None
    platform: str = "memory"
    _read: int = 0
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    def _event(self, kind: type[Event], **fields: Any) -> Event:
        return kind(
            platform=self.platform,
            dedupe_key=f"{self.user}:{next(self._counter)}",
            actor=self.user,
            conversation=self.user,
            display_name=self.display_name,
            locale_hint=self.locale_hint,
            **fields,
        )

    async def send_event(self, event: Event, *, wait: bool = True) -> Receipt:
        """Hand the event to the bot; with `wait`, return once the replies were delivered."""
        assert self.adapter.inbox is not None, "start the Onramp runtime first"
        receipt = await self.adapter.inbox(event)
        if wait and receipt.settled is not None:
            await asyncio.wait_for(receipt.settled, 10)
        return receipt

    async def join(self, source: str | None = None, *, wait: bool = True) -> Receipt:
        return await self.send_event(self._event(MemberJoined, source=source), wait=wait)

    async def say(self, text: str) -> Receipt:
        command = parse_typed_command(text)
        if command:
            return await self.send_event(
                self._event(CommandInvoked, name=command[0], args=command[1])
            )
        return await self.send_event(self._event(MessageReceived, text=text))

    async def press(self, *choice_ids: str) -> Receipt:
        """Tap buttons of the last question the bot asked."""
        asked = next(m for m in reversed(self.messages) if m.choices)
        assert asked.step_id is not None
        return await self.send_event(
            self._event(ChoiceMade, step_id=asked.step_id, choice_ids=choice_ids)
        )

    @property
    def messages(self) -> list[OutgoingMessage]:
        return [m for m in self.adapter.sent if m.recipient == self.user]

    def unread(self) -> list[OutgoingMessage]:
        return self.messages[self._read :]

    def expect(self, *fragments: str) -> OutgoingMessage:
        """The next unread message; it must contain every fragment (case-insensitive)."""
        unread = self.unread()
        assert unread, f"expected a message containing {fragments!r}, got nothing"
        message = unread[0]
        self._read += 1
        for fragment in fragments:
            assert fragment.casefold() in message.text.casefold(), (
                f"expected {fragment!r} in the bot's message:\n{message.text}"
            )
        return message

    def expect_nothing(self) -> None:
        unread = self.unread()
        assert not unread, f"expected no message, got: {[m.text for m in unread]}"

    def skip(self, count: int = 1) -> None:
        self._read += count
