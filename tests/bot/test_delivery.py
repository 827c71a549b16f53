"""What platforms say about messages later (delivery statuses), when members last wrote (the
WhatsApp 24-hour window), and what the bot cannot read."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from adapters.memory import Chat, MemoryAdapter
from bot.events import DeliveryUpdate, UnsupportedReceived
from bot.runtime import Onramp
from storage.models import Identity, Outbox
from tests.conftest import FakeClock


def _status(chat: Chat, delivery_id: str, status: str, key: str, error: str | None = None):  # type: ignore[no-untyped-def]
    return DeliveryUpdate(
        platform=chat.platform,
        dedupe_key=key,
        actor=chat.user,
        conversation=chat.user,
        delivery_id=delivery_id,
        status=status,  # type: ignore[arg-type]
        error=error,
    )


async def _outbox(onramp: Onramp) -> list[Outbox]:
    async with onramp.db.reading() as session:
        return list((await session.execute(select(Outbox).order_by(Outbox.id))).scalars())


@pytest.mark.parametrize(
    ("order", "final", "error_kept"),
    [
        (["sent", "delivered", "read"], "read", False),
        (["read", "delivered", "sent"], "read", False),  # any order: nothing goes back
        (["delivered", "sent"], "delivered", False),
        (["failed", "delivered"], "delivered", True),  # the platform's own retry succeeded
        (["delivered", "failed"], "delivered", False),  # too late to matter: ignored
        (["sent", "failed"], "failed", True),
    ],
)
async def test_statuses_in_any_order_end_at_the_furthest(
    chat: Chat, onramp: Onramp, order: list[str], final: str, error_kept: bool
) -> None:
    await chat.join()
    await chat.say("English")
    [language, _, _] = await _outbox(onramp)  # the language question, the welcome, consent
    assert language.delivery_id is not None
    for n, status in enumerate(order):
        error = "131051: unsupported" if status == "failed" else None
        receipt = await chat.send_event(_status(chat, language.delivery_id, status, f"s{n}", error))
        assert receipt.outbox_ids == ()  # nobody is answered for a status
    [language, welcome, question] = await _outbox(onramp)
    assert language.delivery_status == final
    assert language.status == "sent"
    assert welcome.delivery_status is None and question.delivery_status is None
    assert (language.last_error == "131051: unsupported") == error_kept


async def test_a_status_for_an_unknown_message_changes_nothing(chat: Chat, onramp: Onramp) -> None:
    await chat.join()
    await chat.send_event(_status(chat, "wamid.unknown", "read", "s1"))
    assert all(row.delivery_status is None for row in await _outbox(onramp))
    async with onramp.db.reading() as session:
        identity = (await session.execute(select(Identity))).scalars().one()
    assert identity.last_inbound_at is None  # a status is not the member writing


async def test_when_the_member_last_wrote_travels_with_every_message(
    chat: Chat, onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    await chat.join()
    assert [m.last_inbound_at for m in chat.messages] == [None]  # a join is not writing
    clock.advance(hours=1)
    await chat.say("Français")
    wrote = clock.now
    assert [m.last_inbound_at for m in chat.messages[1:]] == [wrote, wrote]  # welcome, consent
    clock.advance(seconds=20)
    await chat.say("1")  # within a minute: not written again (saves a write a turn)
    assert chat.messages[-1].last_inbound_at == wrote
    clock.advance(minutes=2)
    await chat.say("Nairobi")
    assert chat.messages[-1].last_inbound_at == clock.now
    assert clock.now - wrote == timedelta(minutes=2, seconds=20)


async def test_what_the_bot_cannot_read_gets_a_polite_answer(chat: Chat, onramp: Onramp) -> None:
    photo = UnsupportedReceived(
        platform=chat.platform,
        dedupe_key="p1",
        actor=chat.user,
        conversation=chat.user,
        display_name="Ada",
        kind="image",
    )
    await chat.send_event(photo)  # their very first message: a photo
    chat.expect("I can only read text and button answers")
    chat.expect("Which language")  # a newcomer all the same: onboarding starts
    sticker = UnsupportedReceived(
        platform=chat.platform,
        dedupe_key="p2",
        actor=chat.user,
        conversation=chat.user,
        kind="sticker",
    )
    await chat.send_event(sticker)
    chat.expect("I can only read text and button answers")
    chat.expect_nothing()  # the question stands; nothing else changes
    await chat.say("English")
    chat.expect("Hello Ada")
    chat.expect("keep your answers")


async def test_what_the_bot_cannot_read_in_a_group_is_not_answered(
    chat: Chat, onramp: Onramp
) -> None:
    in_group = UnsupportedReceived(
        platform=chat.platform,
        dedupe_key="g1",
        actor=chat.user,
        conversation="group-1",
        private=False,
        kind="group",
    )
    receipt = await chat.send_event(in_group)
    assert receipt.outbox_ids == ()
    async with onramp.db.reading() as session:
        identity = (await session.execute(select(Identity))).scalars().one()
    assert identity.last_inbound_at is None  # writing in a group opens no private window
