"""`onramp dashboard`: a real process serves the dashboard on 127.0.0.1 and prints a sign-in
link that works; whom the link is for is said in one line when it cannot be told; Ctrl-C
stops it cleanly."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bot.health.viewer import COOKIE
from storage.migrate import upgrade
from storage.models import Identity, Member
from storage.session import Database
from tests.clock import FakeClock
from tests.conftest import ROOT
from tests.support.launcher import run_module

LINK = re.compile(r"http://127\.0\.0\.1:(\d+)(/dashboard/sign-in/[A-Za-z0-9_.\-]+)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ONRAMP_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'onramp.db'}",
        "ONRAMP_LOGGING__FILE": str(tmp_path / "onramp.log"),
        "ONRAMP_SECRET_KEY": "a test secret",
    }


async def community(tmp_path: Path, clock: FakeClock, *names: tuple[str, bool]) -> None:
    """Console members (name, is a manager), as `make run` makes them."""
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'onramp.db'}")
    await upgrade(db.engine)
    try:
        async with db.transaction() as session:
            for name, manager in names:
                row = Member(
                    display_name=name.capitalize(),
                    roles=["manager"] if manager else [],
                    created_at=clock.now,
                    last_active_at=clock.now,
                )
                session.add(row)
                await session.flush()
                session.add(
                    Identity(
                        member_id=row.id, platform="console", external_id=name, created_at=clock.now
                    )
                )
    finally:
        await db.dispose()


def onramp_dashboard(
    clock: FakeClock, environment: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    return run_module(
        "tests.bot.onramp_at", [*clock.argv(), "dashboard", *args], cwd=ROOT, env=environment
    )


Start = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def served(clock: FakeClock, environment: dict[str, str]) -> Iterator[Start]:
    """`onramp dashboard ARGS` started in a process of its own, stopped after the test."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.bot.onramp_at", *clock.argv(), "dashboard", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=environment,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)  # and its pipes closed


def printed_link(process: subprocess.Popen[str]) -> tuple[int, str, list[str]]:
    """Read what the command prints until its link: (port, path, lines)."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            stderr = process.stderr.read() if process.stderr else ""
            raise AssertionError(f"exited {process.wait(10)}: {lines} {stderr}")
        lines.append(line.rstrip("\n"))
        if found := LINK.search(line):
            return int(found[1]), found[2], lines
    raise AssertionError(f"no link printed: {lines}")


async def test_it_serves_the_dashboard_and_prints_a_link_that_signs_in(
    tmp_path: Path, clock: FakeClock, served: Start
) -> None:
    await community(tmp_path, clock, ("ada", True), ("bob", False))
    port = free_port()
    process = served("--as", "console:ada", "--port", str(port))
    printed_port, path, lines = printed_link(process)
    assert printed_port == port
    assert any("Ada" in line for line in lines)

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        page = await client.get(path)
        assert page.status_code == 200
        proof = re.search(r'name="proof" value="([0-9a-f]+)"', page.text)
        assert proof is not None
        signed = await client.post(path, data={"proof": proof[1]})
        assert signed.status_code == 303, signed.text
        assert signed.headers["location"] == "/dashboard"
        assert COOKIE in signed.cookies
        assert "Secure" not in signed.headers["set-cookie"]  # plain http on this machine
        again = await client.post(path, data={"proof": proof[1]})
        assert again.status_code == 410

    process.send_signal(signal.SIGINT)  # Ctrl-C
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0
    assert "Traceback" not in stderr


async def test_the_only_manager_is_chosen_without_as(
    tmp_path: Path, clock: FakeClock, served: Start
) -> None:
    await community(tmp_path, clock, ("ada", True), ("bob", False))
    process = served("--port", str(free_port()))
    _, _, lines = printed_link(process)
    assert any("Ada" in line for line in lines)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=20)
    assert process.returncode == 0


@pytest.mark.parametrize(
    ("members", "args", "said"),
    [
        ((("ada", True), ("bob", False)), ("--as", "console:bob"), "is not a manager"),
        ((("ada", True),), ("--as", "nobody"), "No member 'nobody'"),
        ((("bob", False),), (), "onramp role"),
        ((("ada", True), ("cy", True)), (), "choose one with --as"),
    ],
)
async def test_whom_the_link_is_for_is_said_in_one_line_when_it_is_unclear(
    tmp_path: Path,
    clock: FakeClock,
    environment: dict[str, str],
    members: tuple[tuple[str, bool], ...],
    args: tuple[str, ...],
    said: str,
) -> None:
    await community(tmp_path, clock, *members)
    done = onramp_dashboard(clock, environment, *args, "--port", str(free_port()))
    assert done.returncode == 1
    assert said in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "/dashboard/sign-in/" not in done.stdout
