"""What Zulip messages and joins mean to the core (adapters/zulip/events.py), how replies are
written in Zulip's Markdown, and what the adapter needs to start. Payloads are built by the
Zulip emulator, in the shapes of Zulip's API documentation."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.zulip.adapter import ZulipAdapter, _content
from adapters.zulip.api import ZulipConfigError
from adapters.zulip.events import BotUser, Malformed, read_event, read_message
from bot.events import CommandInvoked, MemberJoined, MessageReceived, UnsupportedReceived
from bot.messages import Choice, OutgoingMessage
from bot.settings import Secrets, Settings, ZulipSettings
from tests.fakes.zulip import ZulipEmulator

JSON = dict[str, Any]
BOT = BotUser(9, "Onramp", "onramp-bot@zulip.example.org")


@pytest.fixture(scope="module")
def zulip() -> Iterator[ZulipEmulator]:
    """Only its builders are used here."""
    with ZulipEmulator() as emulator:
        yield emulator


def _one(reading: Any) -> Any:
    [event] = reading.events
    return event


def test_a_direct_message_is_text_or_a_typed_command(zulip: ZulipEmulator) -> None:
    ada = zulip.add_user("Ada Lovelace")
    text = _one(read_message(zulip.dm_from(ada, "  Lima "), BOT))
    assert isinstance(text, MessageReceived)
    assert (text.text, text.actor, text.conversation, text.private) == (
        "Lima",
        str(ada["user_id"]),
        str(ada["user_id"]),
        True,
    )
    assert text.display_name == "Ada Lovelace" and text.platform == "zulip"
    assert text.dedupe_key.startswith("zulip:message:")

    command = _one(read_message(zulip.dm_from(ada, "/language fr"), BOT))
    assert isinstance(command, CommandInvoked) and (command.name, command.args) == (
        "language",
        "fr",
    )
    called = _one(read_message(zulip.dm_from(ada, "@**Onramp** /help"), BOT))
    assert isinstance(called, CommandInvoked) and called.name == "help"
    assert read_message(zulip.dm_from(ada, "hi"), BOT).direct


def test_in_a_channel_only_a_mention_of_the_bot_is_a_command(zulip: ZulipEmulator) -> None:
    bea = zulip.add_user("Bea")

    def read(text: str, mention: bool = True) -> Any:
        return read_message(
            zulip.stream_message(bea, "general", "hi", text, mention_bot=mention), BOT
        )

    onboard = _one(read("onboard"))
    assert isinstance(onboard, CommandInvoked) and (onboard.name, onboard.args) == ("onboard", "")
    assert onboard.private is False and onboard.conversation.startswith("stream:")
    assert _one(read("language  fr")).args == "fr"
    assert _one(read("/language fr")).name == "language"
    assert _one(read("")).name == "help"  # the mention alone
    renamed = _one(read("@**Old name|9** start", mention=False))
    assert renamed.name == "start"
    for ignored in ("onboard", "@**all** onboard", "@_**Onramp** onboard", "@**Onramp2** go"):
        reading = read(ignored, mention=False)
        assert reading.events == () and reading.ignored, ignored
    assert read("what's this?").events == ()  # not a command
    assert not read("onboard").direct


def test_a_group_dm_counts_only_commands(zulip: ZulipEmulator) -> None:
    ada, bea = zulip.add_user("Ada"), zulip.add_user("Bea")
    assert read_message(zulip.group_dm_from(ada, [bea], "lunch?"), BOT).events == ()
    help_ = _one(read_message(zulip.group_dm_from(ada, [bea], "/help"), BOT))
    assert isinstance(help_, CommandInvoked) and help_.private is False
    assert help_.conversation.startswith("group:")


def test_mentions_of_people_reach_the_core_in_its_own_form(zulip: ZulipEmulator) -> None:
    ada, bea = zulip.add_user("Ada Lovelace"), zulip.add_user("Bea Bianchi")
    bea_link = f"[Bea Bianchi](member:{bea['user_id']})"
    with_id, silent = f"@**Bea Bianchi|{bea['user_id']}**", f"@_**Bea Bianchi|{bea['user_id']}**"

    kudos = _one(read_message(zulip.dm_from(ada, f"/kudos {with_id} for the docs #docs"), BOT))
    assert isinstance(kudos, CommandInvoked) and kudos.name == "kudos"
    assert kudos.args == f"{bea_link} for the docs #docs"
    assert kudos.username is None
    thanks = _one(read_message(zulip.dm_from(ada, f"thanks {silent}!"), BOT))
    assert isinstance(thanks, MessageReceived) and thanks.text == f"thanks {bea_link}!"
    in_channel = zulip.stream_message(ada, "general", "docs", f"kudos {with_id} for reviews")
    assert _one(read_message(in_channel, BOT)).args == f"{bea_link} for reviews"
    in_group = zulip.group_dm_from(ada, [bea], f"/kudos {silent} thanks")
    assert _one(read_message(in_group, BOT)).args == f"{bea_link} thanks"


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("@**Bea Bianchi|12** and @_**Cy|13**", "[Bea Bianchi](member:12) and [Cy](member:13)"),
        ("@**|12**, @_**|13**", "[12](member:12), [13](member:13)"),  # the id alone
        ("(@**Bea Bianchi**) and @_**Cy**", '(@"Bea Bianchi") and @Cy'),  # to look up
        ("@*mentors* @_*support team*", "@*mentors* @_*support team*"),  # groups
        ("@**all** @_**everyone** @**topic**", "@**all** @_**everyone** @**topic**"),
        ("ada@**Bea**, **bold** @ **x**", "ada@**Bea**, **bold** @ **x**"),  # no mentions
    ],
)
def test_zulip_mention_syntax_in_a_direct_message(
    zulip: ZulipEmulator, typed: str, meant: str
) -> None:
    ada = zulip.add_user("Ada Lovelace")
    assert _one(read_message(zulip.dm_from(ada, typed), BOT)).text == meant


def test_what_the_bot_cannot_read_is_unsupported_by_kind(zulip: ZulipEmulator) -> None:
    ada = zulip.add_user("Ada")
    kinds = {
        "screenshot.PNG": "image",
        "talk.mp4": "video",
        "note.ogg": "audio",
        "slides.pdf": "file",
    }
    for filename, kind in kinds.items():
        event = _one(read_message(zulip.upload_from(ada, filename), BOT))
        assert isinstance(event, UnsupportedReceived) and event.kind == kind
    captioned = _one(read_message(zulip.upload_from(ada, "a.png", caption="Lima"), BOT))
    assert isinstance(captioned, MessageReceived)  # text with it: the text is read
    assert _one(read_message(zulip.poll_from(ada, "Lunch?"), BOT)).kind == "poll"
    assert _one(read_message(zulip.dm_from(ada, "/me waves"), BOT)).kind == "me_message"
    assert read_message(zulip.dm_from(ada, "   "), BOT).events == ()


def test_joins_and_what_is_not_for_the_core(zulip: ZulipEmulator) -> None:
    person = zulip.add_user("Cy")
    joined = _one(read_event({"type": "realm_user", "op": "add", "person": person, "id": 3}, BOT))
    assert isinstance(joined, MemberJoined)
    assert (joined.dedupe_key, joined.conversation, joined.can_dm, joined.display_name) == (
        f"zulip:realm_user:{person['user_id']}",
        str(person["user_id"]),
        True,
        "Cy",
    )
    bot = {**person, "is_bot": True}
    for event in (
        {"type": "realm_user", "op": "add", "person": bot},
        {"type": "realm_user", "op": "update", "person": person},
        {"type": "presence", "user_id": 5},
        {"type": "message", "message": {**zulip.dm_from(person, "hi"), "sender_id": BOT.user_id}},
    ):
        assert read_event(event, BOT).events == (), event


@pytest.mark.parametrize(
    "event",
    [
        {"type": "message"},
        {
            "type": "message",
            "message": {"id": "7", "sender_id": 1, "content": "", "type": "private"},
        },
        {"type": "message", "message": {"id": 7, "sender_id": 1, "content": "x", "type": "wall"}},
        {"type": "message", "message": {"id": 7, "sender_id": 1, "content": "x", "type": "stream"}},
        {
            "type": "message",
            "message": {"id": 7, "sender_id": 1, "content": "x", "type": "private"},
        },
        {"type": "realm_user", "op": "add", "person": {"user_id": True, "full_name": "x"}},
        {"type": "realm_user", "op": "add"},
    ],
)
def test_a_malformed_event_is_refused(event: JSON) -> None:
    with pytest.raises(Malformed):
        read_event(event, BOT)


def test_replies_are_written_in_zulips_markdown() -> None:
    def content(text: str, **fields: Any) -> str:
        return _content(OutgoingMessage(platform="zulip", recipient="7", text=text, **fields))

    assert content("**Hello** _there_, see [the guide](https://example.org/g) or `/help`") == (
        "**Hello** *there*, see [the guide](https://example.org/g) or `/help`"
    )
    assert content("<https://example.org>") == "https://example.org"
    assert (
        content(
            "Pick one",
            choices=(Choice("a", "Alpha"), Choice("b", "Beta")),
            answer_hint=("Reply with a number."),
        )
        == "Pick one\n\n1. Alpha\n2. Beta\n\n*Reply with a number.*"
    )
    assert content("`SELECT *` from C:\\temp") == "`SELECT *` from C:\\temp"
    long = content("x" * 20_000)
    assert len(long) == 10_000 and long.endswith("…")


def _secrets(**values: str) -> Secrets:
    return Secrets(
        zulip_email=values.get("email"),
        zulip_api_key=SecretStr(values["key"]) if "key" in values else None,
        zulip_site=values.get("site"),
        zulip_webhook_token=SecretStr(values["token"]) if "token" in values else None,
    )


def test_configuration_names_what_is_missing(tmp_path: Path) -> None:
    settings = Settings()
    full = {"email": "bot@zulip.example.org", "key": "k" * 32, "site": "https://z.example.org"}
    assert ZulipAdapter.configured(settings, _secrets(**full))
    assert not ZulipAdapter.configured(settings, _secrets(email=full["email"], key=full["key"]))
    for missing, variable in (
        ("email", "ZULIP_EMAIL"),
        ("key", "ZULIP_API_KEY"),
        ("site", "ZULIP_SITE"),
    ):
        given = {k: v for k, v in full.items() if k != missing}
        with pytest.raises(ZulipConfigError, match=variable):
            ZulipAdapter(settings, _secrets(**given))
    with pytest.raises(ZulipConfigError, match="ZULIP_WEBHOOK_TOKEN"):
        ZulipAdapter(Settings(zulip=ZulipSettings(mode="webhook")), _secrets(**full))

    site_setting = Settings(zulip=ZulipSettings(site="https://z.example.org"))
    assert ZulipAdapter.configured(site_setting, _secrets(email=full["email"], key=full["key"]))
    zuliprc = tmp_path / "zuliprc"
    with_zuliprc = Settings(zulip=ZulipSettings(zuliprc=zuliprc))
    assert ZulipAdapter.configured(with_zuliprc, _secrets())
    with pytest.raises(ZulipConfigError, match="not a file"):
        ZulipAdapter(with_zuliprc, _secrets())


async def test_a_zuliprc_works_and_refused_credentials_stop_the_start(tmp_path: Path) -> None:
    with ZulipEmulator() as zulip:
        zuliprc = tmp_path / "zuliprc"
        zuliprc.write_text(f"[api]\nemail={zulip.email}\nkey={zulip.api_key}\nsite={zulip.url}\n")
        adapter = ZulipAdapter(Settings(zulip=ZulipSettings(zuliprc=zuliprc)), _secrets())
        await adapter.start(_nobody)
        assert adapter.ready()
        await adapter.stop()

        wrong = _secrets(email=zulip.email, key="wrong", site=zulip.url)
        with pytest.raises(ZulipConfigError, match="Zulip refused ZULIP_EMAIL and ZULIP_API_KEY"):
            await ZulipAdapter(Settings(), wrong).start(_nobody)
        zuliprc.write_text("[api]\nsite=https://z.example.org\n")
        with pytest.raises(ZulipConfigError, match="zuliprc"):
            await ZulipAdapter(Settings(zulip=ZulipSettings(zuliprc=zuliprc)), _secrets()).start(
                _nobody
            )


async def test_an_unreachable_server_is_retried_and_not_ready_meanwhile() -> None:
    zulip = ZulipEmulator()  # its port is taken, but nothing answers yet
    secrets = _secrets(email=zulip.email, key=zulip.api_key, site=zulip.url)
    adapter = ZulipAdapter(Settings(), secrets)
    await adapter.start(_nobody)
    try:
        assert not adapter.ready()
        with zulip:
            async with asyncio.timeout(10):
                while not adapter.ready():  # noqa: ASYNC110  (the adapter retries on its own)
                    await asyncio.sleep(0.05)
    finally:
        await adapter.stop()


async def _nobody(event: Any) -> Any:
    raise AssertionError(f"no event expected, got {event}")
