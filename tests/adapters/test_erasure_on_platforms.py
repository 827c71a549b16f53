"""An erasure tested the hard way (issue 20), through the real adapters against each platform's
emulator: on Slack, Telegram, WhatsApp and Zulip, a member whose name, platform id or handle,
typed answers, kudos reasons (given and received), check-in comment and feedback all carry a
marker goes through the bot's features with a second member (Bea, a mentor and a manager):
onboarding, a mentor found and accepted, kudos both ways, a check-in (the test clock moved
three days on), /feedback, /privacy and its export. Then she erases herself with the typed
`/privacy erase ERASE`, delivered as her platform delivers a command. Afterwards no column of
any table holds the marker or her platform id, no column that refers to members holds her
member id, no byte of the SQLite files holds the marker, and nothing the bot logged names her,
on SQLite and PostgreSQL.

What the emulators recorded as sent to the platform is the platform's, not ours: it is only
read to follow the conversation, never searched.

tests/bot/test_erasure_marker.py does the same through the memory adapter.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel, col

from adapters.slack.adapter import EVENTS_PATH
from bot.logs import NOISY_LIBRARIES
from bot.runtime import Onramp
from bot.settings import Settings
from storage.models import Member, ProcessedEvent
from storage.redaction import MEMBER_KEYS
from tests.adapters import test_slack as slack_tests
from tests.adapters import test_telegram as telegram_tests
from tests.adapters import test_whatsapp as whatsapp_tests
from tests.adapters import test_zulip as zulip_tests
from tests.clock import RunningClock
from tests.fakes import slack as slack_wire
from tests.fakes.slack import SlackEmulator
from tests.fakes.telegram import TelegramEmulator
from tests.fakes.whatsapp import WhatsAppEmulator
from tests.fakes.zulip import ZulipEmulator
from tests.support import serving as harness
from tests.support.waiting import until

MARK = "Zqxmark"
NAME = f"Ada {MARK}"
ERASED = "everything I kept about you is erased"
JSON = dict[str, Any]


# What every platform offers the scenario: her and Bea, and their wire.


class Platform:
    """One platform's wire, as the scenario uses it. `her` and `bea` are the platform's own
    handles for the two people (a Slack user id, a Telegram user, a wa_id, a Zulip user)."""

    name = ""
    her: Any
    bea: Any
    her_ids: tuple[str, ...] = ()  # her platform ids and handles, searched for afterwards

    def __init__(self, served: Any) -> None:
        self.served = served  # tests/support/serving.py's Served
        self.onramp: Onramp = served.onramp

    async def join(self) -> None:
        """She arrives, as the platform tells the bot."""
        raise NotImplementedError

    async def say(self, who: Any, text: str) -> None:
        """A direct message to the bot."""
        raise NotImplementedError

    async def command(self, who: Any, name: str, args: str = "") -> None:
        """`/name args`, as the platform delivers a command."""
        await self.say(who, f"/{name} {args}".strip())

    async def press(self, who: Any, label: str) -> None:
        """The button labelled `label` on the newest message that has one (typed where the
        platform has no buttons)."""
        await self.say(who, label)

    def texts(self, who: Any) -> list[str]:
        raise NotImplementedError

    def mention(self, who: Any) -> str:
        """`who`, as a /kudos names them on this platform."""
        raise NotImplementedError

    async def before_due_work(self) -> None:
        """Anything the platform needs before the bot writes first (WhatsApp's window)."""

    async def handled(self, deliver: Callable[[], Awaitable[object]]) -> None:
        """`deliver` one inbound event; return once it is committed and its replies sent."""
        before = await self.processed()
        await deliver()
        await until(lambda: self._more(before), "the event to be handled")
        await self.outbox_idle()

    async def _more(self, before: int) -> bool:
        return await self.processed() > before

    async def processed(self) -> int:
        async with self.onramp.db.reading() as session:
            count = select(func.count()).select_from(ProcessedEvent)
            return int((await session.execute(count)).scalar_one())

    async def outbox_idle(self) -> None:
        await self.served.outbox_idle()


# Slack: HTTP mode, signed Events API, slash commands and block actions.


class SlackServed(harness.Served[Any, SlackEmulator]):
    """Onramp serving Slack (the adapter its entry point finds)."""


SLACK_HER, SLACK_BEA = "UZQXMARK1", "U0BEA00001"


class Slack(Platform):
    name = "slack"

    def __init__(self, served: Any, emulator: SlackEmulator, http: httpx.AsyncClient) -> None:
        super().__init__(served)
        self.emulator, self.http = emulator, http
        self.her, self.bea = SLACK_HER, SLACK_BEA
        self.her_ids = (SLACK_HER, slack_wire.dm_channel_id(SLACK_HER))
        self.her_user = emulator.add_user(SLACK_HER, display_name=NAME, real_name=NAME, tz="UTC")
        emulator.add_user(SLACK_BEA, display_name="Bea", tz="Europe/Paris")

    async def post(self, inbound: slack_wire.Inbound) -> None:
        headers = slack_tests.signed(inbound.body, slack_tests.SECRET, None)
        response = await self.http.post(EVENTS_PATH, content=inbound.body, headers=headers)
        assert response.status_code == 200, response.text

    async def join(self) -> None:
        inbound = slack_wire.event_callback(slack_wire.team_join(self.her_user))
        await self.handled(lambda: self.post(inbound))

    async def say(self, who: str, text: str) -> None:
        inbound = slack_wire.event_callback(slack_wire.im_message(who, text))
        await self.handled(lambda: self.post(inbound))

    async def command(self, who: str, name: str, args: str = "") -> None:
        channel = slack_wire.dm_channel_id(who)
        inbound = slack_wire.slash_command(
            args, user_id=who, channel_id=channel, command=f"/{name}"
        )
        await self.handled(lambda: self.post(inbound))

    async def press(self, who: str, label: str) -> None:
        labelled = [m for m in self.emulator.messages_to(who) if label in _slack_labels(m)]
        assert labelled, f"no button {label!r} for {who}"
        inbound = slack_tests.pressing(who, labelled[-1], label)
        await self.handled(lambda: self.post(inbound))

    def texts(self, who: str) -> list[str]:
        return [str(m["text"]) for m in self.emulator.messages_to(who)]

    def mention(self, who: str) -> str:
        return f"<@{who}>"


def _slack_labels(message: JSON) -> list[str]:
    return [
        element["text"]["text"]
        for element in slack_tests.buttons(message)
        if element["type"] == "button"
    ]


# Telegram: webhook updates; commands as messages with a bot_command entity; inline buttons.

TELEGRAM_HER, TELEGRAM_BEA = 5_550_123_987, 7_002
TELEGRAM_HANDLE = f"{MARK.lower()}_ada"


class Telegram(Platform):
    name = "telegram"

    def __init__(self, served: Any, emulator: TelegramEmulator) -> None:
        super().__init__(served)
        self.emulator = emulator
        self.her = emulator.user(
            TELEGRAM_HER, "Ada", last_name=MARK, username=TELEGRAM_HANDLE, language_code="en"
        )
        self.bea = emulator.user(TELEGRAM_BEA, "Bea", username="bea_b", language_code="en")
        self.her_ids = (str(TELEGRAM_HER), TELEGRAM_HANDLE)

    async def join(self) -> None:
        await self.say(self.her, "/start")  # she opens the bot: the onboarding begins

    async def say(self, who: JSON, text: str) -> None:
        if text == "/start":
            update = self.emulator.start_message(who)
        else:
            update = self.emulator.message(who, text)
        await self.handled(lambda: self._deliver(update))

    async def _deliver(self, update: JSON) -> None:
        assert await self.served.deliver(update) == 200

    async def press(self, who: JSON, label: str) -> None:
        chat = self.emulator.messages_to(who["id"])
        found = [
            (message, button["callback_data"])
            for message in chat
            for row in message.get("reply_markup", {}).get("inline_keyboard", [])
            for button in row
            if button.get("text") == label and "callback_data" in button
        ]
        assert found, f"no button {label!r} for {who['first_name']}"
        message, data = found[-1]
        update = self.emulator.callback_query(who, message, data)
        await self.handled(lambda: self._deliver(update))

    def texts(self, who: JSON) -> list[str]:
        return [str(m.get("text", "")) for m in self.emulator.messages_to(who["id"])]

    def mention(self, who: JSON) -> str:
        return f"@{who['username']}"


# WhatsApp: signed notifications; commands are typed; reply buttons and list rows.

WHATSAPP_HER, WHATSAPP_BEA = "15550009876", "447700900123"


class WhatsApp(Platform):
    name = "whatsapp"

    def __init__(self, served: Any, emulator: WhatsAppEmulator) -> None:
        super().__init__(served)
        self.emulator = emulator
        self.her = emulator.user(WHATSAPP_HER, NAME)  # her profile name
        self.bea = emulator.user(WHATSAPP_BEA, "Bea")
        self.her_ids = (WHATSAPP_HER,)

    async def join(self) -> None:
        await self.say(self.her, "Hello! I found you on the website")

    async def say(self, who: str, text: str) -> None:
        notification = self.emulator.text(who, text)
        await self.handled(lambda: self._deliver(notification))

    async def _deliver(self, notification: JSON) -> None:
        assert await self.served.deliver(notification) == 200

    async def press(self, who: str, label: str) -> None:
        found = [s for s in self.emulator.messages_to(who) if label in dict(_interactive(s))]
        assert found, f"no button {label!r} for {who}"
        sent = found[-1]
        reply_id = dict(_interactive(sent))[label]
        if sent.body["interactive"]["type"] == "button":
            tap = self.emulator.button_reply(who, reply_id, label, context=sent.id)
        else:
            tap = self.emulator.list_reply(who, reply_id, label, context=sent.id)
        await self.handled(lambda: self._deliver(tap))

    def texts(self, who: str) -> list[str]:
        return [_shown(sent) for sent in self.emulator.messages_to(who)]

    def mention(self, who: str) -> str:
        return f'@"{self.emulator.names[who]}"'

    async def before_due_work(self) -> None:
        """Three days on, both have written in the last 24 hours: free-form messages go."""
        for who in (self.her, self.bea):
            await self.command(who, "help")


def _shown(sent: Any) -> str:
    """A text's words, an interactive message's body, a document's caption."""
    if sent.type in ("text", "interactive"):
        return whatsapp_tests.shown(sent)
    return str(sent.body.get(sent.type, {}).get("caption", f"{sent.type} message"))


def _interactive(sent: Any) -> list[tuple[str, str]]:
    if sent.type != "interactive":
        return []
    return whatsapp_tests.interactive(sent)


# Zulip: the event queue; everything is typed (no buttons).

ZULIP_HER, ZULIP_BEA = 8_675_309, 8_675_400
ZULIP_EMAIL = f"{MARK.lower()}.ada@zulip.example.org"


class Zulip(Platform):
    name = "zulip"

    def __init__(self, served: Any, emulator: ZulipEmulator) -> None:
        super().__init__(served)
        self.emulator = emulator
        self.bea = emulator.add_user("Bea", user_id=ZULIP_BEA, timezone="Europe/Paris")
        self.her: JSON = {}
        self.her_ids = (str(ZULIP_HER), ZULIP_EMAIL)

    async def join(self) -> None:
        async def joined() -> None:
            self.her.update(  # in place: the scenario holds her already
                self.emulator.user_joins(
                    NAME, email=ZULIP_EMAIL, user_id=ZULIP_HER, timezone="Africa/Nairobi"
                )
            )

        await self.handled(joined)

    async def say(self, who: JSON, text: str) -> None:
        message: JSON = {}

        async def sent() -> None:
            message.update(self.emulator.dm_from(who, text))

        await self.handled(sent)
        await self.served.settled(f"zulip:message:{message['id']}")

    def texts(self, who: JSON) -> list[str]:
        return [str(m["content"]) for m in self.emulator.messages_to(who["user_id"])]

    def mention(self, who: JSON) -> str:
        return f"@**{who['full_name']}|{who['user_id']}**"


# Each platform served, on the database of `database_url`, with a clock the test moves.


@pytest.fixture
def clock() -> RunningClock:
    return RunningClock()


Serve = Callable[[], AbstractAsyncContextManager[Platform]]


@pytest.fixture
def on_slack(
    settings: Settings, database_url: str, monkeypatch: pytest.MonkeyPatch, clock: RunningClock
) -> Serve:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", slack_tests.SECRET)
    settings.database.url = database_url

    @asynccontextmanager
    async def serve() -> AsyncIterator[Platform]:
        with SlackEmulator(channel_limit=None) as emulator:
            configured = slack_tests.configure(settings, emulator)
            async with (
                harness.serving(configured, emulator, served=SlackServed, clock=clock) as served,
                httpx.AsyncClient(base_url=served.url(""), timeout=10) as http,
            ):
                yield Slack(served, emulator, http)

    return serve


@pytest.fixture
def on_telegram(
    settings: Settings, database_url: str, monkeypatch: pytest.MonkeyPatch, clock: RunningClock
) -> Serve:
    settings.database.url = database_url

    @asynccontextmanager
    async def serve() -> AsyncIterator[Platform]:
        limits: Any = {"chat_limit": None, "group_limit": None, "overall_limit": None}
        with TelegramEmulator(**limits) as emulator:
            configured = telegram_tests.for_telegram(settings, emulator, monkeypatch)
            async with telegram_tests.serving(configured, emulator, clock) as served:  # type: ignore[arg-type]
                yield Telegram(served, emulator)

    return serve


@pytest.fixture
def on_whatsapp(
    settings: Settings, database_url: str, monkeypatch: pytest.MonkeyPatch, clock: RunningClock
) -> Serve:
    @asynccontextmanager
    async def serve() -> AsyncIterator[Platform]:
        with whatsapp_tests.unlimited_emulator(clock=clock) as emulator:
            configured = whatsapp_tests.for_whatsapp(settings, emulator, monkeypatch, database_url)
            async with whatsapp_tests.serving(configured, emulator, clock) as served:
                yield WhatsApp(served, emulator)

    return serve


@pytest.fixture
def on_zulip(
    settings: Settings, database_url: str, monkeypatch: pytest.MonkeyPatch, clock: RunningClock
) -> Serve:
    settings.database.url = database_url

    @asynccontextmanager
    async def serve() -> AsyncIterator[Platform]:
        with ZulipEmulator(rate_limit=None) as emulator:
            configured = zulip_tests.for_zulip(settings, emulator, monkeypatch)
            async with zulip_tests.serving(configured, emulator, clock) as served:  # type: ignore[arg-type]
                await until(lambda: emulator.long_polls >= 1, "the first long poll")
                yield Zulip(served, emulator)

    return serve


# The scenario, the same on every platform.


async def answer(platform: Platform, who: Any, answers: list[tuple[str, str]], done: str) -> None:
    """Answer each question `who` is asked with the first of `answers` whose fragment it
    holds (each used once, in order), until the bot says `done`."""
    start = len(platform.texts(who))
    for _ in range(30):
        said = platform.texts(who)
        if any(done in text for text in said[start:]):
            return
        last = said[-1]
        for fragment, reply in answers:
            if fragment in last:
                answers.remove((fragment, reply))
                await platform.say(who, reply)
                break
        else:
            raise AssertionError(f"unexpected on {platform.name}: {last!r}")
    raise AssertionError(f"never got to {done!r} on {platform.name}")


async def bea_mentors_and_manages(platform: Platform) -> None:
    bea = platform.bea
    await platform.command(bea, "help")
    async with platform.onramp.db.transaction() as session:
        found = await session.execute(select(Member).where(col(Member.display_name) == "Bea"))
        member = found.scalar_one()
        member.locale, member.timezone, member.roles = "en", "Europe/Paris", ["manager"]
    await platform.command(bea, "mentor", "signup")
    await answer(
        platform,
        bea,
        [
            ("What can you help newcomers with?", "2"),  # documentation
            ("Which languages", "1, 2"),
            ("How much have you contributed", "3"),
            ("When in your day", "4"),  # it varies
            ("How many mentees", "2"),
            ("A sentence or two about yourself", "I maintain the docs and love helping."),
        ],
        "You're all set as a mentor",
    )


async def she_uses_everything(platform: Platform, clock: RunningClock) -> int:
    """Her whole time in the community, with Bea; returns her member id."""
    her, bea = platform.her, platform.bea
    await platform.join()
    await answer(
        platform,
        her,
        [
            ("Which language", "English"),
            ("quick question about your data", "Yes, that's fine"),
            # Her own words where the onboarding takes words: a place it cannot find…
            ("Which time zone", f"the {MARK} valley, past the old mill"),
            ("", "Nairobi"),  # …whatever it says, then one it can
            ("What would you like to help with", "2"),
            ("occasional announcements", "Yes, please"),
            ("How much have you contributed", "A few times"),
            ("Where would you like to start", "I'm all set"),
            ("would you like a mentor", "Not right now"),
        ],
        "You're all set",
    )
    async with platform.onramp.db.reading() as session:
        found = await session.execute(select(Member).where(col(Member.display_name) == NAME))
        member: Member = found.scalar_one()
    member_id = member.id
    assert member_id is not None and member.timezone == "Africa/Nairobi"

    await platform.command(her, "mentor")
    assert any(NAME in text for text in platform.texts(bea)), "the offer names her"
    await platform.press(bea, "Accept")
    await platform.command(
        her, "kudos", f"{platform.mention(bea)} for reviewing the {MARK} glossary #docs"
    )
    await platform.command(
        bea, "kudos", f"{platform.mention(her)} for the {MARK} translation #translation"
    )
    assert any(f"the {MARK} translation" in text for text in platform.texts(her))

    clock.advance(days=3)  # the first check-in comes due
    await platform.before_due_work()
    while await platform.onramp.timers.tick():
        pass
    await platform.outbox_idle()
    assert "How is your mentorship with" in platform.texts(her)[-1]
    await answer(
        platform,
        her,
        [
            ("How is your mentorship with", "1"),  # not well: the managers are told
            ("", "1"),  # a note to add
            ("", f"Bea is kind but the {MARK} docs confuse me"),
        ],
        "Thanks for letting us know",
    )
    await platform.command(her, "feedback")
    await answer(
        platform,
        her,
        [
            ("How easy was it", "2"),
            ("anything we could do better", f"Explain the {MARK} workflow earlier, please."),
        ],
        "Thank you for helping us welcome",
    )
    await platform.command(her, "privacy")
    await platform.command(her, "privacy", "export")
    return member_id


async def she_erases_herself(platform: Platform) -> None:
    await platform.command(platform.her, "privacy", "erase ERASE")
    assert ERASED in platform.texts(platform.her)[-1]
    await platform.outbox_idle()  # the last message delivered: the sender has settled


# Searching.


async def everything(onramp: Onramp) -> list[tuple[str, dict[str, object]]]:
    rows = []
    async with onramp.db.reading() as session:
        for table in SQLModel.metadata.sorted_tables:
            for row in (await session.execute(select(table))).mappings():
                rows.append((table.name, dict(row)))
    return rows


def names_her(
    table: str, row: dict[str, object], member_id: int, ids: tuple[str, ...]
) -> list[str]:
    """Where `row` still names her: the marker or one of her platform ids in any value (also
    inside a WhatsApp message id, which encodes the number in base64), her member id in a
    column that refers to members, or under a key that names a member in a document."""
    found = []
    needles = [MARK.casefold(), *(i.casefold() for i in ids)]
    for column, value in row.items():
        text = json.dumps(value, default=str, ensure_ascii=False)
        plain = (text + " " + _decoded_wamids(text)).casefold()
        if any(needle in plain for needle in needles):
            found.append(f"{table}.{column}: {text[:160]}")
        fk = SQLModel.metadata.tables[table].c[column].foreign_keys
        if any(key.column.table.name == "member" for key in fk) and value == member_id:
            found.append(f"{table}.{column} = her member id")
        if isinstance(value, dict) and any(value.get(k) == member_id for k in MEMBER_KEYS):
            found.append(f"{table}.{column}: {text[:160]}")
    return found


def _decoded_wamids(text: str) -> str:
    decoded = []
    for wamid in re.findall(r"wamid\.([A-Za-z0-9+/=]+)", text):
        try:
            decoded.append(base64.b64decode(wamid).decode("latin-1"))
        except (binascii.Error, ValueError):
            continue
    return " ".join(decoded)


# The libraries `bot.logs.configure` keeps to their warnings whatever the level: at DEBUG,
# python-telegram-bot and slack-sdk log every call's parameters, which an operator never sees.
QUIET_LIBRARIES = NOISY_LIBRARIES


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """What the bot logged at DEBUG, as `bot.logs.configure` lets it through (libraries'
    warnings and above; the emulators' own servers aside: they are the platform)."""
    return "\n".join(
        f"{record.name} {record.getMessage()} {json.dumps(record.__dict__, default=str)}"
        for record in caplog.records
        if not record.name.startswith("tests.fakes")
        and not (_quiet(record.name) and record.levelno < logging.WARNING)
    )


def _quiet(logger: str) -> bool:
    return any(logger == name or logger.startswith(f"{name}.") for name in QUIET_LIBRARIES)


def _key(table: str, row: dict[str, object]) -> tuple[object, ...]:
    return (table, *(row[c.name] for c in SQLModel.metadata.tables[table].primary_key))


def others_untouched(
    before: list[tuple[str, dict[str, object]]],
    after: list[tuple[str, dict[str, object]]],
    member_id: int,
    ids: tuple[str, ...],
) -> list[str]:
    """Rows that held nothing of her before the erasure and that it rewrote as if they did
    (her words become "[…]", her name "a former member"): someone else's data damaged."""
    held = {_key(t, r): r for t, r in before if not names_her(t, r, member_id, ids)}
    damaged = []
    for table, row in after:
        was = held.get(_key(table, row))
        if was is None or was == row:
            continue
        for column, value in row.items():
            text = json.dumps(value, default=str, ensure_ascii=False)
            at = max(text.find("[…]"), text.find("former member"))
            if value != was[column] and at >= 0:
                damaged.append(f"{table}.{column} rewritten: …{text[max(0, at - 60) : at + 40]}…")
    return damaged


async def nothing_of_her_is_left(
    platform: Platform,
    member_id: int,
    caplog: pytest.LogCaptureFixture,
    before: list[tuple[str, dict[str, object]]],
) -> None:
    onramp = platform.onramp
    rows = await everything(onramp)
    left = [found for t, r in rows for found in names_her(t, r, member_id, platform.her_ids)]
    left += others_untouched(before, rows, member_id, platform.her_ids)
    text = logged(caplog).casefold()
    left += [f"the logs: {n!r}" for n in (MARK, *platform.her_ids) if n.casefold() in text]
    if onramp.db.sqlite:
        folder = Path(str(onramp.db.engine.url.database)).parent
        for path in sorted(folder.glob("*.db*")):
            if MARK.lower().encode() in path.read_bytes().lower():
                left.append(f"the file {path.name}")
    assert left == [], "\n".join(left)


async def run_everything(
    serve: Serve, clock: RunningClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with serve() as platform:
        await bea_mentors_and_manages(platform)
        member_id = await she_uses_everything(platform, clock)
        before = await everything(platform.onramp)
        everywhere = [t for t, r in before if names_her(t, r, member_id, platform.her_ids)]
        assert {"member", "identity", "kudos", "checkin", "outbox"} <= set(everywhere)

        await she_erases_herself(platform)
        await nothing_of_her_is_left(platform, member_id, caplog, before)


async def test_nothing_of_her_is_left_after_she_erases_herself_on_slack(
    on_slack: Serve, clock: RunningClock, caplog: pytest.LogCaptureFixture
) -> None:
    await run_everything(on_slack, clock, caplog)


async def test_nothing_of_her_is_left_after_she_erases_herself_on_telegram(
    on_telegram: Serve, clock: RunningClock, caplog: pytest.LogCaptureFixture
) -> None:
    await run_everything(on_telegram, clock, caplog)


async def test_nothing_of_her_is_left_after_she_erases_herself_on_whatsapp(
    on_whatsapp: Serve, clock: RunningClock, caplog: pytest.LogCaptureFixture
) -> None:
    await run_everything(on_whatsapp, clock, caplog)


async def test_nothing_of_her_is_left_after_she_erases_herself_on_zulip(
    on_zulip: Serve, clock: RunningClock, caplog: pytest.LogCaptureFixture
) -> None:
    await run_everything(on_zulip, clock, caplog)
