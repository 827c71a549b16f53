"""The web server: health, readiness, metrics, the adapters' routes, and what it refuses.

Every test talks to a real uvicorn on a free port over real HTTP.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.memory import Chat, MemoryAdapter
from bot.adapter import DeliveryError
from bot.events import MemberJoined, MessageReceived
from bot.runtime import Onramp
from bot.settings import Settings, WebSettings
from bot.web import WebServer, WebServerError, create_app
from flows.content import load_tree_or_raise
from storage.session import Database
from tests.conftest import CONTENT, FakeClock
from tests.features import ACTIONS

LIMIT = 4096  # web.max_body_bytes in these tests


class HookAdapter(MemoryAdapter):
    """A webhook platform in miniature: its one route turns a posted JSON object into an
    event, and it can be told to report itself not ready."""

    name = "hook"

    def __init__(self) -> None:
        super().__init__()
        self.is_ready = True
        self.handled = 0

    def routes(self) -> list[Any]:
        return [Route("/hook/events", self.events, methods=["POST"])]

    def ready(self) -> bool:
        return self.is_ready

    async def events(self, request: Request) -> Response:
        self.handled += 1
        update = await request.json()
        assert self.inbox is not None
        receipt = await self.inbox(
            MessageReceived(
                platform="hook",
                dedupe_key=update["id"],
                actor=update["user"],
                conversation=update["user"],
                text=update["text"],
            )
        )
        return JSONResponse({"duplicate": receipt.duplicate})


class Samples:
    """One scrape of /metrics: sample values by name and labels (absent means 0)."""

    def __init__(self, exposition: str) -> None:
        self.values = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(exposition)
            for sample in family.samples
        }

    def __call__(self, name: str, **labels: str) -> float:
        return self.values.get((name, frozenset(labels.items())), 0.0)

    def has(self, name: str, **labels: str) -> bool:
        if labels:
            return (name, frozenset(labels.items())) in self.values
        return any(sample_name == name for sample_name, _ in self.values)


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return Samples(response.text)


def serving_settings(settings: Settings, **web: Any) -> Settings:
    settings.web = WebSettings(host="127.0.0.1", port=0, max_body_bytes=LIMIT, **web)
    return settings


def client(port: int | None) -> httpx.AsyncClient:
    assert port
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10)


@pytest.fixture
def hook() -> HookAdapter:
    return HookAdapter()


@pytest.fixture
async def served(
    settings: Settings,
    database_url: str,
    memory: MemoryAdapter,
    hook: HookAdapter,
    clock: FakeClock,
) -> AsyncIterator[Onramp]:
    """The runtime with the memory adapter and the webhook one, on SQLite and PostgreSQL."""
    settings.database.url = database_url
    onramp = await Onramp.create(
        serving_settings(settings), {"memory": memory, "hook": hook}, clock=clock
    )
    await onramp.start()
    try:
        yield onramp
    finally:
        await onramp.stop()


@pytest.fixture
async def http(served: Onramp) -> AsyncIterator[httpx.AsyncClient]:
    assert served.web is not None
    async with client(served.web.port) as http_client:
        yield http_client


async def test_healthz_says_the_process_runs(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_checks_the_database_and_every_adapter(
    http: httpx.AsyncClient, hook: HookAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="onramp.web")
    response = await http.get("/readyz")
    assert (response.status_code, response.json()) == (200, {"status": "ready"})

    hook.is_ready = False
    response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "not ready", "not_ready": ["hook"]}
    logged = [getattr(r, "not_ready", None) for r in caplog.records if r.msg == "not ready"]
    assert logged == ["hook"]  # once, when readiness changed

    hook.is_ready = True
    assert (await http.get("/readyz")).status_code == 200


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_readyz_names_a_database_that_does_not_answer(
    backend: str, settings: Settings, hook: HookAdapter, tmp_path: Path, clock: FakeClock
) -> None:
    if backend == "sqlite":
        folder = tmp_path / "gone"
        db = Database.from_url(f"sqlite+aiosqlite:///{folder / 'onramp.db'}")
        folder.rmdir()  # SQLite cannot create the file in a folder that no longer exists
    else:
        db = Database.from_url("postgresql+asyncpg://onramp@127.0.0.1:1/onramp")  # nobody there
    onramp = Onramp(
        serving_settings(settings),
        load_tree_or_raise(CONTENT, actions=ACTIONS),
        db,
        {"hook": hook},
        clock,
    )
    server = WebServer(create_app(onramp), onramp.settings.web)
    await server.start()
    try:
        async with client(server.port) as http:
            response = await http.get("/readyz")
            assert response.status_code == 503
            assert response.json() == {"status": "not ready", "not_ready": ["database"]}
            assert (await http.get("/healthz")).status_code == 200
            samples = await scrape(http)  # the counters are still served, without the backlog
            assert samples.has("onramp_events_received_total")
            assert not samples.has("onramp_outbox_pending")
    finally:
        await server.stop()
        await db.dispose()


async def test_metrics_count_received_and_deduplicated_events(
    served: Onramp, http: httpx.AsyncClient, memory: MemoryAdapter
) -> None:
    chat = Chat(memory, user="ada", display_name="Ada")
    join = MemberJoined(platform="memory", dedupe_key="join-ada", actor="ada", conversation="ada")
    before = await scrape(http)
    # Every adapter's series exist from the start, at zero until something happens.
    assert before.has("onramp_events_received_total", platform="hook")
    assert before.has("onramp_messages_retried_total", platform="memory")

    assert not (await chat.send_event(join)).duplicate
    once = await scrape(http)
    assert (await chat.send_event(join)).duplicate  # the platform delivered it again
    twice = await scrape(http)

    received = "onramp_events_received_total"
    deduplicated = "onramp_events_deduplicated_total"
    assert once(received, platform="memory") - before(received, platform="memory") == 1
    assert once(deduplicated, platform="memory") == before(deduplicated, platform="memory")
    assert twice(received, platform="memory") - once(received, platform="memory") == 1
    assert twice(deduplicated, platform="memory") - once(deduplicated, platform="memory") == 1
    assert twice(received, platform="hook") == before(received, platform="hook")


async def test_metrics_count_deliveries_retries_and_failures(
    served: Onramp, http: httpx.AsyncClient, memory: MemoryAdapter, clock: FakeClock
) -> None:
    # Her platform says her language (as Slack's and Telegram's do): a join is two messages.
    chat = Chat(memory, user="ada", display_name="Ada", locale_hint="en")
    sent, retried, failed = (
        "onramp_messages_sent_total",
        "onramp_messages_retried_total",
        "onramp_messages_failed_total",
    )
    before = await scrape(http)
    assert before("onramp_outbox_pending", platform="memory") == 0

    memory.failures.append(DeliveryError("503 Service Unavailable"))
    await chat.join()  # two messages: the first fails and will be retried, the second waits
    waiting = await scrape(http)
    assert waiting(retried, platform="memory") - before(retried, platform="memory") == 1
    assert waiting(sent, platform="memory") == before(sent, platform="memory")
    assert waiting("onramp_outbox_pending", platform="memory") == 2

    clock.advance(seconds=3)
    await served.sender.deliver(None)
    delivered = await scrape(http)
    assert delivered(sent, platform="memory") - waiting(sent, platform="memory") == 2
    assert delivered("onramp_outbox_pending", platform="memory") == 0
    chat.expect("Hello Ada")
    chat.expect("quick question")

    memory.failures.append(DeliveryError("429 Too Many Requests", retry_after=30))
    await chat.say("2")  # declines consent: one reply, throttled (retried, not failed)
    throttled = await scrape(http)
    assert throttled(retried, platform="memory") - delivered(retried, platform="memory") == 1
    assert throttled(failed, platform="memory") == delivered(failed, platform="memory")

    memory.failures.append(DeliveryError("user blocked the bot", permanent=True))
    clock.advance(seconds=31)
    await served.sender.deliver(None)
    given_up = await scrape(http)
    assert given_up(failed, platform="memory") - throttled(failed, platform="memory") == 1
    assert given_up(sent, platform="memory") == throttled(sent, platform="memory")
    assert given_up("onramp_outbox_pending", platform="memory") == 0


async def test_an_adapters_route_is_mounted_and_reaches_the_core(
    http: httpx.AsyncClient, hook: HookAdapter
) -> None:
    replies = hook.listen("bea")
    update = {"id": "update-1", "user": "bea", "text": "hello"}
    response = await http.post("/hook/events", json=update)
    assert (response.status_code, response.json()) == (200, {"duplicate": False})
    first_reply = await asyncio.wait_for(replies.get(), 10)
    assert first_reply.platform == "hook"

    again = await http.post("/hook/events", json=update)  # the platform redelivers
    assert again.json() == {"duplicate": True}
    assert hook.handled == 2


async def test_an_oversized_body_is_refused_before_any_route_sees_it(
    http: httpx.AsyncClient, hook: HookAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="onramp.web")
    before = await scrape(http)

    declared = await http.post("/hook/events", content=b"x" * (LIMIT + 1))
    assert declared.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked encoding
        for _ in range(5):
            yield b"y" * 1024

    streamed = await http.post("/hook/events", content=chunks())
    assert streamed.status_code == 413
    assert hook.handled == 0

    after = await scrape(http)
    rejected = "onramp_events_rejected_total"
    labels = {"platform": "hook", "reason": "body_too_large"}
    assert after(rejected, **labels) - before(rejected, **labels) == 2
    reasons = [getattr(r, "reason", None) for r in caplog.records if r.msg == "request rejected"]
    assert reasons == [
        f"body of {LIMIT + 1} bytes (Content-Length) exceeds web.max_body_bytes = {LIMIT}",
        f"body of at least {LIMIT + 1024} bytes (streamed) exceeds web.max_body_bytes = {LIMIT}",
    ]

    update = {"id": "update-2", "user": "cy", "text": "hi", "padding": ""}
    update["padding"] = "p" * (LIMIT - len(json.dumps(update)))
    at_limit = await http.post("/hook/events", content=json.dumps(update).encode())
    assert at_limit.status_code == 200  # the limit itself is allowed
    assert hook.handled == 1


async def test_unknown_paths_and_wrong_methods_are_refused_and_logged(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="onramp.web")
    assert (await http.get("/wp-login.php")).status_code == 404
    wrong_method = await http.get("/hook/events")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    assert [
        (getattr(r, "status", None), getattr(r, "method", None), getattr(r, "path", None))
        for r in caplog.records
        if r.msg == "request rejected"
    ] == [(404, "GET", "/wp-login.php"), (405, "GET", "/hook/events")]


async def test_without_routes_auto_starts_no_server(onramp: Onramp) -> None:
    assert onramp.settings.web.enabled == "auto"
    assert onramp.web is None  # the memory adapter has no routes: `make run` stays as it is


async def test_always_serves_health_and_metrics_without_routes(
    settings: Settings, memory: MemoryAdapter, clock: FakeClock
) -> None:
    onramp = await Onramp.create(
        serving_settings(settings, enabled="always"), {"memory": memory}, clock=clock
    )
    await onramp.start()
    try:
        assert onramp.web is not None
        async with client(onramp.web.port) as http:
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.get("/readyz")).status_code == 200
    finally:
        await onramp.stop()
    assert onramp.web.task is None  # stopped with the runtime


async def test_never_starts_no_server_even_with_routes(
    settings: Settings, hook: HookAdapter, clock: FakeClock
) -> None:
    onramp = await Onramp.create(
        serving_settings(settings, enabled="never"), {"hook": hook}, clock=clock
    )
    await onramp.start()
    try:
        assert onramp.web is None
    finally:
        await onramp.stop()


async def test_a_busy_port_stops_start_up_before_anything_starts(
    settings: Settings, hook: HookAdapter, clock: FakeClock
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        settings.web = WebSettings(host="127.0.0.1", port=port)
        onramp = await Onramp.create(settings, {"hook": hook}, clock=clock)
        try:
            with pytest.raises(WebServerError, match=f"cannot listen on 127.0.0.1:{port}: "):
                await onramp.start()
            assert hook.inbox is None  # the adapter was never started
        finally:
            await onramp.stop()


async def test_an_adapter_cannot_take_the_servers_own_paths(
    settings: Settings, clock: FakeClock
) -> None:
    class Squatter(MemoryAdapter):
        def routes(self) -> list[Any]:
            return [Route("/metrics", lambda request: Response("mine"))]

    onramp = await Onramp.create(settings, {"squatter": Squatter()}, clock=clock)
    try:
        with pytest.raises(WebServerError, match="route /metrics is taken by the web server"):
            create_app(onramp)
    finally:
        await onramp.db.dispose()


async def test_metrics_name_the_running_version(http: httpx.AsyncClient) -> None:
    from bot.version import VERSION

    samples = await scrape(http)
    assert samples("onramp_build_info", version=VERSION) == 1.0


class GateAdapter(MemoryAdapter):
    """A webhook whose requests wait, inside the route, until the test opens the gate."""

    name = "gate"

    def __init__(self) -> None:
        super().__init__()
        self.inside = 0
        self.arrived = asyncio.Event()
        self.gate = asyncio.Event()

    def routes(self) -> list[Any]:
        return [Route("/gate/events", self.events, methods=["POST"])]

    async def events(self, request: Request) -> Response:
        self.inside += 1
        self.arrived.set()
        await self.gate.wait()
        return JSONResponse({"ok": True})


async def test_webhooks_wait_their_turn_and_health_never_waits(
    settings: Settings, clock: FakeClock
) -> None:
    """A burst is handled `max_concurrent_webhooks` at a time, in order; /healthz, /readyz and
    /metrics are answered while every slot is taken."""
    gate = GateAdapter()
    onramp = await Onramp.create(
        serving_settings(settings, max_concurrent_webhooks=2), {"gate": gate}, clock=clock
    )
    await onramp.start()
    try:
        assert onramp.web is not None
        async with client(onramp.web.port) as http:
            burst = [asyncio.create_task(http.post("/gate/events", json={})) for _ in range(5)]
            while gate.inside < 2:
                await gate.arrived.wait()
                gate.arrived.clear()
            for path in ("/healthz", "/readyz", "/metrics"):
                assert (await http.get(path)).status_code == 200  # every slot is taken
            assert gate.inside == 2  # the other three wait, before any work is done on them
            gate.gate.set()
            answers = await asyncio.gather(*burst)
        assert [answer.status_code for answer in answers] == [200] * 5
        assert gate.inside == 5
    finally:
        await onramp.stop()


async def test_stopping_logs_that_the_bot_stopped(
    settings: Settings, hook: HookAdapter, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    onramp = await Onramp.create(serving_settings(settings), {"hook": hook}, clock=clock)
    await onramp.start()
    caplog.set_level(logging.INFO, logger="onramp.runtime")
    await onramp.stop()
    assert [r.getMessage() for r in caplog.records if r.name == "onramp.runtime"][-1] == (
        "onramp stopped"
    )
