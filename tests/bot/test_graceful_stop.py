"""SIGTERM and SIGINT stop a real `onramp run` gracefully: intake stops, the turns and sends in
flight finish and are recorded, `onramp stopped` is logged, the exit code is 0, and after the
restart nothing is lost or sent twice."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from adapters.slack.adapter import EVENTS_PATH
from tests.fakes.server import Fault
from tests.fakes.slack import SlackEmulator, event_callback, im_message, signed_headers, team_join

pytestmark = pytest.mark.processes  # timed real processes: one at a time (tests/conftest.py)

ROOT = Path(__file__).resolve().parents[2]
BOT_TOKEN = "xoxb-stop"
SIGNING_SECRET = "stop-signing-secret"
ANSWERS = ["1", "Français", "Nairobi", "1, 4"]  # the sample onboarding's first questions
MEMBERS = 40
SEND_SECONDS = 0.25  # each chat.postMessage takes this long: sends are in flight at the signal
STOP_TIMEOUT = 20


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(folder: Path, slack: SlackEmulator, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "ONRAMP_SLACK__API_URL": slack.api_url,
        "ONRAMP_SLACK__CHANNEL_LIMIT": "[50, 1.0]",
        "ONRAMP_SLACK__WORKSPACE_LIMIT": "[1000, 1.0]",
        "ONRAMP_WEB__HOST": "127.0.0.1",
        "ONRAMP_WEB__PORT": str(port),
        "ONRAMP_DATABASE__URL": f"sqlite+aiosqlite:///{folder / 'onramp.db'}",
        "ONRAMP_LOGGING__FILE": str(folder / "onramp.log"),
        "ONRAMP_RUNTIME__STOP_TIMEOUT_SECONDS": str(STOP_TIMEOUT),
    }


@contextlib.contextmanager
def _bot(
    environment: dict[str, str], folder: Path, *args: str
) -> Iterator[subprocess.Popen[bytes]]:
    with (folder / "output.txt").open("ab") as output:
        bot = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", *args],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
        )
    try:
        yield bot
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()


async def _ready(base_url: str, bot: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession(base_url, timeout=aiohttp.ClientTimeout(total=2)) as http:
        while time.monotonic() < deadline:
            assert bot.poll() is None, "the bot exited while starting"
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get("/readyz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise AssertionError("the bot was not ready within 60 s")


class Members:
    """Each member's events (a join, then answers), each with a fixed event id: what Slack
    delivers again, under the same id, until it is acknowledged."""

    def __init__(self, slack: SlackEmulator) -> None:
        self.users = [
            slack.add_user(f"U{n:09d}", display_name=f"Newcomer {n}") for n in range(MEMBERS)
        ]
        self.events = {
            user["id"]: [
                event_callback(team_join(user)).payload,
                *(event_callback(im_message(user["id"], text)).payload for text in ANSWERS),
            ]
            for user in self.users
        }
        self.acknowledged: dict[str, int] = Counter()  # per member, events acknowledged 2xx
        self.unanswered = 0  # requests the bot took but did not answer (it was stopping)

    def ids(self, acknowledged_only: bool = True) -> set[str]:
        return {
            event["event_id"]
            for user, events in self.events.items()
            for event in events[: self.acknowledged[user] if acknowledged_only else None]
        }

    async def post_all(self, base_url: str, stop: asyncio.Event | None = None) -> None:
        """Every member's events not yet acknowledged, each member in order, all members at
        once; a member stops at the first event not acknowledged (as Slack would retry it)."""
        async with aiohttp.ClientSession(
            base_url, timeout=aiohttp.ClientTimeout(total=STOP_TIMEOUT + 10)
        ) as http:

            async def member(user: str) -> None:
                for event in self.events[user][self.acknowledged[user] :]:
                    body = json.dumps(event).encode()
                    try:
                        async with http.post(
                            EVENTS_PATH, data=body, headers=signed_headers(body, SIGNING_SECRET)
                        ) as response:
                            await response.read()
                    except aiohttp.ClientConnectorError:
                        return  # the bot no longer listens
                    except (aiohttp.ClientError, TimeoutError):
                        self.unanswered += 1
                        return
                    if response.status != 200:
                        return
                    self.acknowledged[user] += 1
                    if stop is not None and stop.is_set():
                        return

            await asyncio.gather(*(member(user["id"]) for user in self.users))

    async def deliver_until_acknowledged(self, base_url: str) -> None:
        """What Slack does for a running bot: an event answered 503 (not committed within the
        acknowledgement budget, as on a busy machine) is delivered again until it is taken."""
        total = MEMBERS * (len(ANSWERS) + 1)
        for _ in range(20):
            await self.post_all(base_url)
            if sum(self.acknowledged.values()) == total:
                return
            await asyncio.sleep(0.5)


def _rows(database: Path) -> list[tuple[int, str, str, str | None]]:
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as db:
        return db.execute("SELECT id, recipient, status, delivery_id FROM outbox").fetchall()


def _processed(database: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as db:
        return {key for (key,) in db.execute("SELECT dedupe_key FROM processed_event")}


def _delivered(slack: SlackEmulator, members: Members) -> Counter[str]:
    """How many times each message `ts` is in the workspace (one per member's DM)."""
    return Counter(
        message["ts"] for user in members.users for message in slack.messages_to(user["id"])
    )


def _in_flight(slack: SlackEmulator, members: Members) -> int:
    """Messages Slack is taking (asked for, not yet in a DM)."""
    return len(slack.calls("chat.postMessage")) - sum(_delivered(slack, members).values())


def _check_no_duplicates(database: Path, slack: SlackEmulator, members: Members) -> None:
    """Every message the workspace holds is a row recorded as sent with that message's ts:
    a message sent but not recorded would go a second time after the restart."""
    delivered = _delivered(slack, members)
    assert all(n == 1 for n in delivered.values())
    sent = {delivery_id for _, _, status, delivery_id in _rows(database) if status == "sent"}
    assert set(delivered) == sent


async def _wait_until_delivered(database: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        statuses = Counter(status for _, _, status, _ in _rows(database))
        if statuses and set(statuses) == {"sent"}:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"messages left undelivered: {statuses}")


async def test_sigterm_mid_burst_loses_nothing_and_sends_nothing_twice(tmp_path: Path) -> None:
    with SlackEmulator(bot_token=BOT_TOKEN, channel_limit=None, workspace_limit=None) as slack:
        slack.faults.add(Fault(delay=SEND_SECONDS, times=10**6, path="chat.postMessage"))
        members = Members(slack)
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        environment = _environment(tmp_path, slack, port)
        log = tmp_path / "onramp.log"

        with _bot(environment, tmp_path, "--adapter", "slack") as bot:
            await _ready(base_url, bot)
            stop = asyncio.Event()
            burst = asyncio.create_task(members.post_all(base_url, stop))
            deadline = time.monotonic() + 30
            while _in_flight(slack, members) < 5 or sum(members.acknowledged.values()) < MEMBERS:
                assert time.monotonic() < deadline, "the burst did not get going"
                await asyncio.sleep(0.005)
            bot.send_signal(signal.SIGTERM)  # mid-burst, messages out with Slack
            stop.set()
            code = await asyncio.to_thread(bot.wait, STOP_TIMEOUT + 10)
            await burst
        assert code == 0, (tmp_path / "output.txt").read_text()
        text = log.read_text()
        assert "stopping signal=SIGTERM" in text and "onramp stopped" in text
        assert "Traceback" not in text and "ERROR" not in text
        # Every acknowledged event was committed; every message out with Slack was recorded.
        assert members.ids() <= _processed(tmp_path / "onramp.db")
        _check_no_duplicates(tmp_path / "onramp.db", slack, members)
        assert sum(members.acknowledged.values()) < MEMBERS * (len(ANSWERS) + 1)  # cut short

        # After the restart, Slack delivers what was not acknowledged, and the rest goes out.
        with _bot(environment, tmp_path, "--adapter", "slack") as bot:
            await _ready(base_url, bot)
            await members.deliver_until_acknowledged(base_url)
            await _wait_until_delivered(tmp_path / "onramp.db")
            bot.send_signal(signal.SIGINT)
            assert await asyncio.to_thread(bot.wait, STOP_TIMEOUT + 10) == 0
        assert sum(members.acknowledged.values()) == MEMBERS * (len(ANSWERS) + 1)
        assert members.ids() <= _processed(tmp_path / "onramp.db")
        _check_no_duplicates(tmp_path / "onramp.db", slack, members)
        per_member = Counter(recipient for _, recipient, _, _ in _rows(tmp_path / "onramp.db"))
        assert len(per_member) == MEMBERS and len(set(per_member.values())) == 1  # the same for all
        assert log.read_text().count("onramp stopped") == 2


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # what a shell does for `onramp run &`


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_a_bot_started_in_the_background_stops_on_a_signal(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    log = tmp_path / "onramp.log"
    environment = {
        **os.environ,
        "ONRAMP_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'onramp.db'}",
        "ONRAMP_LOGGING__FILE": str(log),
    }
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--as", "Kim"],
        cwd=ROOT,
        env=environment,
        stdin=subprocess.PIPE,  # kept open: the console chat goes on until the signal
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=_ignore_sigint,
    )
    try:
        deadline = time.monotonic() + 60
        while "onramp started" not in (log.read_text() if log.exists() else ""):
            assert bot.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        bot.send_signal(stop_signal)
        assert bot.wait(timeout=30) == 0
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()
        assert bot.stdin is not None and bot.stdout is not None
        bot.stdin.close()
        bot.stdout.close()
    text = log.read_text()
    assert f"stopping signal={stop_signal.name}" in text
    assert "onramp stopped" in text and "Traceback" not in text
