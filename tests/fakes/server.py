"""What every platform emulator shares: an ASGI app served on loopback in its own thread.

Each emulator (`tests/fakes/slack.py`, `tests/fakes/telegram.py`, …) is a Starlette app that
answers like the platform's real API, so the real SDK can be pointed at it through the base
URL setting. It runs in a thread with its own event loop, so it keeps answering while a test
blocks its own loop or drives a synchronous client. It records every request, enforces rate
limits with 429s, and can be told to fail (`Faults`).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from typing import Any

import uvicorn
from starlette.applications import Starlette


@dataclass(frozen=True)
class Recorded:
    """One request the emulator received, as the platform would have seen it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    params: dict[str, Any]  # the decoded form, JSON or query parameters
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Upload:
    """A file the bot uploaded (a part of a multipart form with a filename, or a raw body), as
    the emulator received it: the tests read it back from here."""

    filename: str
    media_type: str
    content: bytes


def multipart_form(content_type: str, body: bytes) -> dict[str, str | Upload]:
    """The fields of a `multipart/form-data` body: text fields as text, file parts (those with
    a filename) as `Upload`s. Empty when the body is not multipart or has no boundary."""
    if not content_type.startswith("multipart/form-data") or "boundary=" not in content_type:
        return {}
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    fields: dict[str, str | Upload] = {}
    for part in BytesParser(policy=policy.HTTP).parsebytes(head + body).walk():
        name = part.get_param("name", header="content-disposition")
        content = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(content, bytes):
            continue
        filename = part.get_filename()
        if filename is not None:
            fields[name] = Upload(filename, part.get_content_type(), content)
        else:
            fields[name] = content.decode()
    return fields


@dataclass
class Fault:
    """An injected failure: answer `status` (with `body`) or stall `delay` seconds first."""

    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int = 1
    path: str | None = None  # only requests whose path ends with this


class Faults:
    """A queue of failures the next matching requests get, in order."""

    def __init__(self) -> None:
        self._pending: deque[Fault] = deque()
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._pending.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def take(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._pending:
                if fault.path is None or path.endswith(fault.path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._pending.remove(fault)
                    return fault
        return None


class RateLimiter:
    """A sliding-window limit per key: `limit` requests per `per` seconds.

    `hit` counts a request and returns None when it is allowed, or how many seconds the caller
    must wait, as the platform says in its 429.
    """

    def __init__(self, limit: int, per: float) -> None:
        self.limit = limit
        self.per = per
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> float | None:
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits[key]
            while hits and now - hits[0] >= self.per:
                hits.popleft()
            if len(hits) >= self.limit:
                return self.per - (now - hits[0])
            hits.append(now)
            return None


class FakeServer:
    """Serves `app` on 127.0.0.1 at a free port, in a daemon thread, until `stop()`."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name=f"fake:{self.port}", daemon=True)

    def _serve(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def start(self) -> FakeServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the emulator on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
