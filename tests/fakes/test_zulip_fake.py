"""The Zulip emulator answers the real `zulip` client like a Zulip server does."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import zulip
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import FakeServer
from tests.fakes.zulip import ZulipEmulator

JSON = dict[str, Any]


@pytest.fixture
def emulator() -> Iterator[ZulipEmulator]:
    with ZulipEmulator(heartbeat_seconds=0.3, rate_limit=None) as emulator:
        yield emulator


@pytest.fixture
def client(emulator: ZulipEmulator) -> Iterator[zulip.Client]:
    client = zulip.Client(
        email=emulator.email, api_key=emulator.api_key, site=emulator.url, retry_on_errors=False
    )
    yield client
    if client.session is not None:
        client.session.close()


def test_the_client_starts_against_it_and_authenticates(
    emulator: ZulipEmulator, client: zulip.Client
) -> None:
    assert (client.zulip_version, client.feature_level) == ("10.0", emulator.feature_level)
    [settings] = [r for r in emulator.requests if r.path == "/api/v1/server_settings"]
    assert settings.method == "GET"
    me = client.get_profile()
    assert (me["result"], me["user_id"], me["full_name"], me["is_bot"]) == (
        "success",
        9,
        "Onramp",
        True,
    )
    assert client.get_user_by_id(9)["user"]["email"] == emulator.email
    assert client.get_user_by_id(12345) == {
        "result": "error",
        "msg": "No such user",
        "code": "BAD_REQUEST",
    }

    wrong = zulip.Client(email=emulator.email, api_key="nope", site=emulator.url)
    assert wrong.get_profile() == {
        "result": "error",
        "msg": "Invalid API key",
        "code": "UNAUTHORIZED",
    }
    assert wrong.session is not None
    wrong.session.close()
    anonymous = httpx.get(f"{emulator.url}/api/v1/users/me")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "UNAUTHORIZED"
    assert httpx.get(f"{emulator.url}/api/v1/server_settings").status_code == 200


def test_a_queue_gets_joins_and_messages_at_once_and_heartbeats_otherwise(
    emulator: ZulipEmulator, client: zulip.Client
) -> None:
    registered = client.register(["message", "realm_user"], fetch_event_types=["realm_user"])
    assert registered["last_event_id"] == -1 and "max_message_id" not in registered
    assert registered["event_queue_longpoll_timeout_seconds"] == 90
    assert [u["full_name"] for u in registered["realm_users"]] == ["Onramp"]
    queue = registered["queue_id"]

    ada = emulator.user_joins("Ada Lovelace", timezone="Europe/London")
    [joined] = client.get_events(queue_id=queue, last_event_id=-1)["events"]
    assert joined == {"type": "realm_user", "op": "add", "person": ada, "id": 0}
    assert ada["date_joined"].endswith("+00:00") and ada["is_bot"] is False

    started = time.monotonic()
    heartbeat = client.get_events(queue_id=queue, last_event_id=0)["events"]
    assert heartbeat == [{"type": "heartbeat", "id": 1}]
    assert time.monotonic() - started >= 0.3

    answer: list[JSON] = []
    poll = threading.Thread(
        target=lambda: answer.append(client.get_events(queue_id=queue, last_event_id=1))
    )
    poll.start()
    while emulator.long_polls == 0:
        time.sleep(0.01)
    message = emulator.dm_from(ada, "hello")
    poll.join(5)
    [event] = answer[0]["events"]
    assert event["type"] == "message" and event["flags"] == [] and event["id"] == 2
    assert event["message"] == message
    assert message["type"] == "private" and message["content"] == "hello"
    assert [r["id"] for r in message["display_recipient"]] == [9, ada["user_id"]]
    # Unconfirmed, it comes again; confirmed, it is gone.
    assert client.get_events(queue_id=queue, last_event_id=1, dont_block=True)["events"] == [event]
    assert client.get_events(queue_id=queue, last_event_id=2, dont_block=True)["events"] == []


def test_expired_deleted_and_unknown_queues_are_bad_event_queue_ids(
    emulator: ZulipEmulator, client: zulip.Client
) -> None:
    def bad(queue_id: str) -> JSON:
        return {
            "result": "error",
            "msg": f"Bad event queue ID: {queue_id}",
            "code": "BAD_EVENT_QUEUE_ID",
            "queue_id": queue_id,
        }

    assert client.get_events(queue_id="nope", last_event_id=-1) == bad("nope")

    first = client.register(["message"])["queue_id"]
    answer: list[JSON] = []
    poll = threading.Thread(
        target=lambda: answer.append(client.get_events(queue_id=first, last_event_id=-1))
    )
    poll.start()
    while emulator.long_polls == 0:
        time.sleep(0.01)
    emulator.expire_queues()  # the waiting poll learns at once
    poll.join(5)
    assert answer == [bad(first)]

    second = client.register(["message"])["queue_id"]
    assert client.deregister(second) == {"result": "success", "msg": ""}
    assert client.get_events(queue_id=second, last_event_id=-1) == bad(second)

    emulator.queue_timeout_seconds = 0.1
    third = client.register(["message"])["queue_id"]
    time.sleep(0.2)  # nobody polled it: garbage-collected
    assert client.get_events(queue_id=third, last_event_id=-1) == bad(third)


def test_sending_messages(emulator: ZulipEmulator, client: zulip.Client) -> None:
    ada = emulator.add_user("Ada")
    queue = client.register(["message"])["queue_id"]
    sent = client.send_message({"type": "direct", "to": [ada["user_id"]], "content": "hi **Ada**"})
    assert sent == {"result": "success", "msg": "", "id": sent["id"]}
    by_email = client.send_message({"type": "private", "to": ada["email"], "content": "again"})
    to_stream = client.send_message(
        {"type": "stream", "to": "general", "topic": "hello", "content": "all"}
    )
    assert by_email["result"] == to_stream["result"] == "success"
    assert [m["content"] for m in emulator.messages_to(ada)] == ["hi **Ada**", "again"]
    assert [m["display_recipient"] for m in emulator.sent()][2] == "general"
    own = client.get_events(queue_id=queue, last_event_id=-1, dont_block=True)["events"]
    assert [(e["message"]["id"], e["flags"]) for e in own] == [
        (sent["id"], ["read"]),
        (by_email["id"], ["read"]),
        (to_stream["id"], ["read"]),
    ]

    refusals = [
        ({"type": "direct", "to": [424242], "content": "x"}, "Invalid user ID 424242"),
        ({"type": "private", "to": "nobody@example.org", "content": "x"}, "Invalid email"),
        ({"type": "direct", "to": [ada["user_id"]], "content": "  "}, "Message must not be"),
        ({"type": "carrier", "to": [ada["user_id"]], "content": "x"}, "Invalid message type"),
    ]
    for request, msg in refusals:
        answer = client.send_message(request)
        assert answer["result"] == "error" and answer["msg"].startswith(msg), answer
        assert answer["code"] == "BAD_REQUEST"
    long = client.send_message({"type": "direct", "to": [ada["user_id"]], "content": "x" * 10_050})
    assert long["result"] == "success"
    assert emulator.messages_to(ada)[-1]["content"].endswith("\n[message truncated]")


def test_direct_is_a_message_type_from_feature_level_174() -> None:
    with ZulipEmulator(feature_level=170) as old:
        client = zulip.Client(email=old.email, api_key=old.api_key, site=old.url)
        ada = old.add_user("Ada")
        assert client.feature_level == 170
        assert client.send_message({"type": "direct", "to": [ada["user_id"]], "content": "x"})[
            "msg"
        ] == ("Invalid message type")
        assert client.send_message({"type": "private", "to": [ada["user_id"]], "content": "x"})[
            "result"
        ] == ("success")
        assert client.session is not None
        client.session.close()


def test_fetching_messages_by_narrow(emulator: ZulipEmulator, client: zulip.Client) -> None:
    ada, bea = emulator.add_user("Ada"), emulator.add_user("Bea")
    direct = [emulator.dm_from(ada, f"hello {n}") for n in range(3)]
    called = emulator.stream_message(bea, "general", "hi", "onboard")
    emulator.stream_message(bea, "general", "hi", "chatter", mention_bot=False)
    emulator.stream_message(bea, "general", "hi", "@**all** at 5", mention_bot=False)

    def fetch(operand: str, before: int = 10) -> list[JSON]:
        narrow = [{"operator": "is", "operand": operand}]
        answer = client.get_messages(
            {"anchor": "newest", "num_before": before, "num_after": 0, "narrow": narrow}
        )
        assert answer["result"] == "success", answer
        messages: list[JSON] = answer["messages"]
        return messages

    assert [m["id"] for m in fetch("dm")] == [m["id"] for m in direct]
    assert [m["id"] for m in fetch("dm", before=2)] == [m["id"] for m in direct[1:]]
    assert fetch("private") == fetch("dm")
    mentioned = fetch("mentioned")
    assert [m["id"] for m in mentioned[:1]] == [called["id"]] and len(mentioned) == 2
    assert mentioned[0]["flags"] == ["mentioned"]
    assert mentioned[1]["flags"] == ["wildcard_mentioned"]
    assert mentioned[0]["subject"] == "hi" and mentioned[0]["display_recipient"] == "general"
    unknown = client.get_messages(
        {"anchor": "newest", "num_before": 1, "num_after": 0, "narrow": [["has", "link"]]}
    )
    assert unknown["result"] == "error" and "Invalid narrow operator" in unknown["msg"]


def test_rate_limit_headers_and_429() -> None:
    with ZulipEmulator(rate_limit=(2, 1.0)) as emulator:
        auth = (emulator.email, emulator.api_key)
        with httpx.Client(base_url=f"{emulator.url}/api/v1", auth=auth) as http:
            first, second, third = (http.get("/users/me") for _ in range(3))
            events = http.get("/events", params={"queue_id": "x", "last_event_id": -1})
    assert first.headers["X-RateLimit-Limit"] == "2"
    assert (first.headers["X-RateLimit-Remaining"], second.headers["X-RateLimit-Remaining"]) == (
        "1",
        "0",
    )
    assert float(first.headers["X-RateLimit-Reset"]) >= time.time() - 1
    assert third.status_code == 429
    body = third.json()
    assert (body["result"], body["code"], body["msg"]) == (
        "error",
        "RATE_LIMIT_HIT",
        "API usage exceeded rate limit",
    )
    assert 0 < body["retry-after"] <= 1.0 and third.headers["Retry-After"] == "1"
    assert events.status_code == 400  # /events is not rate-limited: an answer, not a 429
    assert emulator.throttled == ["/api/v1/users/me"]


def test_faults(emulator: ZulipEmulator, client: zulip.Client) -> None:
    emulator.fail("messages", 502, times=2)
    request = {"type": "direct", "to": [9], "content": "x"}
    for _ in range(2):
        assert client.send_message(request)["msg"] == "Internal server error"
    assert client.send_message(request)["result"] == "success"


def test_outgoing_webhooks_and_what_zulip_does_with_the_answer(emulator: ZulipEmulator) -> None:
    ada = emulator.add_user("Ada")
    answers = iter(
        [
            JSONResponse({"content": "Hello **Ada**"}),
            JSONResponse({"response_not_required": True}),
            Response("nope", status_code=403),
            JSONResponse({"content": "In the channel"}),
        ]
    )
    received: list[JSON] = []

    async def bot(request: Request) -> Response:
        received.append(json.loads(await request.body()))
        return next(answers)

    with FakeServer(Starlette(routes=[Route("/hook", bot, methods=["POST"])])) as server:
        url = f"{server.url}/hook"
        dm = emulator.dm_from(ada, "hi")
        for _ in range(3):
            emulator.deliver_webhook(url, emulator.outgoing_webhook_payload(dm, "t0ken"))
        called = emulator.stream_message(ada, "general", "intro", "hello")
        emulator.deliver_webhook(url, emulator.outgoing_webhook_payload(called, "t0ken"))

    payload = received[0]
    assert set(payload) == {"bot_email", "bot_full_name", "data", "message", "token", "trigger"}
    assert (payload["token"], payload["trigger"], payload["data"]) == (
        "t0ken",
        "direct_message",
        "hi",
    )
    assert (
        payload["message"]["id"] == dm["id"] and payload["message"]["sender_id"] == ada["user_id"]
    )
    assert received[3]["trigger"] == "mention"
    assert [m["content"] for m in emulator.messages_to(ada)] == [
        "Hello **Ada**",
        "Failure! Third party responded with 403",
    ]
    [in_channel] = [m for m in emulator.sent() if m["type"] == "stream"]
    assert (in_channel["content"], in_channel["subject"]) == ("In the channel", "intro")


def test_a_stopped_server_cannot_be_reached() -> None:
    with ZulipEmulator() as emulator:
        url = emulator.url
    with pytest.raises(zulip.UnrecoverableNetworkError):
        zulip.Client(email=emulator.email, api_key=emulator.api_key, site=url)
