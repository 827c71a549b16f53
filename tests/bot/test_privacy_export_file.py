"""/privacy export as a file where the member's platform carries one (the memory adapter, told
that it does): queued in the turn's transaction as a message with a document, delivered by the
sender, retried by its policy, and deleted from the outbox once delivered or given up on, on
SQLite and PostgreSQL. Each platform's real upload is tests/adapters/test_export_files.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlmodel import col

from adapters.memory import Chat, MemoryAdapter
from bot.adapter import Capabilities, DeliveryError
from bot.messages import (
    DELETE_ONCE_SETTLED,
    FAREWELL,
    Document,
    OutgoingMessage,
    deleted_once_settled,
)
from bot.runtime import Onramp
from bot.settings import Settings
from storage.models import AuditLog, Outbox
from tests.clock import FakeClock

CARRIES_FILES = Capabilities(max_buttons=10, max_document_bytes=1_000_000)


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    settings.database.url = database_url
    return settings


@pytest.fixture
def memory() -> MemoryAdapter:
    return MemoryAdapter(capabilities=CARRIES_FILES)


@pytest.fixture
async def chat(onramp: Onramp, memory: MemoryAdapter) -> AsyncIterator[Chat]:
    chat = Chat(memory, user="ada", display_name="Ada")
    await chat.say("/language en")
    chat.skip(len(chat.unread()))
    yield chat


async def rows(onramp: Onramp) -> list[Outbox]:
    async with onramp.db.reading() as session:
        return list((await session.execute(select(Outbox).order_by(col(Outbox.id)))).scalars())


async def actions(onramp: Onramp) -> list[str]:
    async with onramp.db.reading() as session:
        found = await session.execute(select(AuditLog).order_by(col(AuditLog.id)))
        return [row.action for row in found.scalars()]


def test_a_document_goes_through_the_outbox_payload_and_back() -> None:
    for content in ('{"name": "Zoë"}'.encode(), b"\x00\xff binary"):
        message = OutgoingMessage(
            platform="memory",
            recipient="ada",
            text="Here",
            document=Document("data.json", "application/json", content),
        )
        payload = json.loads(json.dumps(message.to_payload()))  # as the JSON column keeps it
        assert OutgoingMessage.from_payload("memory", "ada", payload) == message
    plain = OutgoingMessage(platform="memory", recipient="ada", text="Hi")
    assert "document" not in plain.to_payload()  # other messages' rows are as they were
    for flag in (DELETE_ONCE_SETTLED, FAREWELL):  # FAREWELL: rows queued before the rename
        payload = {**plain.to_payload(), flag: True}
        assert deleted_once_settled(payload)
        assert OutgoingMessage.from_payload("memory", "ada", payload) == plain


async def test_the_export_is_a_json_file_in_the_member_s_chat_and_leaves_the_outbox(
    chat: Chat, onramp: Onramp, memory: MemoryAdapter
) -> None:
    await chat.say("/privacy export")
    sent = chat.expect("everything I keep about you, as a JSON file")
    assert sent.recipient == "ada" and sent.document is not None
    assert [m.document for m in memory.documents] == [sent.document]
    assert sent.document.media_type == "application/json"
    assert sent.document.name.startswith("onramp-data-")
    document = json.loads(sent.document.content)
    assert document["member"]["display_name"] == "Ada"
    assert document["member"]["locale"] == "en"  # what she answered
    assert [row for row in await rows(onramp) if "document" in row.payload] == []
    assert "privacy.exported" in await actions(onramp)


async def test_a_failed_send_is_retried_and_given_up_without_keeping_the_file(
    chat: Chat, onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    memory.failures.append(DeliveryError("503"))
    await chat.say("/privacy export")
    [waiting] = [row for row in await rows(onramp) if "document" in row.payload]
    assert waiting.status == "pending" and waiting.attempts == 1  # to be tried again
    clock.advance(seconds=5)
    await onramp.sender.deliver(None)
    assert len(memory.documents) == 1
    assert [row for row in await rows(onramp) if "document" in row.payload] == []

    limit = onramp.settings.sender.max_attempts
    memory.failures.extend(DeliveryError(f"down {n}") for n in range(limit))
    await chat.say("/privacy export")
    for _ in range(limit):
        clock.advance(hours=2)
        await onramp.sender.deliver(None)
    assert len(memory.documents) == 1  # never delivered
    assert [row for row in await rows(onramp) if "document" in row.payload] == []
    # …and she is told so, in a message of its own, rather than left waiting
    clock.advance(minutes=1)
    await onramp.sender.deliver(None)
    told = [m for m in chat.unread() if "couldn't send you the file" in m.text]
    assert len(told) == 1 and told[0].document is None and "/privacy export" in told[0].text


async def test_an_export_bigger_than_the_platform_takes_is_not_a_file(
    chat: Chat, onramp: Onramp, memory: MemoryAdapter
) -> None:
    memory.capabilities = Capabilities(max_buttons=10, max_document_bytes=100)
    await chat.say("/privacy export")
    chat.expect("can't make a download link here")  # no web app serves links in this test
    assert memory.documents == []
    done = await actions(onramp)
    assert "privacy.export_too_big" in done and "privacy.export_unavailable" in done


async def test_a_stop_before_the_file_went_leaves_no_file_behind(
    chat: Chat, onramp: Onramp, memory: MemoryAdapter
) -> None:
    memory.failures.append(DeliveryError("503"))  # the file waits for its next attempt…
    await chat.say("/privacy export")
    assert [row.status for row in await rows(onramp) if "document" in row.payload] == ["pending"]
    await chat.say("/stop")  # …and the member stops everything meanwhile
    assert [row for row in await rows(onramp) if "document" in row.payload] == []
