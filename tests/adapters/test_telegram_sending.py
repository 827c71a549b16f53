"""How the Telegram adapter sends: HTML, buttons and how they degrade, deep links, the errors
the sender acts on, the limits it keeps to, the command menu, and its configuration."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.telegram.adapter import TelegramAdapter, TelegramConfigError
from bot.adapter import CommandInfo, DeliveryError, RateLimit
from bot.events import Event
from bot.messages import Choice, Invite, OutgoingMessage
from bot.settings import Secrets, Settings, TelegramSettings
from tests.adapters.test_telegram import (
    ADA,
    GRACE,
    GROUP,
    SECRET,
    for_telegram,
    unlimited_emulator,
    until,
)
from tests.fakes.server import Fault, RateLimiter
from tests.fakes.telegram import TelegramEmulator

JSON = dict[str, Any]


@pytest.fixture
def emulator() -> Iterator[TelegramEmulator]:
    with unlimited_emulator() as emulator:
        emulator.unstarted_users.discard(ADA)
        yield emulator


@pytest.fixture
def polling(
    settings: Settings, emulator: TelegramEmulator, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    return for_telegram(settings, emulator, monkeypatch, mode="polling")


async def _nothing(event: Event) -> Any:
    raise AssertionError("no events in these tests")


@pytest.fixture
async def adapter(polling: Settings) -> AsyncIterator[TelegramAdapter]:
    adapter = TelegramAdapter(polling)
    await adapter.start(_nothing)
    try:
        yield adapter
    finally:
        await adapter.stop()


def _message(text: str = "Hello", recipient: int = ADA, **fields: Any) -> OutgoingMessage:
    return OutgoingMessage(platform="telegram", recipient=str(recipient), text=text, **fields)


def _choices(count: int) -> tuple[Choice, ...]:
    return tuple(Choice(f"c{n}", f"Option {n}") for n in range(1, count + 1))


def _keyboard(message: JSON) -> list[list[JSON]]:
    return list(message.get("reply_markup", {}).get("inline_keyboard", []))


async def test_text_goes_as_telegram_html(
    adapter: TelegramAdapter, emulator: TelegramEmulator
) -> None:
    sent = await adapter.send(_message("**Hi** <you> & [the guide](https://x.org/a?b=1&c=2)\n*ok*"))
    [call] = emulator.calls("sendMessage")
    assert call["parse_mode"] == "HTML"
    assert call["text"] == (
        '<b>Hi</b> &lt;you&gt; &amp; <a href="https://x.org/a?b=1&amp;c=2">the guide</a>\n<i>ok</i>'
    )
    assert sent == str(emulator.messages_to(ADA)[0]["message_id"])


async def test_choices_are_buttons_up_to_ten_then_numbered_text(
    adapter: TelegramAdapter, emulator: TelegramEmulator
) -> None:
    await adapter.send(_message("Pick", choices=_choices(10), step_id="pick", answer_hint="Hint"))
    await adapter.send(_message("Pick", choices=_choices(11), step_id="pick", answer_hint="Hint"))
    await adapter.send(_message("Several", choices=_choices(10), step_id="s", multiple=True))
    await adapter.send(_message("No step", choices=_choices(2)))
    buttons, numbered, several, unknown_step = emulator.messages_to(ADA)

    assert [row[0]["callback_data"] for row in _keyboard(buttons)] == [
        f"c:pick:c{n}" for n in range(1, 11)
    ]
    assert all(len(row) == 1 for row in _keyboard(buttons))
    assert buttons["text"] == "Pick"
    assert _keyboard(numbered) == []
    assert (
        numbered["text"]
        == "Pick\n\n" + "\n".join(f"{n}. Option {n}" for n in range(1, 12)) + "\n\n<i>Hint</i>"
    )
    assert _keyboard(several) == [] and "10. Option 10" in several["text"]  # 10 + "done" > 10
    assert _keyboard(unknown_step) == [] and "2. Option 2" in unknown_step["text"]


async def test_the_longest_ids_fit_telegrams_64_bytes(
    adapter: TelegramAdapter, emulator: TelegramEmulator
) -> None:
    step, choice = "s" * 32, "c" * 24  # the longest flows/schema.py allows
    await adapter.send(_message(choices=(Choice(choice, "Yes"),), step_id=step, multiple=True))
    [[toggle], [done]] = _keyboard(emulator.messages_to(ADA)[0])
    assert toggle["callback_data"] == f"+:{step}:{choice}"
    assert len(toggle["callback_data"].encode()) == 59
    assert (done["text"], done["callback_data"]) == ("OK ✔️", f"=:{step}")  # no submit_label


async def test_an_invite_is_a_deep_link_whose_payload_telegram_accepts(
    adapter: TelegramAdapter, emulator: TelegramEmulator
) -> None:
    await adapter.send(_message(recipient=GROUP, invite=Invite("Get started", "spring fair/2026")))
    await adapter.send(_message(recipient=GROUP, invite=Invite("Go", "x" * 80)))
    links = [_keyboard(m)[0][0]["url"] for m in emulator.messages_to(GROUP)]
    assert links == [
        "https://t.me/onramp_test_bot?start=spring_fair_2026",
        "https://t.me/onramp_test_bot?start=" + "x" * 64,
    ]


async def test_a_text_too_long_for_telegram_is_shortened(
    adapter: TelegramAdapter, emulator: TelegramEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    await adapter.send(_message("**" + "😀" * 3000 + "**"))  # 6000 UTF-16 code units
    [message] = emulator.messages_to(ADA)
    assert message["text"] == "😀" * 2047 + "…"  # 4095 units: plain, the markup would not fit
    assert "parse_mode" not in emulator.calls("sendMessage")[0]
    assert "message too long for Telegram; shortened" in caplog.messages


async def test_html_telegram_cannot_parse_is_sent_again_as_plain_text(
    adapter: TelegramAdapter, emulator: TelegramEmulator
) -> None:
    refusal = {"ok": False, "error_code": 400, "description": "Bad Request: can't parse entities"}
    emulator.faults.add(Fault(status=400, body=refusal, path="/sendMessage"))
    await adapter.send(_message("**Hi** there"))
    first, second = emulator.calls("sendMessage")
    assert (first["text"], first["parse_mode"]) == ("<b>Hi</b> there", "HTML")
    assert second["text"] == "Hi there" and "parse_mode" not in second
    assert [m["text"] for m in emulator.messages_to(ADA)] == ["Hi there"]


async def _refusal(adapter: TelegramAdapter, message: OutgoingMessage) -> DeliveryError:
    with pytest.raises(DeliveryError) as refused:
        await adapter.send(message)
    return refused.value


async def test_refusals_become_the_delivery_errors_the_sender_acts_on(
    adapter: TelegramAdapter, emulator: TelegramEmulator
) -> None:
    never_started = await _refusal(adapter, _message(recipient=GRACE))
    assert never_started.permanent and "bot can't initiate conversation" in never_started.reason
    emulator.blocked_users.add(ADA + 1)
    blocked = await _refusal(adapter, _message(recipient=ADA + 1))
    assert blocked.permanent and "Forbidden" in blocked.reason
    assert (await _refusal(adapter, _message(recipient="@channel"))).permanent  # type: ignore[arg-type]

    emulator.chat_limit = RateLimiter(1, 1.0)
    await adapter.send(_message("one"))
    throttled = await _refusal(adapter, _message("two"))
    assert (throttled.retry_after, throttled.permanent) == (1.0, False)

    emulator.fail("sendMessage", 502)
    unavailable = await _refusal(adapter, _message("three", recipient=ADA + 2))
    assert (unavailable.retry_after, unavailable.permanent) == (None, False)


async def test_a_timeout_is_retried_though_the_message_may_have_gone(
    polling: Settings, emulator: TelegramEmulator
) -> None:
    polling.telegram.request_timeout_seconds = 0.2
    adapter = TelegramAdapter(polling)
    await adapter.start(_nothing)
    try:
        emulator.fail("sendMessage", delay=0.5)  # then answered, and delivered
        timed_out = await _refusal(adapter, _message())
    finally:
        await adapter.stop()
    assert not timed_out.permanent and timed_out.retry_after is None
    assert "may have been delivered" in timed_out.reason


def test_the_limits_a_message_counts_against(polling: Settings) -> None:
    polling.telegram = TelegramSettings()  # Telegram's own figures
    adapter = TelegramAdapter(polling)
    assert adapter.rate_limits(_message()) == [
        RateLimit(f"chat:{ADA}", 1, 1.0),
        RateLimit("bot", 30, 1.0),
    ]
    assert adapter.rate_limits(_message(recipient=GROUP)) == [
        RateLimit(f"chat:{GROUP}", 1, 1.0),
        RateLimit("bot", 30, 1.0),
        RateLimit(f"group:{GROUP}", 20, 60.0),
    ]


async def test_the_command_menu_keeps_to_telegrams_rules(
    polling: Settings, emulator: TelegramEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = TelegramAdapter(polling)
    long = "word " * 80
    adapter.set_commands(
        [
            CommandInfo("start", {"en": "Begin", "pt_BR": "Começar", "pt": "Iniciar"}),
            CommandInfo("check-in", {"en": "Not a Telegram command name"}),
            CommandInfo("Help", {"en": "Upper case is not allowed"}),
            CommandInfo("about", {"en": f"  {long}\n"}),  # no Portuguese: English stands in
        ],
        ["en", "pt_BR", "fil", "pt"],
    )
    await adapter.start(_nothing)
    await adapter.stop()

    assert emulator.commands() == emulator.commands("en")
    assert [c["command"] for c in emulator.commands("en")] == ["start", "about"]
    assert emulator.commands("pt")[0] == {"command": "start", "description": "Começar"}
    about = emulator.commands("pt")[1]["description"]
    assert len(about) == 256 and about.startswith("word word") and about.endswith("…")
    assert len(emulator.calls("setMyCommands")) == 3  # default, en, pt; no code for "fil"
    skipped = [getattr(r, "command", None) for r in caplog.records if "left out" in r.message]
    assert skipped == ["check-in", "Help"]
    assert any(getattr(r, "locale", None) == "fil" for r in caplog.records)


def _secrets(token: str | None = "1:x", secret: str | None = None) -> Secrets:
    return Secrets(
        telegram_bot_token=SecretStr(token) if token else None,
        telegram_webhook_secret=SecretStr(secret) if secret else None,
    )


@pytest.mark.parametrize(
    ("mode", "token", "secret", "problem"),
    [
        ("polling", None, None, "needs TELEGRAM_BOT_TOKEN"),
        ("webhook", "1:x", None, "needs TELEGRAM_WEBHOOK_SECRET"),
        ("webhook", "1:x", "has spaces", "needs TELEGRAM_WEBHOOK_SECRET"),
        ("webhook", "1:x", "x" * 257, "needs TELEGRAM_WEBHOOK_SECRET"),
    ],
)
def test_missing_or_unusable_secrets_stop_it_early(
    settings: Settings, mode: str, token: str | None, secret: str | None, problem: str
) -> None:
    settings.telegram = TelegramSettings(mode=mode)  # type: ignore[arg-type]
    with pytest.raises(TelegramConfigError, match=problem):
        TelegramAdapter(settings, _secrets(token, secret))


def test_polling_needs_no_webhook_secret_and_serves_no_route(settings: Settings) -> None:
    adapter = TelegramAdapter(settings, _secrets())
    assert adapter.routes() == []
    settings.telegram = TelegramSettings(mode="webhook")
    assert [r.path for r in TelegramAdapter(settings, _secrets(secret=SECRET)).routes()] == [
        "/telegram/webhook"
    ]


async def test_a_wrong_token_stops_the_start_and_no_token_is_logged(
    settings: Settings, emulator: TelegramEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx logs URLs at INFO, PTB at DEBUG; both hold the token
    settings.telegram = TelegramSettings(api_url=emulator.base_url)
    adapter = TelegramAdapter(settings, _secrets("1:wrong-token"))
    with pytest.raises(TelegramConfigError, match="Telegram refused TELEGRAM_BOT_TOKEN") as refused:
        await adapter.start(_nothing)
    with pytest.raises(DeliveryError) as undelivered:
        await adapter.send(_message())
    await adapter.stop()

    assert refused.value.__cause__ is None and refused.value.__suppress_context__
    assert "wrong-token" not in undelivered.value.reason
    assert [r for r in caplog.records if "1:wrong-token" in r.getMessage()] == []
    assert any("/bot<TELEGRAM_BOT_TOKEN>/getMe" in r.getMessage() for r in caplog.records)


async def test_an_unreachable_telegram_is_retried_and_not_ready_meanwhile(
    polling: Settings, emulator: TelegramEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="onramp.telegram")
    emulator.fail("getMe", 502)
    adapter = TelegramAdapter(polling)
    await adapter.start(_nothing)  # does not fail: the bot can still take webhooks
    try:
        assert not adapter.ready()
        assert "telegram set-up failed; retrying" in caplog.messages
        await until(adapter.ready, "the set-up's second attempt")
        assert len(emulator.calls("getMe")) == 2
    finally:
        await adapter.stop()
