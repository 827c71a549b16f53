"""Zulip end to end, event-queue mode: the real `zulip` client against the Zulip emulator, the
real runtime (which runs `lead()`: on SQLite this one process leads) and a real database.

Webhook mode is tests/adapters/test_zulip_webhook.py; two replicas on PostgreSQL are
tests/adapters/test_zulip_replicas.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from sqlalchemy import select
from sqlmodel import col

from adapters.zulip.adapter import ZulipAdapter
from bot import metrics
from bot.messages import OutgoingMessage, group_recipient
from bot.settings import Settings, WebSettings, ZulipSettings
from storage.models import Member, Outbox, ProcessedEvent
from tests.clock import FakeClock
from tests.fakes.zulip import ZulipEmulator
from tests.onboarding import COMPLETED_ANSWERS, completed_onboarding
from tests.support import serving as harness
from tests.support.waiting import until

JSON = dict[str, Any]
TOKEN = "xvOzfurIutdRRVLzpXrIIHXJvNfaJLJ0"


def for_zulip(
    settings: Settings,
    emulator: ZulipEmulator,
    monkeypatch: pytest.MonkeyPatch,
    mode: Literal["events", "webhook"] = "events",
    **zulip: Any,
) -> Settings:
    monkeypatch.setenv("ZULIP_EMAIL", emulator.email)
    monkeypatch.setenv("ZULIP_API_KEY", emulator.api_key)
    monkeypatch.setenv("ZULIP_WEBHOOK_TOKEN", TOKEN)
    monkeypatch.delenv("ZULIP_SITE", raising=False)
    settings.web = WebSettings(host="127.0.0.1", port=0, max_body_bytes=64 * 1024)
    # No pacing of our own unless a test sets it: Zulip's answers alone hold the sender back.
    settings.zulip = ZulipSettings(mode=mode, site=emulator.url, send_limit=(1000, 1.0), **zulip)
    settings.sender.sweep_seconds = 0.05  # retries after a 429 go out as soon as allowed
    return settings


def deduplicated() -> float:
    labels = {"platform": "zulip"}
    return metrics.REGISTRY.get_sample_value("onramp_events_deduplicated_total", labels) or 0.0


class Served(harness.Served[ZulipAdapter, ZulipEmulator]):
    """A running Onramp serving Zulip (tests/support/serving.py): Zulip's wire is the
    emulator's, so nothing is added here."""


def serving(
    settings: Settings, emulator: ZulipEmulator, clock: FakeClock | None = None
) -> contextlib.AbstractAsyncContextManager[Served]:
    """Onramp serving Zulip against `emulator` (in real time unless given a `clock`)."""
    adapters = {"zulip": ZulipAdapter(settings)}
    return harness.serving(settings, emulator, adapters, served=Served, clock=clock)


@pytest.fixture
def emulator() -> Iterator[ZulipEmulator]:
    with ZulipEmulator(rate_limit=None) as emulator:
        yield emulator


@pytest.fixture
def zulip_settings(
    settings: Settings,
    database_url: str,
    emulator: ZulipEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    """On SQLite and on PostgreSQL (where `lead()` runs under the advisory lock)."""
    settings.database.url = database_url
    return for_zulip(settings, emulator, monkeypatch)


@pytest.fixture
async def served(zulip_settings: Settings, emulator: ZulipEmulator) -> AsyncIterator[Served]:
    async with serving(zulip_settings, emulator) as running:
        await until(lambda: emulator.long_polls == 1, "the first long poll")
        yield running


@dataclass
class Person:
    """Someone in the Zulip organization: writes to the bot, reads what it sends."""

    served: Served
    user: JSON

    @property
    def id(self) -> int:
        return int(self.user["user_id"])

    def inbox(self) -> list[str]:
        return [m["content"] for m in self.served.emulator.messages_to(self.id)]

    async def say(self, text: str) -> JSON:
        """A direct message to the bot; returns once it is handled and answered."""
        message = self.served.emulator.dm_from(self.user, text)
        await self.served.settled(f"zulip:message:{message['id']}")
        return message


async def test_a_newcomer_joins_the_organization_and_onboards_by_typing(served: Served) -> None:
    emulator = served.emulator
    ada = Person(served, emulator.user_joins("Ada Lovelace", timezone="America/Lima"))
    await served.settled(f"zulip:realm_user:{ada.id}")

    [language] = ada.inbox()  # Zulip does not say her language: it is the first question
    assert language.startswith("🌍 Which language would you like me to use?")
    assert "\n\n1. English\n2. Français\n3. Español\n4. Português\n5. العربية\n6. Kiswahili" in (
        language
    )
    await ada.say("english")  # the label, as typed
    hello, consent = ada.inbox()[1:]
    assert hello.startswith("👋 Hello Ada Lovelace, and welcome to **Open Health Commons**!")
    assert consent.endswith(
        "Is that okay?\n\n1. Yes, that's fine\n2. No, thank you\n\n"
        "*Reply with a number or the option's name.*"
    )
    await ada.say("1")  # the number
    await ada.say("Lima")
    assert "What would you like to help with?" in ada.inbox()[-1]
    assert (
        "\n\n1. 💻 Code\n2. 📝 Documentation\n3. 🎨 Design\n4. 🌍 Translation" in (ada.inbox()[-1])
    )
    await ada.say("2, translation")
    assert ada.inbox()[-1].endswith(
        "\n\n1. Yes, please\n2. No, thanks\n\n*Reply with a number or the option's name.*"
    )
    await ada.say("yes, please")  # announcements
    await ada.say("2")  # "A few times"
    await ada.say("I'm all set")  # where to start
    await ada.say("not right now")  # a mentor

    expected = [
        "Which language would you like me to use?",
        "Hello Ada Lovelace, and welcome",
        "quick question about your data",
        "Which time zone are you in?",
        "What would you like to help with?",
        "Thank you, 2 areas!",
        "occasional announcements",
        "How much have you contributed",
        "Where would you like to start?",
        "would you like a mentor?",
        "You're all set, Ada Lovelace! 🎉",
        "You've earned a badge: 🎒 On board!",
    ]
    texts = ada.inbox()
    assert len(texts) == len(expected), texts
    for text, fragment in zip(texts, expected, strict=True):
        assert fragment in text
    sent = emulator.sent()
    assert [m["id"] for m in sent] == sorted(m["id"] for m in sent)  # once each, in order
    assert {c["type"] for c in emulator.calls("messages", "POST")} == {"direct"}

    member, answers = await completed_onboarding(served.onramp.db)
    assert (member.display_name, member.locale, member.timezone) == (
        "Ada Lovelace",
        "en",
        "America/Lima",
    )
    assert answers == COMPLETED_ANSWERS


async def test_onboard_is_typed_in_a_dm_or_called_with_a_mention_in_a_channel(
    served: Served,
) -> None:
    emulator = served.emulator
    bea = Person(served, emulator.add_user("Bea"))  # a member already: no join to welcome
    cy = Person(served, emulator.add_user("Cy"))
    dee = Person(served, emulator.add_user("Dee"))

    await bea.say("/onboard")
    assert "Which language" in bea.inbox()[0]
    await bea.say("English")
    assert "Hello Bea, and welcome" in bea.inbox()[1] and "Is that okay?" in bea.inbox()[2]

    # Conversation in a channel, an @-everyone and a group DM are none of the bot's business.
    ignored = [
        emulator.stream_message(dee.user, "general", "intros", "hi all", mention_bot=False),
        emulator.stream_message(dee.user, "general", "intros", "@**all** at 5", mention_bot=False),
        emulator.group_dm_from(dee.user, [bea.user], "lunch?"),
    ]
    called = emulator.stream_message(
        cy.user, "general", "intros", "onboard"
    )  # "@**Onramp** onboard"
    assert called["content"] == "@**Onramp** onboard"
    await served.settled(f"zulip:message:{called['id']}")
    [language] = cy.inbox()  # in Cy's direct messages, not in the channel
    assert "Which language" in language
    await cy.say("English")
    [_, hello, consent] = cy.inbox()
    assert "Hello Cy, and welcome" in hello and "Is that okay?" in consent
    assert [m for m in emulator.sent() if m["type"] == "stream"] == []

    help_in_group = emulator.group_dm_from(dee.user, [bea.user], "/help")
    await served.settled(f"zulip:message:{help_in_group['id']}")
    assert "/onboard" in dee.inbox()[0] and len(dee.inbox()) == 1
    for message in ignored:
        assert not await served.handled(f"zulip:message:{message['id']}")
    # The bot's own messages come back through its queue too; they are not events either.
    assert await served.count(ProcessedEvent) == 5
    assert len(bea.inbox()) == 3


async def test_a_message_delivered_twice_has_one_effect(served: Served) -> None:
    emulator = served.emulator
    ada = Person(served, emulator.add_user("Ada"))
    start = await ada.say("/onboard")
    before = deduplicated()

    emulator.redeliver(start)
    answer = await ada.say("fr")
    emulator.redeliver(answer)
    emulator.redeliver(answer)
    await ada.say("1")  # handled after the copies: they have been seen by now

    assert deduplicated() - before == 3
    texts = ada.inbox()
    assert len(texts) == 4, texts  # language, hello, consent, time zone: once each
    assert "fuseau horaire" in texts[3]
    assert await served.count(ProcessedEvent) == 3


async def test_an_expired_queue_is_registered_again_and_what_it_missed_caught_up(
    served: Served,
) -> None:
    emulator = served.emulator
    ada = Person(served, emulator.user_joins("Ada"))
    await served.settled(f"zulip:realm_user:{ada.id}")
    before = deduplicated()

    # Zulip drops the queue, and is down when the bot registers again: a message sent then
    # reaches no queue at all.
    emulator.fail("register", 502)
    emulator.expire_queues()
    await until(lambda: len(emulator.calls("register")) == 2, "the failed registration")
    assert emulator.queue_ids == []
    missed = emulator.dm_from(ada.user, "Español")
    await served.settled(f"zulip:message:{missed['id']}")  # from the catch-up of a new queue

    assert len(emulator.calls("register")) == 3
    assert len(emulator.queue_ids) == 1
    assert "¿Te parece bien?" in ada.inbox()[-1] and len(ada.inbox()) == 3
    assert deduplicated() - before == 1  # Ada's join, caught up again, changed nothing
    await ada.say("1")  # and the new queue carries on
    assert "zona horaria" in ada.inbox()[-1]


async def test_an_injected_429_is_waited_out_as_zulip_says(
    zulip_settings: Settings, emulator: ZulipEmulator
) -> None:
    limited = {"result": "error", "msg": "API usage exceeded rate limit", "code": "RATE_LIMIT_HIT"}
    async with serving(zulip_settings, emulator) as served:
        await until(lambda: emulator.long_polls == 1, "the first long poll")
        emulator.fail("messages", 429, times=1, body=limited | {"retry-after": 0.6})
        ada = Person(served, emulator.user_joins("Ada"))
        await served.settled(f"zulip:realm_user:{ada.id}")
        # Read while the bot runs: its database is closed once it stops (a read after that
        # would open a connection nobody closes).
        async with served.onramp.db.reading() as session:
            rows = (await session.execute(select(Outbox).order_by(col(Outbox.id)))).scalars().all()

    posts = [r for r in emulator.requests if r.method == "POST" and r.path.endswith("/messages")]
    assert len(posts) == 2  # the refused attempt, then the language question once
    assert posts[0].params["content"] == posts[1].params["content"]
    assert posts[1].at - posts[0].at >= 0.6
    assert len(ada.inbox()) == 1
    assert [(row.status, row.attempts) for row in rows] == [("sent", 1)]


async def test_a_429_storm_delays_but_loses_and_duplicates_nothing(
    zulip_settings: Settings,
) -> None:
    # Zulip's limit, tight, while the settings let the sender go as fast as it likes: Zulip's
    # headers and 429s alone must hold it back.
    with ZulipEmulator(rate_limit=(6, 1.0)) as emulator:
        limit = emulator.rate_limit
        assert limit is not None
        zulip_settings.zulip.site = emulator.url
        async with serving(zulip_settings, emulator) as served:
            await until(lambda: emulator.long_polls == 1, "the first long poll")
            # The start-up's requests left some of this second's budget, as the last headers
            # told the bot; another client of the same bot spends it: the first sends get 429.
            while limit.hit(emulator.email) is None:
                pass
            people = [Person(served, emulator.user_joins(f"P{n}")) for n in range(3)]
            for person in people:
                await until(lambda p=person: served.handled(f"zulip:realm_user:{p.id}"), "join")
            await served.outbox_idle()
            for person in people:
                await person.say("English")
            await served.outbox_idle()

            for person in people:
                language, hello, consent = person.inbox()
                assert "Which language" in language
                assert f"Hello {person.user['full_name']}," in hello and "Is that okay" in consent
            async with served.onramp.db.reading() as session:
                rows = (await session.execute(select(Outbox))).scalars().all()
            assert [row.status for row in rows] == ["sent"] * 9
            refused = emulator.throttled.count("/api/v1/messages")
            assert refused > 0
            assert len(emulator.calls("messages", "POST")) == 9 + refused  # tried again
            assert len(emulator.sent()) == 9


async def test_a_restarted_bot_catches_up_and_carries_on(
    zulip_settings: Settings, emulator: ZulipEmulator
) -> None:
    async with serving(zulip_settings, emulator) as first:
        ada = Person(first, emulator.user_joins("Ada"))
        await first.settled(f"zulip:realm_user:{ada.id}")
        await ada.say("Français")
        assert "Cela vous convient-il ?" in ada.inbox()[-1]
    assert emulator.queue_ids == []  # deleted on the way out

    # While the bot is down, Ada answers, and Bea joins.
    answer = emulator.dm_from(ada.user, "1")
    bea = Person(first, emulator.user_joins("Bea"))
    before = deduplicated()

    async with serving(zulip_settings, emulator) as second:
        ada.served = bea.served = second
        await second.settled(f"zulip:message:{answer['id']}")
        await second.settled(f"zulip:realm_user:{bea.id}")
        assert deduplicated() - before == 2  # Ada's join and "Français", caught up again
        await ada.say("Lima")

    ada_texts, bea_texts = ada.inbox(), bea.inbox()
    assert len(ada_texts) == 5, ada_texts  # nothing repeated across the restart
    assert "fuseau horaire" in ada_texts[3] and "Sur quoi aimeriez-vous aider" in ada_texts[4]
    assert len(bea_texts) == 1 and "Which language" in bea_texts[0]


async def test_what_the_bot_cannot_read_gets_a_polite_answer(served: Served) -> None:
    emulator = served.emulator
    ada = Person(served, emulator.add_user("Ada"))
    upload = emulator.upload_from(ada.user, "screenshot.png")
    await served.settled(f"zulip:message:{upload['id']}")
    sorry, language = ada.inbox()
    assert sorry == (
        "Sorry, I can only read text and button answers for now. Could you type your reply?"
    )
    assert "Which language" in language  # a newcomer all the same

    poll = emulator.poll_from(ada.user, "Lunch?")
    await served.settled(f"zulip:message:{poll['id']}")
    await ada.say("/me waves")
    assert ada.inbox()[2:] == [sorry, sorry]
    await ada.say("1")  # the question is still waiting
    assert "Hello Ada" in ada.inbox()[-2] and "Is that okay?" in ada.inbox()[-1]


async def test_losing_leadership_stops_reading_and_keeps_the_queue(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lead()` cancelled (another replica leads now): the thread stops, hands nothing more
    over, and the queue is kept for when this replica leads again."""
    with ZulipEmulator(rate_limit=None, heartbeat_seconds=0.2) as emulator:
        adapter = ZulipAdapter(for_zulip(settings, emulator, monkeypatch))
        taken: list[Any] = []

        async def inbox(event: Any) -> Any:
            taken.append(event)
            return None

        await adapter.start(inbox)
        try:
            leading = asyncio.create_task(adapter.lead())
            await until(lambda: emulator.long_polls == 1, "the long poll")
            ada = emulator.add_user("Ada")
            emulator.dm_from(ada, "/help")
            await until(lambda: len(taken) == 1, "the first message")

            leading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await leading
            await until(lambda: not adapter.consuming(), "the reading thread to stop")
            missed = emulator.dm_from(ada, "/language fr")
            await asyncio.sleep(0.5)  # past a heartbeat: a thread still reading would take it
            assert len(taken) == 1
            [queue_id] = emulator.queue_ids  # kept, with the message in it

            leading = asyncio.create_task(adapter.lead())
            await until(lambda: len(taken) == 2, "the message, from the same queue")
            assert taken[1].dedupe_key == f"zulip:message:{missed['id']}"
            assert emulator.queue_ids == [queue_id] and len(emulator.calls("register")) == 1
            leading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await leading
        finally:
            await adapter.stop()
        assert not adapter.consuming() and emulator.queue_ids == []


async def test_odd_events_and_a_failing_server_change_nothing_and_stop_nothing(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    emulator = served.emulator
    ada = Person(served, emulator.add_user("Ada"))
    polls = len(emulator.calls("events", "GET"))
    emulator.fail("events", 502, body={"html": "Bad gateway"})  # a proxy's error page, next
    for odd in (
        {"type": "message"},  # no message
        {"type": "message", "message": {"id": "12", "sender_id": ada.id, "content": "hi"}},
        {"type": "message", "message": {"id": 12, "sender_id": ada.id, "content": "hi", "type": 7}},
        {"type": "realm_user", "op": "add", "person": "Ada"},
        {"type": "realm_user", "op": "update", "person": {"user_id": ada.id}},
        {"type": "typing", "op": "start"},  # not registered for: never arrives
    ):
        emulator.queue_event(odd)
    # The waiting poll answers with them; the next one meets the 502.
    await until(lambda: len(emulator.calls("events", "GET")) == polls + 1, "the 502")
    await ada.say("/help")  # handled, once the bot has polled again after a pause

    assert "/onboard" in ada.inbox()[0]
    malformed = [r for r in caplog.records if r.msg == "zulip event ignored"]
    assert len(malformed) == 4
    [failed] = [r.getMessage() for r in caplog.records if r.msg == "zulip event queue: %s"]
    assert failed == "zulip event queue: zulip: 502 error: not a Zulip answer"
    assert await served.count(ProcessedEvent) == 1
    assert await served.count(Member) == 1


async def test_joins_can_go_unwelcomed(
    settings: Settings, emulator: ZulipEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    quiet = for_zulip(settings, emulator, monkeypatch, welcome_joins=False)
    async with serving(quiet, emulator) as served:
        await until(lambda: emulator.long_polls == 1, "the first long poll")
        [registered] = emulator.calls("register")
        assert registered["event_types"] == '["message"]'
        emulator.user_joins("Ada")  # no queue hears it
        bea = Person(served, emulator.add_user("Bea"))
        await bea.say("hello")  # who writes first is onboarded all the same
        assert "Which language" in bea.inbox()[0]
        await bea.say("English")
        assert "Hello Bea" in bea.inbox()[1]
        assert await served.count(Member) == 1


async def test_a_group_recipient_is_one_direct_message_to_all_of_them(
    served: Served, emulator: ZulipEmulator
) -> None:
    """How a mentor and a newcomer are introduced on Zulip: one direct message to both."""
    bea, cy = emulator.add_user("Bea"), emulator.add_user("Cy")
    message = OutgoingMessage(
        platform="zulip",
        recipient=group_recipient([str(bea["user_id"]), str(cy["user_id"])]),
        text=f"Bea, meet [Cy](member:{cy['user_id']})!",
    )
    delivery = await served.adapter.send(message)
    [sent] = emulator.sent()
    assert str(sent["id"]) == delivery
    assert sent["type"] == "private"
    assert {r["id"] for r in sent["display_recipient"]} == {
        bea["user_id"],
        cy["user_id"],
        emulator.bot["user_id"],
    }
    assert sent["content"] == f"Bea, meet @_**Cy|{cy['user_id']}**!"
