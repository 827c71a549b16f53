"""/privacy export as a file in the member's direct message, on each platform that carries
files, through the real SDKs and the platforms' emulators: the file is the member's export,
its outbox row goes once it is delivered or given up on, a failed upload is retried as any
message is, and an export bigger than the platform takes is a one-time link instead."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest

from bot.adapter import Adapter
from bot.settings import Settings
from storage.models import Outbox
from tests.support import serving as harness

LINK = re.compile(r"/privacy/export/[A-Za-z0-9_.\-]+")


def fast_retries(settings: Settings, attempts: int = 8) -> Settings:
    """Retries after a failed upload come at once (the policy is the same, only quicker)."""
    settings.sender.backoff_seconds = 0.01
    settings.sender.max_backoff_seconds = 0.05
    settings.sender.max_attempts = attempts
    return settings


def with_web(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A web app that hands out download links (the fallback)."""
    monkeypatch.setenv("ONRAMP_SECRET_KEY", "a test secret")
    settings.web.public_url = "https://bot.example.org"
    return settings


def limit(adapter: Adapter, largest: int) -> None:
    """The platform takes files of at most `largest` bytes (a test's tiny limit)."""
    adapter.capabilities = replace(adapter.capabilities, max_document_bytes=largest)


def the_export(content: bytes, name: str) -> dict[str, Any]:
    """The file's content, read back as the member would: their export, with their name and
    the time zone they answered in the onboarding."""
    document = json.loads(content.decode("utf-8"))
    assert document["member"]["display_name"].startswith(name)
    assert document["member"]["timezone"] == "America/Lima"
    assert any("Lima" in json.dumps(answer) for answer in document["answer"])
    return document


async def no_document_left(served: harness.Served[Any, Any]) -> None:
    """Nothing of the export stays in the outbox: its row went with its delivery."""
    await served.outbox_idle()
    rows: list[Outbox] = await served.outbox()
    assert [row for row in rows if "document" in row.payload] == []
    assert not any("delete_once_settled" in row.payload for row in rows)


# Telegram ---------------------------------------------------------------------------------


def telegram(settings: Settings, monkeypatch: pytest.MonkeyPatch, **emulator: Any) -> Any:
    from tests.adapters import test_telegram as tg

    made = tg.TelegramEmulator(chat_limit=None, group_limit=None, overall_limit=None, **emulator)
    return tg, made, tg.for_telegram(fast_retries(settings), made, monkeypatch)


async def onboarded_on_telegram(tg: Any, served: Any) -> Any:
    ada = tg.Person(served, served.emulator.user(tg.ADA, "Ada", language_code="en"))
    await ada.say("/start")
    await ada.tap("c:consent:yes")
    await ada.say("Lima")
    return ada


async def test_telegram_sends_the_export_as_a_json_file(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    tg, emulator, settings = telegram(settings, monkeypatch)
    with emulator:
        async with tg.serving(settings, emulator) as served:
            ada = await onboarded_on_telegram(tg, served)
            await ada.say("/privacy export")
            await no_document_left(served)
            [sent] = [message for message in ada.inbox() if "document" in message]
            assert "JSON file" in sent["caption"]
            assert sent["document"]["file_name"].startswith("onramp-data-")
            upload = emulator.document_of(sent)
            assert upload.filename == sent["document"]["file_name"]
            assert upload.media_type == "application/json"
            the_export(upload.content, "Ada")
            [call] = emulator.calls("sendDocument")
            assert call["chat_id"] == tg.ADA and call["parse_mode"] == "HTML"


async def test_telegram_retries_a_failed_upload_and_gives_up_without_keeping_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    tg, emulator, settings = telegram(settings, monkeypatch)
    with emulator:
        async with tg.serving(settings, emulator) as served:
            ada = await onboarded_on_telegram(tg, served)
            emulator.fail("sendDocument", 502, times=2)  # then it goes through
            await ada.say("/privacy export")
            await no_document_left(served)
            assert len(emulator.calls("sendDocument")) == 3
            [sent] = [message for message in ada.inbox() if "document" in message]
            the_export(emulator.document_of(sent).content, "Ada")

            emulator.fail("sendDocument", 502, times=100)  # down for longer than the retries
            settings.sender.max_attempts = 2
            await ada.say("/privacy export")
            await no_document_left(served)
            assert len(emulator.calls("sendDocument")) == 3 + 2
            assert len([m for m in ada.inbox() if "document" in m]) == 1
            emulator.faults.clear()


async def test_telegram_links_an_export_bigger_than_it_takes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    tg, emulator, settings = telegram(with_web(settings, monkeypatch), monkeypatch)
    with emulator:
        async with tg.serving(settings, emulator) as served:
            ada = await onboarded_on_telegram(tg, served)
            limit(served.adapter, 100)
            await ada.say("/privacy export")
            await no_document_left(served)
            assert emulator.calls("sendDocument") == []
            [said] = [m["text"] for m in ada.inbox() if "works once" in m.get("text", "")]
            assert LINK.search(said), said


# Slack ------------------------------------------------------------------------------------


def slack_up(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, **emulator: Any
) -> tuple[Any, Any, Settings]:
    from tests.adapters import test_slack as sl

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", sl.SECRET)
    made = sl.SlackEmulator(channel_limit=None, **emulator)
    settings = sl.configure(settings, made)
    fast_retries(settings)
    return sl, made, settings


def sl_user(bot: Any) -> dict[str, Any]:
    return dict(bot.slack._users["U0ADA00001"])


async def slack_export(sl: Any, bot: Any) -> None:
    """Ada types /privacy export in her DM with the bot."""
    await bot.post(sl.event_callback(sl.im_message(sl.ADA, "/privacy export")))


def slack_files(slack: Any) -> list[dict[str, Any]]:
    from tests.adapters import test_slack as sl

    return [message for message in slack.messages_to(sl.ADA) if "files" in message]


async def test_slack_shares_the_export_as_a_json_file(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sl, emulator, settings = slack_up(settings, monkeypatch)
    with emulator:
        sl.people(emulator)
        async with sl.running(settings, emulator) as bot:
            await onboarded(sl, bot)
            await slack_export(sl, bot)
            served = harness.Served(bot.onramp, bot.adapter, emulator)
            await until_true(lambda: slack_files(emulator))
            await no_document_left(served)
            [shared] = slack_files(emulator)
            assert "JSON file" in shared["text"]
            upload = emulator.file_of(shared)
            assert upload.filename.startswith("onramp-data-") and upload.filename.endswith(".json")
            the_export(upload.content, "Ada")
            [completed] = emulator.calls("files.completeUploadExternal")
            assert completed["channel_id"] == sl.dm_channel_id(sl.ADA)
            assert [f["id"] for f in json.loads(completed["files"])] == [shared["files"][0]["id"]]


async def onboarded(sl: Any, bot: Any) -> None:
    joined = await bot.post(sl.event_callback(sl.team_join(sl_user(bot))))
    assert joined.status_code == 200
    _, consent = await bot.messages(sl.ADA, 2)
    await bot.press(sl.ADA, consent, "Yes, that's fine")
    await bot.messages(sl.ADA, 3)
    await bot.post(sl.event_callback(sl.im_message(sl.ADA, "Lima")))
    await bot.messages(sl.ADA, 4)


async def until_true(probe: Any) -> None:
    from tests.support.waiting import until

    await until(lambda: bool(probe()), "the file")


async def test_slack_retries_a_failed_upload_and_gives_up_without_keeping_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes.server import Fault

    sl, emulator, settings = slack_up(settings, monkeypatch)
    with emulator:
        sl.people(emulator)
        async with sl.running(settings, emulator) as bot:
            served = harness.Served(bot.onramp, bot.adapter, emulator)
            await onboarded(sl, bot)
            emulator.failing_uploads = 1  # the upload URL fails once,
            emulator.faults.add(Fault(status=503, path="files.completeUploadExternal"))  # then this
            await slack_export(sl, bot)
            await until_true(lambda: slack_files(emulator))
            await no_document_left(served)
            the_export(emulator.file_of(slack_files(emulator)[0]).content, "Ada")
            assert len(emulator.calls("files.getUploadURLExternal")) == 3  # the third went

            settings.sender.max_attempts = 2
            emulator.faults.add(Fault(status=500, path="files.getUploadURLExternal", times=100))
            before = len(emulator.calls("files.getUploadURLExternal"))
            await slack_export(sl, bot)
            await until_true(
                lambda: len(emulator.calls("files.getUploadURLExternal")) >= before + 2
            )
            await no_document_left(served)
            assert len(emulator.calls("files.getUploadURLExternal")) == before + 2
            assert len(slack_files(emulator)) == 1
            emulator.faults.clear()


async def test_slack_links_an_export_bigger_than_it_takes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sl, emulator, settings = slack_up(with_web(settings, monkeypatch), monkeypatch)
    with emulator:
        sl.people(emulator)
        async with sl.running(settings, emulator) as bot:
            served = harness.Served(bot.onramp, bot.adapter, emulator)
            await onboarded(sl, bot)
            limit(bot.adapter, 100)
            await slack_export(sl, bot)
            await until_true(
                lambda: [m for m in emulator.messages_to(sl.ADA) if "works once" in m["text"]]
            )
            await no_document_left(served)
            assert emulator.calls("files.getUploadURLExternal") == []
            [said] = [m["text"] for m in emulator.messages_to(sl.ADA) if "works once" in m["text"]]
            assert LINK.search(said), said


# Zulip ------------------------------------------------------------------------------------


def zulip_up(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, mode: str = "events", **emulator: Any
) -> tuple[Any, Any, Settings]:
    from tests.adapters import test_zulip as zu

    made = zu.ZulipEmulator(rate_limit=None, **emulator)
    return zu, made, zu.for_zulip(fast_retries(settings), made, monkeypatch, mode)


async def onboarded_on_zulip(zu: Any, served: Any) -> Any:
    from tests.support.waiting import until

    await until(lambda: served.emulator.long_polls == 1, "the first long poll")
    ada = zu.Person(served, served.emulator.user_joins("Ada Lovelace", timezone="America/Lima"))
    await served.settled(f"zulip:realm_user:{ada.id}")
    await ada.say("english")
    await ada.say("1")
    await ada.say("Lima")
    return ada


def zulip_files(emulator: Any, ada: Any) -> list[dict[str, Any]]:
    return [m for m in emulator.messages_to(ada.id) if "/user_uploads/" in m["content"]]


@pytest.mark.parametrize("feature_level", [334, 200])  # Zulip 10; before 9.0 only `uri`
async def test_zulip_uploads_the_export_and_links_it_in_a_direct_message(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, feature_level: int
) -> None:
    zu, emulator, settings = zulip_up(settings, monkeypatch, feature_level=feature_level)
    with emulator:
        async with zu.serving(settings, emulator) as served:
            ada = await onboarded_on_zulip(zu, served)
            await ada.say("/privacy export")
            await no_document_left(served)
            [sent] = zulip_files(emulator, ada)
            assert "JSON file" in sent["content"]
            assert "[onramp-data-" in sent["content"]
            upload = emulator.upload_linked(sent)
            assert upload.filename.startswith("onramp-data-") and upload.filename.endswith(".json")
            the_export(upload.content, "Ada")
            [call] = emulator.calls("user_uploads")
            assert call["_files"][0].filename == upload.filename  # multipart, one file


async def test_zulip_retries_a_failed_upload_and_gives_up_without_keeping_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    zu, emulator, settings = zulip_up(settings, monkeypatch)
    with emulator:
        async with zu.serving(settings, emulator) as served:
            ada = await onboarded_on_zulip(zu, served)
            emulator.fail("user_uploads", 502, times=2)
            await ada.say("/privacy export")
            await no_document_left(served)
            assert len(emulator.calls("user_uploads")) == 3
            [sent] = zulip_files(emulator, ada)
            the_export(emulator.upload_linked(sent).content, "Ada")

            settings.sender.max_attempts = 2
            emulator.fail("user_uploads", 502, times=100)
            await ada.say("/privacy export")
            await no_document_left(served)
            assert len(emulator.calls("user_uploads")) == 3 + 2
            assert len(zulip_files(emulator, ada)) == 1
            emulator.faults.clear()


async def test_zulip_links_an_export_bigger_than_the_server_takes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    zu, emulator, settings = zulip_up(settings, monkeypatch)
    settings = with_web(settings, monkeypatch)
    settings.web.enabled = "always"  # the event queue needs none; the download link does
    with emulator:
        async with zu.serving(settings, emulator) as served:
            assert served.adapter.capabilities.max_document_bytes == 25 * 1024 * 1024
            ada = await onboarded_on_zulip(zu, served)
            limit(served.adapter, 100)
            await ada.say("/privacy export")
            await no_document_left(served)
            assert emulator.calls("user_uploads") == []
            [said] = [m for m in ada.inbox() if "works once" in m]
            assert LINK.search(said), said


async def test_zulip_webhook_answers_with_the_link_to_the_upload(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.adapters import test_zulip_webhook as zw

    zu, emulator, settings = zulip_up(settings, monkeypatch, mode="webhook")
    settings.zulip.max_upload_mib = 1
    with emulator:
        async with zu.serving(settings, emulator) as served:
            assert served.adapter.capabilities.max_document_bytes == 1024 * 1024
            ada = zw.Writer(served, emulator.add_user("Ada Lovelace"))
            await ada.say("hi!")
            await ada.say("english")
            await ada.say("1")
            await ada.say("Lima")
            answer = await ada.say("/privacy export")
            await no_document_left(served)
            found = re.search(r"\((/user_uploads/[^)]+)\)", json.dumps(answer))
            assert found is not None, answer
            the_export(emulator.uploads[found[1]].content, "Ada")


# WhatsApp ---------------------------------------------------------------------------------


def whatsapp_up(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any, Settings]:
    from tests.adapters import test_whatsapp as wa

    made = wa.unlimited_emulator()
    made.user(wa.ADA, "Ada Lovelace")
    return wa, made, wa.for_whatsapp(fast_retries(settings), made, monkeypatch)


async def onboarded_on_whatsapp(wa: Any, served: Any) -> Any:
    ada = wa.Person(served, wa.ADA)
    await ada.say("Hi!")
    await ada.tap("English")
    await ada.tap("Yes, that's fine")
    await ada.say("Lima")
    return ada


def whatsapp_files(ada: Any) -> list[Any]:
    return [sent for sent in ada.inbox() if sent.type == "document"]


async def test_whatsapp_uploads_the_export_and_sends_it_as_a_document(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    wa, emulator, settings = whatsapp_up(settings, monkeypatch)
    with emulator:
        async with wa.serving(settings, emulator) as served:
            ada = await onboarded_on_whatsapp(wa, served)
            await ada.say("/privacy export")
            await no_document_left(served)
            [sent] = whatsapp_files(ada)
            assert "JSON file" in sent.body["document"]["caption"]
            name = sent.body["document"]["filename"]
            assert name.startswith("onramp-data-") and name.endswith(".json")
            upload = emulator.document_of(sent)
            assert upload.filename == name and upload.media_type == "text/plain"
            the_export(upload.content, "Ada")
            [form] = emulator.uploads()
            assert form["messaging_product"] == "whatsapp" and form["type"] == "text/plain"


async def test_whatsapp_retries_a_failed_upload_and_gives_up_without_keeping_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes.server import Fault

    wa, emulator, settings = whatsapp_up(settings, monkeypatch)
    media = f"/{settings.whatsapp.api_version}/{emulator.phone_number_id}/media"
    error = {"error": {"message": "Service temporarily unavailable", "code": 2}}
    with emulator:
        async with wa.serving(settings, emulator) as served:
            ada = await onboarded_on_whatsapp(wa, served)
            emulator.faults.add(Fault(status=503, body=error, path=media, times=2))
            await ada.say("/privacy export")
            await no_document_left(served)
            assert len(emulator.uploads()) == 3
            [sent] = whatsapp_files(ada)
            the_export(emulator.document_of(sent).content, "Ada")

            settings.sender.max_attempts = 2
            emulator.faults.add(Fault(status=503, body=error, path=media, times=100))
            await ada.say("/privacy export")
            await no_document_left(served)
            assert len(emulator.uploads()) == 3 + 2
            assert len(whatsapp_files(ada)) == 1
            emulator.faults.clear()


async def test_whatsapp_links_an_export_bigger_than_it_takes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    wa, emulator, settings = whatsapp_up(settings, monkeypatch)
    settings = with_web(settings, monkeypatch)
    with emulator:
        async with wa.serving(settings, emulator) as served:
            ada = await onboarded_on_whatsapp(wa, served)
            limit(served.adapter, 100)
            await ada.say("/privacy export")
            await no_document_left(served)
            assert emulator.uploads() == []
            said = [wa.shown(s) for s in ada.inbox() if s.type == "text"]
            [link] = [text for text in said if "works once" in text]
            assert LINK.search(link), link
