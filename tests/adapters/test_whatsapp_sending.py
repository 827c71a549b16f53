"""How the WhatsApp adapter sends: markup, buttons, lists and how they degrade, the 24-hour
window and templates, the errors the sender acts on, the limits it keeps to, its start-up and
its configuration; against the Cloud API emulator."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.whatsapp.adapter import WhatsAppAdapter, WhatsAppConfigError
from bot.adapter import DeliveryError, RateLimit
from bot.events import Event
from bot.messages import Choice, OutgoingMessage, TemplateRef
from bot.settings import Secrets, Settings, WhatsAppSettings
from tests.adapters.test_whatsapp import ADA, for_whatsapp
from tests.fakes.server import Fault, RateLimiter
from tests.fakes.whatsapp import WhatsAppEmulator
from tests.support.waiting import until

JSON = dict[str, Any]
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
NUDGE = TemplateRef("onboarding_reminder", "en", ("Ada",))


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emulator(clock: Clock) -> Iterator[WhatsAppEmulator]:
    with WhatsAppEmulator(number_limit=None, pair_limit=None, clock=clock) as emulator:
        emulator.wrote(ADA, NOW - timedelta(minutes=5))
        emulator.approve("onboarding_reminder", "en", parameters=1)
        yield emulator


@pytest.fixture
def wa_settings(
    settings: Settings, emulator: WhatsAppEmulator, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    return for_whatsapp(settings, emulator, monkeypatch)


async def _nothing(event: Event) -> Any:
    raise AssertionError("no events in these tests")


@pytest.fixture
async def adapter(wa_settings: Settings, clock: Clock) -> AsyncIterator[WhatsAppAdapter]:
    adapter = WhatsAppAdapter(wa_settings, clock=clock)
    await adapter.start(_nothing)
    try:
        yield adapter
    finally:
        await adapter.stop()


def _message(text: str = "Hello", **fields: Any) -> OutgoingMessage:
    fields.setdefault("last_inbound_at", NOW - timedelta(minutes=5))
    return OutgoingMessage(platform="whatsapp", recipient=ADA, text=text, **fields)


def _choices(*labels: str) -> tuple[Choice, ...]:
    return tuple(Choice(f"c{n}", label) for n, label in enumerate(labels, start=1))


def _question(*labels: str, **fields: Any) -> OutgoingMessage:
    fields.setdefault("answer_hint", "Reply with a number or the option's name.")
    return _message("Which one?", choices=_choices(*labels), step_id="pick", **fields)


def _last(emulator: WhatsAppEmulator) -> JSON:
    return emulator.messages_to(ADA)[-1].body


async def test_text_goes_in_whatsapp_markup_without_link_previews(
    adapter: WhatsAppAdapter, emulator: WhatsAppEmulator
) -> None:
    wamid = await adapter.send(_message("**Hi** _you_ & [the guide](https://x.org/a?b=1)\n`code`"))
    [sent] = emulator.messages_to(ADA)
    assert sent.id == wamid
    assert sent.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": ADA,
        "type": "text",
        "text": {
            "body": "*Hi* _you_ & the guide (https://x.org/a?b=1)\n`code`",
            "preview_url": False,
        },
    }


async def test_choices_are_buttons_then_a_list_then_numbered_text(
    adapter: WhatsAppAdapter, emulator: WhatsAppEmulator
) -> None:
    await adapter.send(_question("Yes", "No", "x" * 20))
    interactive = _last(emulator)["interactive"]
    assert interactive == {
        "type": "button",
        "body": {"text": "Which one?"},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": "c:pick:c1", "title": "Yes"}},
                {"type": "reply", "reply": {"id": "c:pick:c2", "title": "No"}},
                {"type": "reply", "reply": {"id": "c:pick:c3", "title": "x" * 20}},
            ]
        },
    }

    await adapter.send(_question("Yes", "No", "x" * 21))  # a title too long for a button
    listed = _last(emulator)["interactive"]
    assert listed["type"] == "list" and listed["body"] == {"text": "Which one?"}
    assert listed["action"] == {
        "button": "Choose",
        "sections": [
            {
                "title": "Choose",
                "rows": [
                    {"id": "c:pick:c1", "title": "Yes"},
                    {"id": "c:pick:c2", "title": "No"},
                    {"id": "c:pick:c3", "title": "x" * 21},
                ],
            }
        ],
    }
    ten = [f"Option {n}" for n in range(1, 11)]
    await adapter.send(_question(*ten, locale="fr_CA"))  # ten rows; French: "Choisir"
    assert len(_last(emulator)["interactive"]["action"]["sections"][0]["rows"]) == 10
    assert _last(emulator)["interactive"]["action"]["button"] == "Choisir"

    degraded = [
        _question(*ten, "Option 11"),  # more than a list holds
        _question("Yes", "x" * 25),  # a title too long for a row
        _question("Code", "Docs", multiple=True),  # several answers: WhatsApp has none
        _message("No question", choices=_choices("A", "B")),  # choices tied to no step
    ]
    for message in degraded:
        await adapter.send(message)
        assert _last(emulator)["type"] == "text"
    numbered = emulator.messages_to(ADA)[-3].body["text"]["body"]
    assert numbered.startswith("Which one?\n\n1. Yes\n2. " + "x" * 25)
    assert numbered.endswith("\n\n_Reply with a number or the option's name._")
    await adapter.send(_question("Same", "Same"))  # buttons need distinct titles; rows don't
    assert _last(emulator)["interactive"]["type"] == "list"


async def test_a_long_question_is_a_list_and_a_text_too_long_is_shortened(
    adapter: WhatsAppAdapter, emulator: WhatsAppEmulator
) -> None:
    await adapter.send(replace(_question("Yes", "No"), text="word " * 300))
    assert _last(emulator)["interactive"]["type"] == "list"  # 1500 characters: no buttons
    await adapter.send(_message("x" * 5000))
    body = _last(emulator)["text"]["body"]
    assert len(body) == 4096 and body.endswith("x…")


async def test_outside_the_24_hour_window_the_template_goes_instead(
    adapter: WhatsAppAdapter, emulator: WhatsAppEmulator
) -> None:
    emulator.wrote(ADA, NOW - timedelta(hours=25))
    stale = NOW - timedelta(hours=24)
    question = _question("Yes", "No", template=NUDGE, last_inbound_at=stale)
    wamid = await adapter.send(question)
    [sent] = emulator.messages_to(ADA)
    assert sent.id == wamid and sent.type == "template"
    assert sent.body["template"] == {
        "name": "onboarding_reminder",
        "language": {"code": "en"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ada"}]}],
    }
    # Never written, and a parameter Meta would refuse as it is (a line break).
    lines = TemplateRef("onboarding_reminder", "en", ("Ada\n\tLovelace",))
    await adapter.send(_message(template=lines, last_inbound_at=None))
    parameters = _last(emulator)["template"]["components"][0]["parameters"]
    assert parameters == [{"type": "text", "text": "Ada Lovelace"}]
    assert len(emulator.calls()) == 2  # no free-form attempt first


@pytest.mark.parametrize(
    ("last_inbound_at", "why"),
    [
        (None, "the member has never written to this number"),
        (NOW - timedelta(days=3), "the member last wrote at 2026-02-27T10:00+00:00"),
    ],
)
async def test_outside_the_window_without_a_template_it_fails_for_good_saying_why(
    adapter: WhatsAppAdapter,
    emulator: WhatsAppEmulator,
    last_inbound_at: datetime | None,
    why: str,
) -> None:
    refused = await _refusal(adapter, _message(last_inbound_at=last_inbound_at))
    assert refused.permanent and refused.retry_after is None
    assert refused.reason.startswith(f"whatsapp: {why}")
    assert refused.reason.endswith(
        "so WhatsApp accepts only an approved template, and the content names none for this"
        " message (whatsapp_template)"
    )
    assert emulator.calls() == []


async def test_when_meta_says_the_window_has_closed_the_template_goes_at_once(
    adapter: WhatsAppAdapter, emulator: WhatsAppEmulator
) -> None:
    emulator.wrote(ADA, NOW - timedelta(days=2))  # Meta knows better than the bot here
    wamid = await adapter.send(_question("Yes", "No", template=NUDGE))
    first, second = emulator.calls()
    assert (first["type"], second["type"]) == ("interactive", "template")
    assert [sent.id for sent in emulator.messages_to(ADA)] == [wamid]

    refused = await _refusal(adapter, _message("no template"))
    assert refused.permanent
    assert "WhatsApp says their 24-hour window has closed (131047)" in refused.reason
    assert len(emulator.messages_to(ADA)) == 1


async def _refusal(adapter: WhatsAppAdapter, message: OutgoingMessage) -> DeliveryError:
    with pytest.raises(DeliveryError) as refused:
        await adapter.send(message)
    return refused.value


def _graph_error(code: int, message: str = "refused") -> JSON:
    return {"error": {"message": f"(#{code}) {message}", "type": "OAuthException", "code": code,
                      "error_data": {"messaging_product": "whatsapp", "details": "why"},
                      "fbtrace_id": "A1"}}  # fmt: skip


async def test_refusals_become_the_delivery_errors_the_sender_acts_on(
    adapter: WhatsAppAdapter, emulator: WhatsAppEmulator
) -> None:
    emulator.number_limit = RateLimiter(1, 60.0)
    await adapter.send(_message("one"))
    throughput = await _refusal(adapter, _message("two"))
    assert (throughput.retry_after, throughput.permanent) == (0.2, False)  # the setting
    assert throughput.reason.startswith("whatsapp: HTTP 400 130429 (#130429) Rate limit hit: ")
    emulator.number_limit, emulator.pair_limit = None, RateLimiter(1, 60.0)
    await adapter.send(_message("three"))
    pair = await _refusal(adapter, _message("four"))
    assert (pair.retry_after, pair.permanent) == (0.3, False)
    assert "131056" in pair.reason
    emulator.pair_limit = None

    cases: list[tuple[Fault, float | None, bool, str]] = [
        (Fault(status=429, headers={"Retry-After": "7"}), 7.0, False, "HTTP 429"),
        (Fault(status=429), 0.2, False, "HTTP 429"),
        (Fault(status=400, body=_graph_error(4, "Application request limit reached")), 60.0,
         False, "4 (#4)"),
        (Fault(status=400, body=_graph_error(131057, "Account in maintenance mode")), 0.2,
         False, "131057"),
        (Fault(status=503, body=_graph_error(2, "Service temporarily unavailable")), None,
         False, "HTTP 503 2"),
        (Fault(status=500, body=_graph_error(131000, "Something went wrong")), None, False,
         "131000"),
        (Fault(status=502), None, False, "HTTP 502"),
        (Fault(status=200, body={"messaging_product": "whatsapp"}), None, False,
         "without a message id"),
        (Fault(status=400, body=_graph_error(131026, "Message undeliverable")), None, True,
         "131026 (#131026) Message undeliverable: why"),
        (Fault(status=400, body=_graph_error(100, "Invalid parameter")), None, True, "100"),
        (Fault(status=404, body=_graph_error(132001, "Template name does not exist")), None,
         True, "132001"),
    ]  # fmt: skip
    for fault, retry_after, permanent, said in cases:
        emulator.faults.add(fault)
        refused = await _refusal(adapter, _message())
        assert (refused.retry_after, refused.permanent) == (retry_after, permanent), said
        assert said in refused.reason
    assert len(emulator.messages_to(ADA)) == 2


async def test_a_refused_token_is_retried_and_makes_the_adapter_not_ready(
    adapter: WhatsAppAdapter, emulator: WhatsAppEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    assert adapter.ready()
    emulator.access_token = "rotated"  # the token in the environment is no longer valid
    refused = await _refusal(adapter, _message())
    assert not refused.permanent and refused.retry_after is None
    assert "190" in refused.reason and "check WHATSAPP_ACCESS_TOKEN" in refused.reason
    assert not adapter.ready()
    assert "Meta refused WHATSAPP_ACCESS_TOKEN" in caplog.messages
    emulator.access_token = adapter.graph.client.headers["authorization"].removeprefix("Bearer ")
    await adapter.send(_message())
    assert adapter.ready()


async def test_a_timeout_is_retried_though_the_message_may_have_gone(
    wa_settings: Settings, emulator: WhatsAppEmulator, clock: Clock
) -> None:
    wa_settings.whatsapp.request_timeout_seconds = 0.2
    adapter = WhatsAppAdapter(wa_settings, clock=clock)
    await adapter.start(_nothing)
    try:
        emulator.faults.add(Fault(delay=0.5, path="/messages"))  # then answered, and sent
        timed_out = await _refusal(adapter, _message())
    finally:
        await adapter.stop()
    assert not timed_out.permanent and timed_out.retry_after is None
    assert "may have been delivered" in timed_out.reason
    await until(lambda: len(emulator.messages_to(ADA)) == 1, "the late delivery")


async def test_meta_out_of_reach_is_retried(wa_settings: Settings, clock: Clock) -> None:
    wa_settings.whatsapp.graph_url = "http://127.0.0.1:9"  # nothing listens there
    adapter = WhatsAppAdapter(wa_settings, clock=clock)
    try:
        unreachable = await _refusal(adapter, _message())
    finally:
        await adapter.stop()
    assert not unreachable.permanent and unreachable.retry_after is None
    assert unreachable.reason.startswith("whatsapp: ConnectError")


def test_the_limits_a_message_counts_against(wa_settings: Settings) -> None:
    wa_settings.whatsapp = WhatsAppSettings(phone_number_id="1")  # Meta's own figures
    adapter = WhatsAppAdapter(wa_settings)
    assert adapter.rate_limits(_message()) == [
        RateLimit("number", 80, 1.0),
        RateLimit(f"to:{ADA}", 1, 6.0),
    ]
    assert [route.path for route in adapter.routes()] == ["/whatsapp/webhook"]
    assert adapter.routes()[0].methods == {"GET", "HEAD", "POST"}


def _secrets(
    token: str | None = "t", secret: str | None = "s", verify: str | None = "v"
) -> Secrets:
    return Secrets(
        whatsapp_access_token=SecretStr(token) if token is not None else None,
        whatsapp_app_secret=SecretStr(secret) if secret is not None else None,
        whatsapp_verify_token=SecretStr(verify) if verify is not None else None,
    )


@pytest.mark.parametrize(
    ("secrets", "number", "problem"),
    [
        (_secrets(token=None), "1", "needs WHATSAPP_ACCESS_TOKEN$"),
        (_secrets(token=""), "1", "needs WHATSAPP_ACCESS_TOKEN$"),
        (_secrets(secret=None), "1", "needs WHATSAPP_APP_SECRET$"),
        (_secrets(verify=None), "1", "needs WHATSAPP_VERIFY_TOKEN$"),
        (_secrets(), None, r"needs \[whatsapp\] phone_number_id$"),
        (_secrets(None, None), None, "WHATSAPP_ACCESS_TOKEN and WHATSAPP_APP_SECRET and"),
    ],
)
def test_missing_secrets_or_number_stop_it_early_and_say_which(
    settings: Settings, secrets: Secrets, number: str | None, problem: str
) -> None:
    settings.whatsapp = WhatsAppSettings(phone_number_id=number)
    assert not WhatsAppAdapter.configured(settings, secrets)
    with pytest.raises(WhatsAppConfigError, match=problem):
        WhatsAppAdapter(settings, secrets)


def test_configured_when_all_three_secrets_and_the_number_are_set(settings: Settings) -> None:
    settings.whatsapp = WhatsAppSettings(phone_number_id="106540352242922")
    assert WhatsAppAdapter.configured(settings, _secrets())


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"access_token": "wrong"}, "Meta refused WHATSAPP_ACCESS_TOKEN"),
        ({"phone_number_id": "999"}, r"Meta refused \[whatsapp\] phone_number_id '999'"),
    ],
)
async def test_a_wrong_token_or_number_stops_the_start(
    wa_settings: Settings,
    emulator: WhatsAppEmulator,
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, str],
    problem: str,
) -> None:
    if "access_token" in change:
        monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", change["access_token"])
    else:
        wa_settings.whatsapp.phone_number_id = change["phone_number_id"]
    adapter = WhatsAppAdapter(wa_settings)
    with pytest.raises(WhatsAppConfigError, match=problem) as refused:
        await adapter.start(_nothing)
    await adapter.stop()
    assert refused.value.__suppress_context__
    assert "wrong" not in str(refused.value)


@pytest.mark.parametrize(
    "trouble",
    [
        Fault(status=502),
        Fault(status=429, headers={"Retry-After": "1"}),
        Fault(status=400, body=_graph_error(4, "Application request limit reached")),
    ],
)
async def test_an_unreachable_or_busy_meta_is_retried_and_not_ready_meanwhile(
    wa_settings: Settings,
    emulator: WhatsAppEmulator,
    caplog: pytest.LogCaptureFixture,
    trouble: Fault,
) -> None:
    caplog.set_level(logging.WARNING, logger="onramp.whatsapp")
    emulator.faults.add(trouble)
    adapter = WhatsAppAdapter(wa_settings)
    await adapter.start(_nothing)  # does not fail: the webhook can still take notifications
    try:
        assert not adapter.ready()
        assert "whatsapp set-up failed; retrying" in caplog.messages
        await until(adapter.ready, "the set-up's second attempt")
        phone_number_calls = [r for r in emulator.requests if r.method == "GET"]
        assert len(phone_number_calls) == 2
    finally:
        await adapter.stop()
