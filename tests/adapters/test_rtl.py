"""Right-to-left text on the wire: in Arabic, every value a template inserts (a Latin name, a
link) arrives between Unicode isolates (FSI … PDI), outside any link's address, so that it
neither scrambles the sentence nor breaks the link. Through the Telegram and WhatsApp
emulators, with tests/modes_content.py's onboarding; lite mode's wire options as well."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.blocks import unfurl_media
from bot.messages import OutgoingMessage
from bot.settings import Settings
from flows.text import render
from tests.adapters import test_telegram as telegram
from tests.adapters import test_whatsapp as whatsapp
from tests.fakes.telegram import TelegramEmulator
from tests.fakes.whatsapp import WhatsAppEmulator
from tests.modes_content import CODE_OF_CONDUCT, FIRST_TASKS, GUIDE, content_with

FSI, PDI = "\u2068", "\u2069"
HREF = re.compile(r'href="([^"]*)"')


def isolated(value: str) -> str:
    return f"{FSI}{value}{PDI}"


def test_a_right_to_left_text_isolates_each_value_and_keeps_link_addresses_clean() -> None:
    text = {
        "ar": "مرحبًا {{ member.name }}، لديك {{ count }} رسائل: [الدليل]({{ guide }}) `{{ c }}`",
        "en": "Hello {{ member.name }}, {{ count }} messages: [the guide]({{ guide }}) `{{ c }}`",
    }
    variables: dict[str, Any] = {
        "member": {"name": "Ada *Lovelace*"},
        "guide": GUIDE,
        "c": "/mentor accept 12",
        "count": 3,
    }
    arabic = render(text, "ar", "en", variables)
    name = isolated(r"Ada \*Lovelace\*")  # escaped as ever: member text stays text
    link = isolated(f"[الدليل]({GUIDE})")
    code = isolated("`/mentor accept 12`")  # copied without the isolates
    assert arabic == f"مرحبًا {name}، لديك {isolated('3')} رسائل: {link} {code}"
    # Left to right, or an Arabic member shown the English text: nothing added.
    assert FSI not in render(text, "en", "en", variables)
    assert FSI not in render({"en": text["en"]}, "ar", "en", variables)


@pytest.fixture
def arabic_settings(settings: Settings, tmp_path: Path) -> Settings:
    settings.content.path = content_with(tmp_path)  # which offers Arabic
    return settings


# Telegram: the member's app says Arabic.


@pytest.fixture
def telegram_emulator() -> Any:
    with telegram.unlimited_emulator() as emulator:
        yield emulator


async def test_telegram_delivers_isolated_names_and_links_in_arabic(
    arabic_settings: Settings, telegram_emulator: TelegramEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = telegram.for_telegram(arabic_settings, telegram_emulator, monkeypatch)
    async with telegram.serving(settings, telegram_emulator) as served:
        ada = telegram.Person(
            served, telegram_emulator.user(telegram.ADA, "Ada", language_code="ar")
        )
        await ada.say("/start")
        welcome, tip, question = ada.inbox()
        assert welcome["text"].startswith(f"مرحبًا {isolated('Ada')}! الدليل: {isolated(GUIDE)}")
        assert f'{FSI}<a href="{CODE_OF_CONDUCT}">قواعد السلوك</a>{PDI}' in welcome["text"]
        assert HREF.findall(welcome["text"]) == [CODE_OF_CONDUCT]  # no isolate in the address
        assert isolated(FIRST_TASKS) in tip["text"]
        assert question["reply_markup"]["inline_keyboard"][0][0]["text"] == "ليس بعد"

        await ada.say("/mode lite")
        assert "**" not in ada.inbox()[-2]["text"] and isolated("lite") in ada.inbox()[-2]["text"]
        asked = telegram_emulator.calls("sendMessage")[-1]  # the question, asked again
        assert "1. ليس بعد" in ada.inbox()[-1]["text"] and not asked.get("reply_markup")
        assert "link_preview_options" not in asked  # no link in it: nothing to turn off
        await ada.say("/restart")
        assert f"{FSI}قواعد السلوك 🔗2{PDI}" in ada.inbox()[-3]["text"]
        await ada.say("/links")
        links = telegram_emulator.calls("sendMessage")[-2]  # then the question again
        assert _decoded(links["link_preview_options"]) == {"is_disabled": True}
        assert ada.inbox()[-2]["text"].splitlines() == [
            f"🔗1 {GUIDE}",
            f"🔗2 {CODE_OF_CONDUCT}",
            f"🔗3 {FIRST_TASKS}",
        ]


def _decoded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


# WhatsApp: no language from the platform; the member chooses Arabic with /language.


@pytest.fixture
def whatsapp_emulator() -> Any:
    with whatsapp.unlimited_emulator() as emulator:
        emulator.user(whatsapp.ADA, "Ada Lovelace")
        yield emulator


async def test_whatsapp_delivers_isolated_names_and_links_in_arabic(
    arabic_settings: Settings, whatsapp_emulator: WhatsAppEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = whatsapp.for_whatsapp(arabic_settings, whatsapp_emulator, monkeypatch)
    async with whatsapp.serving(settings, whatsapp_emulator) as served:
        ada = whatsapp.Person(served, whatsapp.ADA)
        await ada.say("/language ar")
        before = len(ada.inbox())
        await ada.say("/restart")
        welcome, tip, question = ada.inbox()[before:]
        body = whatsapp.shown(welcome)
        assert body.startswith(f"مرحبًا {isolated('Ada Lovelace')}! الدليل: {isolated(GUIDE)}")
        # WhatsApp has no link markup: the address, whole, inside the link's isolates.
        assert f"{FSI}قواعد السلوك ({CODE_OF_CONDUCT}){PDI}" in body
        assert welcome.body["text"]["preview_url"] is False
        assert isolated(FIRST_TASKS) in whatsapp.shown(tip)
        assert [title for title, _ in whatsapp.interactive(question)] == [
            "ليس بعد",
            "قليلًا",
            "كثيرًا",
        ]

        await ada.say("/mode text")
        asked = ada.inbox()[-1]
        assert asked.type == "text" and "1. ليس بعد\n2. قليلًا\n3. كثيرًا" in whatsapp.shown(asked)
        await ada.say("2")
        assert whatsapp.shown(ada.inbox()[-2]).startswith("كل شيء جاهز يا")


def test_slack_turns_media_previews_off_in_lite_mode() -> None:
    message = OutgoingMessage(platform="slack", recipient="U1", text="hi")
    assert unfurl_media(replace(message, text=GUIDE)) is None  # Slack's default: on
    lite = OutgoingMessage(platform="slack", recipient="U1", text="hi", mode="lite")
    assert unfurl_media(lite) is None  # no link: nothing to turn off
    assert unfurl_media(replace(lite, text=f"🔗1 {GUIDE}")) is False
