"""Random payloads of the right outline, correctly signed, through each platform's real webhook:
arbitrary Unicode in every text, and now and then a field of the wrong type (a number for a
string, a list for an object, null). Whatever comes, the answer is 2xx or 4xx, never 5xx,
nothing reaches the web server as an unhandled exception, and the server goes on serving.

One running bot serves all the examples of a test; the examples are few and unhurried
(`deadline=None`): each goes through the whole core on SQLite.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.telegram.adapter import TelegramAdapter
from adapters.whatsapp.adapter import WhatsAppAdapter
from bot.settings import Settings
from tests.adapters import test_slack, test_telegram, test_whatsapp, test_zulip
from tests.fakes.slack import SlackEmulator, block_actions, event_callback, im_message, team_join
from tests.fakes.telegram import TelegramEmulator
from tests.fakes.whatsapp import WhatsAppEmulator
from tests.fakes.zulip import ZulipEmulator
from tests.support import serving as harness

JSON = dict[str, Any]
EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# A value of any JSON type: what a wrong field may hold instead.
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)


def shaped(template: Any) -> st.SearchStrategy[Any]:
    """Values with `template`'s outline: each text arbitrary Unicode (or kept), each number any
    number (or kept), and one field in ten of another type altogether."""
    if isinstance(template, dict):
        fields = {key: shaped(value) for key, value in template.items()}
        typed: st.SearchStrategy[Any] = st.fixed_dictionaries(fields)
    elif isinstance(template, list):
        typed = st.lists(shaped(template[0]), max_size=3) if template else st.just([])
    elif isinstance(template, bool):
        typed = st.booleans()
    elif isinstance(template, int):
        typed = st.one_of(st.just(template), st.integers(min_value=-(2**63), max_value=2**63))
    elif isinstance(template, str):
        typed = st.one_of(st.just(template), st.text(max_size=40))
    else:
        typed = st.just(template)
    return st.integers(0, 9).flatmap(lambda n: JUNK if n == 0 else typed)


async def served_well(http: httpx.AsyncClient, response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:200])
    assert (await http.get("/healthz")).status_code == 200


def nothing_escaped(caplog: pytest.LogCaptureFixture) -> None:
    """No exception reached the web server (uvicorn logs those as "Exception in ASGI
    application"), and none was logged as a failure to read a request."""
    escaped = [r.getMessage() for r in caplog.records if r.name.startswith("uvicorn")]
    assert not [m for m in escaped if "Exception" in m]
    unread = [r for r in caplog.records if r.name.startswith("onramp.") and "not handled" in r.msg]
    assert unread == []
    errors = [(r.name, r.getMessage()) for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []


# Slack: the Events API, slash commands and button presses, all on /slack/events.

SLACK_EVENTS = [
    im_message(test_slack.ADA, "hello"),
    im_message(test_slack.ADA, "/kudos <@U0BEA00001|bea> for the docs"),
    team_join({"id": test_slack.BEA, "profile": {"display_name": "Bea", "real_name": "B"}}),
    {"type": "member_joined_channel", "user": test_slack.CAL, "channel": "C0WELCOME1"},
    {"type": "user_change", "user": {"id": test_slack.ADA, "profile": {"display_name": "A"}}},
]


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator(channel_limit=None) as emulator:
        test_slack.people(emulator)
        yield emulator


@pytest.fixture
async def slack_bot(
    settings: Settings, slack: SlackEmulator, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[test_slack.Bot]:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", test_slack.SECRET)
    configured = test_slack.configure(settings, slack, ack_budget_seconds=2.9)
    async with test_slack.running(configured, slack) as bot:
        yield bot


@EXAMPLES
@given(
    kind=st.sampled_from(["event", "command", "press"]),
    event=st.sampled_from(SLACK_EVENTS).flatmap(shaped),
    command=st.fixed_dictionaries(
        {
            "command": st.sampled_from(["/help", "/kudos", "/mentor", "/language"]),
            "text": st.text(max_size=60),
            "user_id": st.sampled_from([test_slack.ADA, "", "U0NOBODY01"]),
            "trigger_id": st.text(min_size=1, max_size=20),
            "team_id": st.text(max_size=12),
        }
    ),
    press=shaped(
        block_actions(
            user_id=test_slack.ADA,
            action_id="onramp.choice.0",
            value='{"step":"consent","choice":"yes"}',
            message={"ts": "1.000001", "text": "Is that okay?", "blocks": []},
            channel_id="D0ADA00001",
        ).payload
    ),
)
async def test_slack_answers_any_signed_payload_with_2xx_or_4xx(
    slack_bot: test_slack.Bot,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    event: Any,
    command: dict[str, str],
    press: Any,
) -> None:
    caplog.set_level(logging.INFO)
    caplog.clear()  # one log per example: the bot (and caplog) serve them all
    if kind == "event":
        body = json.dumps(event_callback({"type": "message"}).payload | {"event": event}).encode()
    elif kind == "command":
        body = urlencode(command).encode()
    else:
        body = urlencode({"payload": json.dumps(press)}).encode()
    assert slack_bot.http is not None

    answer = await slack_bot.post(body)

    await served_well(slack_bot.http, answer)
    nothing_escaped(caplog)


# Telegram's webhook.

TELEGRAM_SENDER = {"id": test_telegram.ADA, "is_bot": False, "first_name": "Ada", "username": "a"}
TELEGRAM_UPDATES = [
    {
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": test_telegram.ADA, "type": "private"},
            "from": TELEGRAM_SENDER,
            "text": "/kudos @grace for the review",
            "entities": [
                {"type": "text_mention", "offset": 7, "length": 6, "user": TELEGRAM_SENDER}
            ],
        }
    },
    {
        "message": {
            "message_id": 2,
            "date": 1_700_000_000,
            "chat": {"id": test_telegram.GROUP, "type": "supergroup", "title": "Commons"},
            "from": TELEGRAM_SENDER,
            "new_chat_members": [TELEGRAM_SENDER],
        }
    },
    {
        "callback_query": {
            "id": "q1",
            "from": TELEGRAM_SENDER,
            "chat_instance": "1",
            "data": "c:consent:yes",
            "message": {
                "message_id": 3,
                "date": 1_700_000_000,
                "chat": {"id": test_telegram.ADA, "type": "private"},
                "text": "Is that okay?",
                "reply_markup": {
                    "inline_keyboard": [[{"text": "Yes", "callback_data": "c:consent:yes"}]]
                },
            },
        }
    },
    {
        "chat_member": {
            "chat": {"id": test_telegram.GROUP, "type": "supergroup", "title": "Commons"},
            "from": TELEGRAM_SENDER,
            "date": 1_700_000_000,
            "old_chat_member": {"status": "left", "user": TELEGRAM_SENDER},
            "new_chat_member": {"status": "member", "user": TELEGRAM_SENDER},
        }
    },
]


@pytest.fixture
async def telegram(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[httpx.AsyncClient, TelegramEmulator]]:
    with test_telegram.unlimited_emulator() as emulator:
        configured = test_telegram.for_telegram(settings, emulator, monkeypatch)
        telegram = {"telegram": TelegramAdapter(configured)}
        async with _serving(configured, emulator, telegram) as http:
            yield http, emulator


@EXAMPLES
@given(update_id=st.integers(1, 2**31), update=st.sampled_from(TELEGRAM_UPDATES).flatmap(shaped))
async def test_telegram_answers_any_update_with_the_secret_with_2xx_or_4xx(
    telegram: tuple[httpx.AsyncClient, TelegramEmulator],
    caplog: pytest.LogCaptureFixture,
    update_id: int,
    update: Any,
) -> None:
    caplog.set_level(logging.INFO)
    caplog.clear()  # one log per example: the bot (and caplog) serve them all
    http, _ = telegram
    body = update | {"update_id": update_id} if isinstance(update, dict) else update
    headers = {"X-Telegram-Bot-Api-Secret-Token": test_telegram.SECRET}

    answer = await http.post("/telegram/webhook", json=body, headers=headers)

    await served_well(http, answer)
    nothing_escaped(caplog)


# Zulip's outgoing webhook.


@pytest.fixture
async def zulip(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[httpx.AsyncClient, list[JSON]]]:
    """The server, and the messages whose outline the examples take."""
    with ZulipEmulator(rate_limit=None) as emulator:
        configured = test_zulip.for_zulip(settings, emulator, monkeypatch, mode="webhook")
        ada, bea = emulator.add_user("Ada"), emulator.add_user("Bea")
        mention = f"/kudos @**Bea|{bea['user_id']}** for the review"
        templates = [
            emulator.outgoing_webhook_payload(emulator.dm_from(ada, mention), test_zulip.TOKEN),
            emulator.outgoing_webhook_payload(
                emulator.stream_message(ada, "general", "hello", "onboard"),
                test_zulip.TOKEN,
            ),
        ]
        async with _serving(configured, emulator) as http:
            yield http, templates


@EXAMPLES
@given(data=st.data())
async def test_zulip_answers_any_outgoing_webhook_with_the_token_with_2xx_or_4xx(
    zulip: tuple[httpx.AsyncClient, list[JSON]],
    caplog: pytest.LogCaptureFixture,
    data: st.DataObject,
) -> None:
    caplog.set_level(logging.INFO)
    caplog.clear()  # one log per example: the bot (and caplog) serve them all
    http, templates = zulip
    template = data.draw(st.sampled_from(templates))
    fields = {k: v for k, v in template.items() if k != "token"}
    payload = data.draw(shaped(fields))
    if isinstance(payload, dict):
        payload["token"] = test_zulip.TOKEN  # the right token: the rest is random

    answer = await http.post("/zulip/webhook", json=payload)

    await served_well(http, answer)
    nothing_escaped(caplog)


# WhatsApp's webhook.


@pytest.fixture
async def whatsapp(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[httpx.AsyncClient, WhatsAppEmulator]]:
    with test_whatsapp.unlimited_emulator() as emulator:
        configured = test_whatsapp.for_whatsapp(settings, emulator, monkeypatch)
        whatsapp = {"whatsapp": WhatsAppAdapter(configured)}
        async with _serving(configured, emulator, whatsapp) as http:
            yield http, emulator


WHATSAPP_MESSAGES = [
    {"from": test_whatsapp.ADA, "id": "wamid.A", "type": "text", "text": {"body": "/help"}},
    {
        "from": test_whatsapp.ADA,
        "id": "wamid.B",
        "type": "interactive",
        "interactive": {
            "type": "button_reply",
            "button_reply": {"id": "c:consent:yes", "title": "Yes"},
        },
    },
    {"from": test_whatsapp.ADA, "id": "wamid.C", "type": "button", "button": {"text": "STOP"}},
    {"from": test_whatsapp.ADA, "id": "wamid.D", "type": "image", "image": {"id": "1"}},
]
WHATSAPP_STATUS = {"id": "wamid.X", "status": "failed", "recipient_id": test_whatsapp.ADA}


@EXAMPLES
@given(
    message=st.sampled_from(WHATSAPP_MESSAGES).flatmap(shaped),
    status=shaped(WHATSAPP_STATUS),
    contact=shaped({"wa_id": test_whatsapp.ADA, "profile": {"name": "Ada"}}),
)
async def test_whatsapp_answers_any_signed_notification_with_2xx_or_4xx(
    whatsapp: tuple[httpx.AsyncClient, WhatsAppEmulator],
    caplog: pytest.LogCaptureFixture,
    message: Any,
    status: Any,
    contact: Any,
) -> None:
    caplog.set_level(logging.INFO)
    caplog.clear()  # one log per example: the bot (and caplog) serve them all
    http, emulator = whatsapp
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": emulator.phone_number_id},
        "contacts": [contact],
        "messages": [message],
        "statuses": [status],
    }
    change = {"field": "messages", "value": value}
    notification = {"object": "whatsapp_business_account", "entry": [{"changes": [change]}]}
    body = json.dumps(notification).encode()

    answer = await http.post("/whatsapp/webhook", content=body, headers=emulator.signed(body))

    await served_well(http, answer)
    nothing_escaped(caplog)


@contextlib.asynccontextmanager
async def _serving(
    settings: Settings, emulator: Any, adapters: dict[str, Any] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """Onramp serving (tests/support/serving.py), and an HTTP client for its web server; both
    stopped after."""
    async with (
        harness.serving(settings, emulator, adapters) as served,
        httpx.AsyncClient(base_url=served.url(""), timeout=30) as http,
    ):
        yield http
