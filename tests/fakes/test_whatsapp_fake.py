"""The WhatsApp emulator answers like the Cloud API, and builds what Meta POSTs to webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes.server import FakeServer, Fault
from tests.fakes.whatsapp import (
    DEFAULT_APP_SECRET,
    DEFAULT_PHONE_NUMBER_ID,
    DEFAULT_TOKEN,
    WhatsAppEmulator,
    combine,
    message_id,
)

JSON = dict[str, Any]
ADA, GRACE = "16505551234", "447700900123"
VERSION = "v23.0"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emulator(clock: Clock) -> Iterator[WhatsAppEmulator]:
    with WhatsAppEmulator(number_limit=None, pair_limit=None, clock=clock) as emulator:
        emulator.user(ADA, "Ada Lovelace")
        emulator.user(GRACE, "Grace Hopper")
        yield emulator


@pytest.fixture
def graph(emulator: WhatsAppEmulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    with httpx.Client(base_url=f"{emulator.url}/{VERSION}", headers=headers) as client:
        yield client


def send(graph: httpx.Client, body: JSON, number: str = DEFAULT_PHONE_NUMBER_ID) -> httpx.Response:
    return graph.post(f"/{number}/messages", json=body)


def text(to: str = ADA, body: str = "Hello") -> JSON:
    return {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": body}}


def buttons(*titles: str, body: str = "Is that okay?") -> JSON:
    action = {
        "buttons": [
            {"type": "reply", "reply": {"id": f"c:consent:{n}", "title": title}}
            for n, title in enumerate(titles)
        ]
    }
    interactive = {"type": "button", "body": {"text": body}, "action": action}
    return {"messaging_product": "whatsapp", "to": ADA, "type": "interactive",
            "interactive": interactive}  # fmt: skip


def list_message(*titles: str, button: str = "Choose") -> JSON:
    rows = [{"id": f"c:start:{n}", "title": title} for n, title in enumerate(titles)]
    action = {"button": button, "sections": [{"title": "Options", "rows": rows}]}
    interactive = {"type": "list", "body": {"text": "Where to start?"}, "action": action}
    return {"messaging_product": "whatsapp", "to": ADA, "type": "interactive",
            "interactive": interactive}  # fmt: skip


def template(name: str = "nudge", code: str = "en", *parameters: str) -> JSON:
    content: JSON = {"name": name, "language": {"code": code}}
    if parameters:
        values = [{"type": "text", "text": value} for value in parameters]
        content["components"] = [{"type": "body", "parameters": values}]
    return {"messaging_product": "whatsapp", "to": ADA, "type": "template", "template": content}


def error_of(response: httpx.Response) -> JSON:
    error = response.json()["error"]
    assert isinstance(error, dict)
    return error


def test_a_message_inside_the_window_is_accepted_recorded_and_given_a_wamid(
    emulator: WhatsAppEmulator, graph: httpx.Client, clock: Clock
) -> None:
    emulator.text(ADA, "hi")  # Ada writes: her window opens
    response = send(graph, text(body="Welcome!"))
    assert response.status_code == 200
    answer = response.json()
    wamid = answer["messages"][0]["id"]
    assert answer == {
        "messaging_product": "whatsapp",
        "contacts": [{"input": ADA, "wa_id": ADA}],
        "messages": [{"id": wamid}],
    }
    assert wamid.startswith("wamid.")
    [sent] = emulator.messages_to(ADA)
    assert (sent.id, sent.type, sent.body["text"], sent.at) == (
        wamid,
        "text",
        {"body": "Welcome!"},
        clock.now,
    )
    assert send(graph, text(body="Again")).json()["messages"][0]["id"] != wamid


def test_free_form_outside_the_24_hour_window_is_refused_with_131047(
    emulator: WhatsAppEmulator, graph: httpx.Client, clock: Clock
) -> None:
    never = send(graph, text())  # Ada has never written
    assert never.status_code == 400
    error = error_of(never)
    assert (error["code"], error["message"], error["type"]) == (
        131047,
        "(#131047) Re-engagement message",
        "OAuthException",
    )
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert "24 hours" in error["error_data"]["details"] and error["fbtrace_id"]

    emulator.text(ADA, "hi")
    clock.now += timedelta(hours=23, minutes=59)
    assert send(graph, text()).status_code == 200
    assert send(graph, buttons("Yes", "No")).status_code == 200
    clock.now += timedelta(minutes=1)  # 24 hours since she wrote: closed
    assert error_of(send(graph, text()))["code"] == 131047
    assert error_of(send(graph, buttons("Yes", "No")))["code"] == 131047
    emulator.wrote(ADA, clock.now - timedelta(hours=1))  # the test moves her clock
    assert emulator.last_inbound(ADA) == clock.now - timedelta(hours=1)
    assert send(graph, text()).status_code == 200
    assert len(emulator.messages_to(ADA)) == 3


def test_templates_go_outside_the_window_when_approved_with_their_parameters(
    emulator: WhatsAppEmulator, graph: httpx.Client
) -> None:
    emulator.approve("nudge", "en", parameters=1)
    accepted = send(graph, template("nudge", "en", "Ada"))
    assert accepted.status_code == 200
    assert accepted.json()["messages"][0]["message_status"] == "accepted"
    [sent] = emulator.messages_to(ADA)
    assert sent.type == "template" and sent.body["template"]["name"] == "nudge"

    unknown = send(graph, template("nudge", "fr", "Ada"))
    assert unknown.status_code == 404 and error_of(unknown)["code"] == 132001
    assert (
        error_of(unknown)["error_data"]["details"] == "template name (nudge) does not exist in fr"
    )
    assert error_of(send(graph, template("nudge", "en")))["code"] == 132000
    assert error_of(send(graph, template("nudge", "en", "A", "B")))["code"] == 132000
    assert error_of(send(graph, template("nudge", "en", "Ada\nLovelace")))["code"] == 132018
    assert len(emulator.messages_to(ADA)) == 1


@pytest.mark.parametrize(
    ("body", "code", "details"),
    [
        (buttons("A", "B", "C", "D"), 131009, "buttons count invalid"),
        (buttons(), 131009, "buttons count invalid"),
        (buttons("x" * 21), 131009, "button.title length invalid"),
        (buttons("Same", "Same"), 131009, "unique"),
        (buttons("Yes", body="x" * 1025), 131009, "body.text length invalid"),
        (list_message(*(f"Row {n}" for n in range(11))), 131009, "Total row count"),
        (list_message("x" * 25), 131009, "row.title length invalid"),
        (list_message("Fine", button="x" * 21), 131009, "action.button length invalid"),
        (text(body=""), 131009, "text.body length invalid"),
        (text(body="x" * 4097), 131009, "text.body length invalid"),
        ({"messaging_product": "whatsapp", "to": ADA, "type": "text"}, 131008, "text"),
        ({"to": ADA, "type": "text", "text": {"body": "hi"}}, 100, "messaging_product"),
        (text(to="ada"), 100, "phone number"),
        ({**text(), "type": "sticker"}, 100, "Unsupported message type"),
    ],
)
def test_bodies_out_of_meta_s_limits_are_refused_with_graph_errors(
    emulator: WhatsAppEmulator, graph: httpx.Client, body: JSON, code: int, details: str
) -> None:
    emulator.text(ADA, "hi")
    response = send(graph, body)
    assert response.status_code == 400
    assert error_of(response)["code"] == code
    assert details in error_of(response)["error_data"]["details"]
    assert emulator.messages_to(ADA) == []


def test_a_list_of_ten_rows_and_three_buttons_are_fine(
    emulator: WhatsAppEmulator, graph: httpx.Client
) -> None:
    emulator.text(ADA, "hi")
    assert send(graph, buttons("Yes, that's fine", "No, thank you", "x" * 20)).status_code == 200
    assert send(graph, list_message(*(f"Row {n}" for n in range(10)))).status_code == 200
    assert send(graph, list_message("x" * 24, button="x" * 20)).status_code == 200


def test_a_wrong_token_or_number_is_refused(
    emulator: WhatsAppEmulator, graph: httpx.Client
) -> None:
    emulator.text(ADA, "hi")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": DEFAULT_TOKEN}):
        response = httpx.post(
            f"{emulator.url}/{VERSION}/{DEFAULT_PHONE_NUMBER_ID}/messages",
            json=text(),
            headers=headers,
        )
        assert response.status_code == 401
        assert error_of(response)["code"] == 190
    unknown = send(graph, text(), number="999")
    assert unknown.status_code == 400 and error_of(unknown)["code"] == 100
    assert emulator.messages_to(ADA) == []
    assert len(emulator.calls()) == 4  # refused calls are recorded too

    number = graph.get(f"/{DEFAULT_PHONE_NUMBER_ID}")
    assert number.status_code == 200
    assert number.json()["verified_name"] == "Open Health Commons"
    assert graph.get("/999").status_code == 400


def test_throughput_and_pair_limits_answer_130429_and_131056_and_deliver_nothing(
    clock: Clock,
) -> None:
    with WhatsAppEmulator(number_limit=(4, 60.0), pair_limit=(2, 60.0), clock=clock) as emulator:
        for wa_id in (ADA, GRACE):
            emulator.text(wa_id, "hi")
        headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
        with httpx.Client(base_url=f"{emulator.url}/{VERSION}", headers=headers) as graph:
            assert [send(graph, text(ADA)).status_code for _ in range(2)] == [200, 200]
            pair = send(graph, text(ADA))
            assert pair.status_code == 400
            assert pair.json()["error"] == {
                "message": "(#131056) (Business Account, Consumer Account) pair rate limit hit",
                "type": "OAuthException",
                "code": 131056,
                "error_data": {
                    "messaging_product": "whatsapp",
                    "details": "Message failed to send because there were too many messages"
                    " sent from this phone number to the same phone number in a short period"
                    " of time.",
                },
                "fbtrace_id": pair.json()["error"]["fbtrace_id"],
            }
            assert send(graph, text(GRACE)).status_code == 200  # another member: fine
            # 4 so far (the refused one counted): the number's throughput is spent.
            throughput = send(graph, text(GRACE))
            assert throughput.status_code == 400
            assert error_of(throughput)["code"] == 130429
            assert error_of(throughput)["message"] == "(#130429) Rate limit hit"
        assert len(emulator.messages_to(ADA)) == 2 and len(emulator.messages_to(GRACE)) == 1


def test_faults_answer_first(emulator: WhatsAppEmulator, graph: httpx.Client) -> None:
    emulator.text(ADA, "hi")
    emulator.faults.add(Fault(status=503, body={"error": {"code": 2, "message": "down"}}))
    emulator.faults.add(Fault(status=429, headers={"Retry-After": "3"}))
    assert send(graph, text()).status_code == 503
    limited = send(graph, text())
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
    assert send(graph, text()).status_code == 200
    assert len(emulator.messages_to(ADA)) == 1


def test_inbound_builders_follow_meta_s_webhook_shapes(
    emulator: WhatsAppEmulator, clock: Clock
) -> None:
    assert emulator.last_inbound(ADA) is None
    notification = emulator.text(ADA, "Hi there")
    assert emulator.last_inbound(ADA) == clock.now
    assert notification["object"] == "whatsapp_business_account"
    [entry] = notification["entry"]
    [change] = entry["changes"]
    assert change["field"] == "messages"
    value = change["value"]
    assert value["messaging_product"] == "whatsapp"
    assert value["metadata"]["phone_number_id"] == DEFAULT_PHONE_NUMBER_ID
    assert value["contacts"] == [{"profile": {"name": "Ada Lovelace"}, "wa_id": ADA}]
    [message] = value["messages"]
    assert message == {
        "from": ADA,
        "id": message["id"],
        "timestamp": str(int(clock.now.timestamp())),
        "type": "text",
        "text": {"body": "Hi there"},
    }
    assert message_id(notification) == message["id"] and message["id"].startswith("wamid.")

    tap = emulator.button_reply(ADA, "c:consent:yes", "Yes", context="wamid.X")
    tapped = tap["entry"][0]["changes"][0]["value"]["messages"][0]
    assert tapped["type"] == "interactive" and tapped["context"]["id"] == "wamid.X"
    assert tapped["interactive"] == {
        "type": "button_reply",
        "button_reply": {"id": "c:consent:yes", "title": "Yes"},
    }
    row = emulator.list_reply(ADA, "c:start:docs", "Docs")["entry"][0]["changes"][0]
    assert row["value"]["messages"][0]["interactive"]["list_reply"]["id"] == "c:start:docs"
    kinds = [
        emulator.image(ADA, caption="me"),
        emulator.reaction(ADA, "wamid.X"),
        emulator.location(ADA),
        emulator.sticker(ADA),
        emulator.unsupported(ADA),
        emulator.quick_reply(ADA, "Continue", "continue"),
    ]
    types = [n["entry"][0]["changes"][0]["value"]["messages"][0]["type"] for n in kinds]
    assert types == ["image", "reaction", "location", "sticker", "unsupported", "button"]
    group = emulator.group_text(ADA, "Y2FwaV9ncm91cDox", "hello all")
    assert group["entry"][0]["changes"][0]["value"]["messages"][0]["group_id"] == "Y2FwaV9ncm91cDox"

    both = combine(emulator.text(ADA, "one"), emulator.text(GRACE, "two"))
    assert len(both["entry"]) == 2


def test_status_callbacks_come_in_the_order_asked_and_failures_carry_errors(
    emulator: WhatsAppEmulator, graph: httpx.Client
) -> None:
    emulator.text(ADA, "hi")
    wamid = send(graph, text()).json()["messages"][0]["id"]
    callbacks = emulator.statuses_for(
        wamid, "read", "sent", "failed", error=(131026, "Message undeliverable", "Not on WhatsApp")
    )
    statuses = [n["entry"][0]["changes"][0]["value"]["statuses"][0] for n in callbacks]
    assert [s["status"] for s in statuses] == ["read", "sent", "failed"]
    assert {s["id"] for s in statuses} == {wamid}
    assert {s["recipient_id"] for s in statuses} == {ADA}
    assert statuses[2]["errors"][0] == {
        "code": 131026,
        "title": "Message undeliverable",
        "message": "Message undeliverable",
        "error_data": {"details": "Not on WhatsApp"},
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
    }
    assert "errors" not in statuses[0] and "pricing" in statuses[0]


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[Request | bytes]]]:
    seen: list[Request | bytes] = []

    async def hook(request: Request) -> Response:
        seen.append(request)
        seen.append(await request.body())
        if request.method == "GET":
            return PlainTextResponse(request.query_params["hub.challenge"])
        return Response(status_code=200)

    with FakeServer(Starlette(routes=[Route("/hook", hook, methods=["GET", "POST"])])) as server:
        yield f"{server.url}/hook", seen


def test_deliver_posts_the_raw_bytes_signed_with_the_app_secret(
    emulator: WhatsAppEmulator, webhook: tuple[str, list[Request | bytes]]
) -> None:
    url, seen = webhook
    emulator.user(ADA, "Zoë")
    notification = emulator.text(ADA, "Olá, ça va? 👋")
    assert emulator.deliver(url, notification).status_code == 200
    request, body = seen
    assert isinstance(request, Request) and isinstance(body, bytes)
    assert b"\\u00e7a va" in body and "ç".encode() not in body  # escaped, as Meta sends
    assert json.loads(body) == notification
    expected = hmac.new(DEFAULT_APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert request.headers["x-hub-signature-256"] == f"sha256={expected}"
    assert request.headers["content-type"] == "application/json"

    emulator.deliver(url, notification, app_secret="another")
    assert seen[2].headers["x-hub-signature-256"] != f"sha256={expected}"  # type: ignore[union-attr]
    emulator.deliver(url, b"{", headers={"Content-Type": "application/json"})
    assert seen[5] == b"{" and "x-hub-signature-256" not in seen[4].headers  # type: ignore[union-attr]


def test_verify_sends_meta_s_verification_request(
    emulator: WhatsAppEmulator, webhook: tuple[str, list[Request | bytes]]
) -> None:
    url, seen = webhook
    response = emulator.verify(url, "my-token", challenge="42")
    assert (response.status_code, response.text) == (200, "42")
    request = seen[0]
    assert isinstance(request, Request)
    assert dict(request.query_params) == {
        "hub.mode": "subscribe",
        "hub.verify_token": "my-token",
        "hub.challenge": "42",
    }
