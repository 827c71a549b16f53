"""The web server: the adapters' webhook routes, health, readiness, metrics and the managers'
dashboard (bot/health/) in one ASGI app.

It knows no platform. Each adapter hands over its own routes (`Adapter.routes()`), and may
tell /readyz whether it is connected and able to send with an optional `ready() -> bool`; an
adapter without one counts as ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import uvicorn
from prometheus_client.exposition import choose_encoder
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import metrics
from bot.adapter import Adapter
from bot.settings import WebSettings

if TYPE_CHECKING:
    from bot.runtime import Onramp

log = logging.getLogger("onramp.web")
OWN_PATHS = ("/healthz", "/readyz", "/metrics")
DASHBOARD = "/dashboard"  # and every path under it: the managers' pages
PRIVACY = "/privacy"  # and every path under it: members' one-time export downloads
# Probes give up after a second or two; a database that takes longer is not ready.
CHECK_TIMEOUT_SECONDS = 2.0

Owned = Sequence[tuple[str, BaseRoute]]  # (platform, route)


class WebServerError(Exception):
    pass


def wanted(settings: WebSettings, adapters: Mapping[str, Adapter]) -> bool:
    """Should this runtime serve HTTP? (`auto`: only when some adapter has routes.)"""
    with_routes = [name for name, adapter in adapters.items() if adapter.routes()]
    if settings.enabled == "never":
        if with_routes:
            log.warning(
                "web server disabled: these adapters' webhooks will receive nothing",
                extra={"adapters": ",".join(with_routes)},
            )
        return False
    return settings.enabled == "always" or bool(with_routes)


def create_app(onramp: Onramp) -> Starlette:
    owned = [
        (platform, route)
        for platform, adapter in onramp.adapters.items()
        for route in adapter.routes()
    ]
    _refuse_clashes(owned)
    probes = _Probes(onramp)
    return Starlette(
        routes=[
            Route("/healthz", _healthz),
            Route("/readyz", probes.readyz),
            Route("/metrics", probes.scrape),
            *dashboard_routes(onramp),
            *privacy_routes(onramp),
            *(route for _, route in owned),
        ],
        middleware=[
            Middleware(Admission, limit=onramp.settings.web.max_concurrent_webhooks),
            Middleware(BodyLimit, max_bytes=onramp.settings.web.max_body_bytes, owned=owned),
        ],
        exception_handlers={HTTPException: _rejected},
    )


def dashboard_routes(onramp: Onramp) -> list[BaseRoute]:
    """The managers' dashboard and its sign-in pages; /dashboard in chat then hands out
    links to it. Imported here, when served: a bot that serves no web app never loads it."""
    from bot.health import access, chat, dashboard
    from bot.health.signing import LinkSigner

    signer = LinkSigner.from_settings(onramp.settings, onramp.clock)
    chat.serve_links(onramp.registry, chat.Links(signer, onramp.settings.web.base_url()))
    return [*access.routes(onramp, signer), *dashboard.routes(onramp)]


def privacy_routes(onramp: Onramp) -> list[BaseRoute]:
    """A member's export downloaded once (bot/privacy_web.py); /privacy in chat then hands
    out links to it."""
    from bot import privacy_web
    from bot.health.signing import secret_key

    links = privacy_web.Downloads(secret_key, onramp.clock, onramp.settings.dashboard.link_minutes)
    return privacy_web.routes(onramp, links)


def _refuse_clashes(owned: Owned) -> None:
    owners: dict[str, str] = dict.fromkeys(OWN_PATHS, "the web server")
    for platform, route in owned:
        path = getattr(route, "path", None)
        if path is None:
            continue
        for own, whose in ((DASHBOARD, "the dashboard's"), (PRIVACY, "the privacy downloads'")):
            if path == own or path.startswith(f"{own}/"):
                raise WebServerError(f"adapter {platform!r}: route {path} is {whose}")
        if path in owners:
            raise WebServerError(f"adapter {platform!r}: route {path} is taken by {owners[path]}")
        owners[path] = f"adapter {platform!r}"


async def _healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


class _Probes:
    def __init__(self, onramp: Onramp) -> None:
        self.onramp = onramp
        self._not_ready: list[str] = []

    async def readyz(self, request: Request) -> Response:
        not_ready: list[str] = []
        database_error = await self._database_error()
        if database_error is not None:
            not_ready.append("database")
        not_ready += [
            name for name, adapter in self.onramp.adapters.items() if not _adapter_ready(adapter)
        ]
        if not_ready != self._not_ready:  # log changes, not every probe
            if not_ready:
                log.warning(
                    "not ready",
                    extra={"not_ready": ",".join(not_ready), "reason": database_error or ""},
                )
            else:
                log.info("ready")
            self._not_ready = not_ready
        if not_ready:
            return JSONResponse({"status": "not ready", "not_ready": not_ready}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def _database_error(self) -> str | None:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                async with self.onramp.db.reading() as session:
                    await session.execute(text("SELECT 1"))
        except Exception as exc:  # whatever it is, the database does not answer
            return f"{type(exc).__name__}: {exc}"[:300]
        return None

    async def scrape(self, request: Request) -> Response:
        pending: dict[str, int] | None
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                backlog = await metrics.outbox_pending(self.onramp.db)
        except Exception as exc:  # the counters are still worth serving without the backlog
            log.warning("outbox backlog unavailable", extra={"reason": str(exc)[:200]})
            pending = None
        else:
            pending = dict.fromkeys(self.onramp.adapters, 0) | backlog
        onboarding = self.onramp.content.community.onboarding_flow
        business = await metrics.business(self.onramp.db, onboarding, self.onramp.clock())
        encode, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(
            encode(metrics.Scrape(pending, business)), headers={"Content-Type": content_type}
        )


def _adapter_ready(adapter: Adapter) -> bool:
    try:
        return bool(adapter.ready())
    except Exception:
        log.exception("adapter %s failed to say whether it is ready", adapter.name)
        return False


async def _rejected(request: Request, exc: Exception) -> Response:
    """Starlette's answer to an HTTPException (404, 405, or one an adapter raised), logged."""
    assert isinstance(exc, HTTPException)
    _log_rejection(request.scope, exc.status_code, exc.detail)
    if exc.status_code in {204, 304}:
        return Response(status_code=exc.status_code, headers=exc.headers)
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)


def _log_rejection(scope: Scope, status: int, reason: str) -> None:
    log.log(
        logging.WARNING if status == 413 else logging.INFO,
        "request rejected",
        extra={
            "status": status,
            "method": scope.get("method", ""),
            "path": scope.get("path", "")[:200],
            "reason": reason,
        },
    )


class Admission:
    """At most `limit` requests are handled at once; the rest wait for a slot, in order of
    arrival, before any work is done on them. The server's own paths never wait.

    Without it, a burst of a thousand webhooks is handled all at once: each request's share of
    the one event loop shrinks as more arrive, every one of them misses the platform's
    acknowledgement deadline, and a health probe queues behind all of them (ten seconds for a
    liveness probe that gives up after a few). With it, the first ones are acknowledged in
    time, the rest in turn, and the probes (and the dashboard's pages) are answered between
    them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self._slots = asyncio.Semaphore(limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _webhook(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        async with self._slots:
            await self.app(scope, receive, send)


def _webhook(path: str) -> bool:
    """Whether a request may be a platform's (a webhook): not the server's own paths, nor a
    manager's page, which must not wait behind a burst of webhooks (nor take their slots)."""
    if path in OWN_PATHS:
        return False
    return not any(path == own or path.startswith(f"{own}/") for own in (DASHBOARD, PRIVACY))


class BodyLimit:
    """Answers 413 to a request body over `max_bytes` before any route sees the request.

    The body is read here in full (up to the limit) and handed on: webhook handlers need all of
    it anyway (a signature covers it). So no handler ever starts on a body that turns out too
    large, whether the client declared its length or streamed it in chunks. (A client still
    sending a big body when the 413 goes out may see the connection reset instead: the unread
    rest is not drained.)
    """

    def __init__(self, app: ASGIApp, max_bytes: int, owned: Owned) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.owned = owned

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send, f"{declared} bytes (Content-Length)")
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client is gone: nobody to answer
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._refuse(scope, receive, send, f"at least {len(body)} bytes (streamed)")
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: str) -> None:
        _log_rejection(scope, 413, f"body of {size} exceeds web.max_body_bytes = {self.max_bytes}")
        platform = self._platform(scope)
        if platform is not None:
            metrics.rejected(platform, "body_too_large")
        # The rest of the body stays unread, so this connection cannot carry another request.
        response = PlainTextResponse(
            "Request body too large", status_code=413, headers={"Connection": "close"}
        )
        await response(scope, receive, send)

    def _platform(self, scope: Scope) -> str | None:
        for platform, route in self.owned:
            if route.matches(scope)[0] is not Match.NONE:
                return platform
        return None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            with contextlib.suppress(ValueError):
                return int(value)
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that yields the buffered body once, then waits on the real one (which
    reports the client disconnecting)."""
    pending: Iterator[Message] = iter([{"type": "http.request", "body": body, "more_body": False}])

    async def replayed() -> Message:
        return next(pending, None) or await receive()

    return replayed


def _without_colour(record: logging.LogRecord) -> bool:
    # uvicorn attaches an ANSI-coloured copy of some messages, which our formatters would print
    # as one more field.
    record.__dict__.pop("color_message", None)
    return True


logging.getLogger("uvicorn.error").addFilter(_without_colour)


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Signals belong to the process that embeds the server: `onramp run` stops the whole
        # runtime on SIGINT, the web server with it.
        yield


class WebServer:
    """uvicorn serving `app` in the running event loop, without lifespan events and without
    touching the logging configuration (`log_config=None`): the runtime owns both."""

    def __init__(self, app: ASGIApp, settings: WebSettings, grace_seconds: int = 5) -> None:
        self.host = settings.host
        self.requested_port = settings.port
        self.port: int | None = None  # the bound one (settings may say 0)
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            access_log=False,  # rejected requests are logged by the app, one line each
            ws="none",
            server_header=False,
            # At a stop, requests in flight get this long to be answered (their events'
            # commits); then they are cancelled, unanswered, and the platform delivers again.
            timeout_graceful_shutdown=grace_seconds,
        )
        self._server = _EmbeddedServer(config)
        self._socket: socket.socket | None = None
        self.task: asyncio.Task[None] | None = None

    def bind(self) -> None:
        """Take the port. Done here rather than by uvicorn, which exits the process when the
        port is busy; and it can be done early, so a busy port stops the bot before anything
        has started. Connections wait in the backlog until `start`."""
        if self._socket is not None:
            return
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            self._socket = socket.create_server((self.host, self.requested_port), family=family)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise WebServerError(
                f"the web server cannot listen on {self.host}:{self.requested_port}: {reason}"
                " (see [web] host and port)"
            ) from exc
        self.port = self._socket.getsockname()[1]

    async def start(self) -> None:
        """Serve (binding first if need be); returns once requests are being accepted."""
        self.bind()
        assert self._socket is not None
        sock, self._socket = self._socket, None  # uvicorn closes it when it shuts down
        self.task = asyncio.create_task(self._server.serve(sockets=[sock]), name="onramp-web")
        while not self._server.started:
            if self.task.done():
                sock.close()
                await self.task  # raises what stopped it, if anything did
                raise WebServerError("the web server stopped while starting")
            await asyncio.sleep(0.01)
        log.info("web server listening", extra={"host": self.host, "port": self.port})

    async def stop(self) -> None:
        if self._socket is not None:  # bound, never served
            self._socket.close()
            self._socket = None
        if self.task is None:
            return
        self._server.should_exit = True
        task, self.task = self.task, None
        await task
