"""Signed webhooks posted to the running bot, replies to the platform's emulator.

    python bench/webhooks.py [--platform slack|whatsapp] [--members 150] [--concurrency 32]
        [--workspace-rate 50] [--channel-rate 1] [--timeout 120]
        [--replicas N [--postgres URL]] [--kill]

With `--platform whatsapp`, newcomers write to the business number (text messages in Meta's
notification shape, signed with X-Hub-Signature-256) and the bot answers through the
WhatsApp Graph emulator (tests/fakes/whatsapp.py); `--workspace-rate` is then the number's
messages per second and `--channel-rate` the messages per second to one member. The rest is
as for Slack, below.

The bot runs as its own process (`onramp run --adapter slack`) on a temporary SQLite database,
with the Web API pointed at the Slack emulator (tests/fakes/slack.py), which runs in this
process and enforces the same chat.postMessage limits the bot is configured to keep to:
`--workspace-rate` messages a second in the workspace, `--channel-rate` per conversation.

- Ingest: `members` newcomers each join the workspace (`team_join`) and type their answers to
  the sample onboarding (`message.im`). Each event is signed and posted to /slack/events the
  way Slack does it, with at most `concurrency` requests in flight. A newcomer's next event
  goes only after the previous one was acknowledged, so newcomers interleave. A request that
  is not answered 2xx is posted again, as Slack would. Reports accepted events/s and ack
  latency (time to the HTTP answer; Slack waits 3 s).
- Delivery: waits until the outbox has no undelivered message left. Reports messages
  delivered per second against the workspace limit, the 429s the emulator answered, and
  losses and duplicates: every outbox row must be in the emulator exactly once (matched by
  its delivery id, the message's `ts`), in order per member, and no row may have failed.

Scale-out: `--replicas N` runs N `onramp run` processes on one PostgreSQL database (a new
one on the server of `--postgres`, else of ONRAMP_TEST_POSTGRES_URL, dropped afterwards) and
posts each event to the next replica in turn, as a round-robin load balancer would. With
`--kill`, the first replica (the one that started first, so it holds the singleton jobs'
lock) is sent SIGKILL once half the events were acknowledged: it leaves the rotation at once
(a load balancer's health check would take a moment longer: the requests in flight to it
fail and are posted again to the others, as Slack retries them). With one replica, it is
started again and rejoins the rotation. The sender's lease is 20 s here (60 by default), so
what the killed replica held is sent by the others within the run. Lost and duplicated are
counted as always. A message the platform accepted in the instant before the kill, which the
replica never recorded, is looked up on Slack before it goes again (`Adapter.already_sent`);
on WhatsApp, which cannot be asked, it is sent again and counted in `duplicated`. Only rows
leased for sending at the kill can be, and `killed.sending_at_kill` says how many there were
(an upper bound: some were still waiting for their turn under the rate limit).

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from adapters.slack.adapter import EVENTS_PATH  # noqa: E402
from storage.database import create_engine  # noqa: E402
from tests.fakes.slack import (  # noqa: E402
    SlackEmulator,
    event_callback,
    im_message,
    signed_headers,
    team_join,
)
from tests.fakes.whatsapp import WhatsAppEmulator  # noqa: E402
from tests.postgres import create_postgres_database, drop_postgres_database  # noqa: E402

# One newcomer's whole onboarding, typed: the sample's questions take a choice's number or label.
ANSWERS = ["1", "Français", "Nairobi", "1, 4", "1", "2", "5", "1"]
BOT_TOKEN = "xoxb-bench"
SIGNING_SECRET = "bench-signing-secret"
MAX_POSTS = 5  # per event: Slack retries an unacknowledged event three times
OPEN = ("pending", "sending")  # outbox rows not delivered yet
LEASE_SECONDS = 20  # the sender's lease in these runs (bot/sender.py needs more than 15)
RETRY_PAUSE = 0.05  # seconds before an event is posted again after a failed post


@dataclass
class Ingest:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    accepted: int = 0
    given_up: int = 0
    seconds: float = 0.0
    joined: dict[str, float] = field(default_factory=dict)  # member: when the join was acked


def member_id(n: int) -> str:
    return f"U{n:09d}"  # what Slack's user ids look like: U followed by [A-Z0-9]


def event_body(user: dict[str, Any], position: int) -> bytes:
    """A newcomer's event at `position`: the join, then each answer in turn."""
    if position == 0:
        return event_callback(team_join(user)).body
    return event_callback(im_message(user["id"], ANSWERS[position - 1])).body


@dataclass
class Platform:
    """What differs between platforms: their webhook, their payloads, their emulator."""

    adapter: str
    path: str
    users: list[dict[str, Any]]  # each with the platform's "id" for the member
    body: Callable[[dict[str, Any], int], bytes]  # the member's event at a position
    sign: Callable[[bytes], dict[str, str]]
    retry_headers: Callable[[int], dict[str, str]]
    environment: dict[str, str]
    delivered: Callable[[str], list[tuple[str, float]]]  # (delivery id, when) per member
    posts: Callable[[], int]  # sends the emulator was asked for, refused ones included


def slack_platform(slack: SlackEmulator, args: argparse.Namespace) -> Platform:
    users = [
        slack.add_user(member_id(n), display_name=f"Newcomer {n}")
        for n in range(1, args.members + 1)
    ]
    return Platform(
        adapter="slack",
        path=EVENTS_PATH,
        users=users,
        body=event_body,
        sign=lambda body: signed_headers(body, SIGNING_SECRET),  # fresh timestamp each time
        retry_headers=lambda attempt: {
            "X-Slack-Retry-Num": str(attempt),
            "X-Slack-Retry-Reason": "bench",
        },
        environment={
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "ONRAMP_SLACK__API_URL": slack.api_url,
            "ONRAMP_SLACK__CHANNEL_LIMIT": json.dumps([args.channel_rate, 1.0]),
            "ONRAMP_SLACK__WORKSPACE_LIMIT": json.dumps([args.workspace_rate, 1.0]),
        },
        delivered=lambda user: [(m["ts"], float(m["ts"])) for m in slack.messages_to(user)],
        posts=lambda: len(slack.calls("chat.postMessage")),
    )


def whatsapp_platform(whatsapp: WhatsAppEmulator, args: argparse.Namespace) -> Platform:
    users = [
        {"id": whatsapp.user(f"2547{n:08d}", f"Newcomer {n}")} for n in range(1, args.members + 1)
    ]

    def body(user: dict[str, Any], position: int) -> bytes:
        text = "Hello!" if position == 0 else ANSWERS[position - 1]  # they write first
        notification = whatsapp.text(user["id"], text)  # a new wamid: built once per event
        return json.dumps(notification, ensure_ascii=True).encode()

    return Platform(
        adapter="whatsapp",
        path="/whatsapp/webhook",
        users=users,
        body=body,
        sign=whatsapp.signed,
        retry_headers=lambda attempt: {},
        environment={
            "WHATSAPP_ACCESS_TOKEN": whatsapp.access_token,
            "WHATSAPP_APP_SECRET": whatsapp.app_secret,
            "WHATSAPP_VERIFY_TOKEN": "bench-verify-token",
            "ONRAMP_WHATSAPP__PHONE_NUMBER_ID": whatsapp.phone_number_id,
            "ONRAMP_WHATSAPP__GRAPH_URL": whatsapp.url,
            "ONRAMP_WHATSAPP__NUMBER_LIMIT": json.dumps([args.workspace_rate, 1.0]),
            "ONRAMP_WHATSAPP__PAIR_LIMIT": json.dumps([args.channel_rate, 1.0]),
        },
        delivered=lambda user: [(m.id, m.at.timestamp()) for m in whatsapp.messages_to(user)],
        posts=lambda: len(whatsapp.calls()),
    )


class Rotation:
    """The replicas a load balancer sends to, each request to the next in turn; a replica
    taken out (killed) gets none until it is put back."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = list(urls)
        self._turn = 0
        self._any = asyncio.Event()
        self._any.set()

    async def next(self) -> str:
        while not self.urls:
            await self._any.wait()
        self._turn += 1
        return self.urls[self._turn % len(self.urls)]

    def remove(self, url: str) -> None:
        self.urls.remove(url)
        if not self.urls:
            self._any.clear()

    def add(self, url: str) -> None:
        self.urls.append(url)
        self._any.set()


async def ingest(
    rotation: Rotation,
    platform: Platform,
    concurrency: int,
    halfway: Callable[[int], Coroutine[Any, Any, None]] | None = None,
) -> Ingest:
    """Each worker takes the next newcomer whose previous event was acknowledged; `halfway`
    runs (beside the posting) once half the events were acknowledged, told how many.

    aiohttp, not httpx: httpx's AsyncClient spends so long in its connection pool under
    concurrent requests (encode/httpx#3215) that it, not the bot, set the pace: at 32 in
    flight it measured a quarter of the events/s and six times the p99 on this machine."""
    run = Ingest()
    ready: asyncio.Queue[tuple[dict[str, Any], int]] = asyncio.Queue()
    for user in platform.users:
        ready.put_nowait((user, 0))
    half = len(platform.users) * (len(ANSWERS) + 1) // 2
    beside: list[asyncio.Task[None]] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def post(body: bytes, attempt: int) -> bool:
            headers = platform.sign(body)  # signed as it goes: fresh timestamp
            if attempt:
                headers |= platform.retry_headers(attempt)
            url = await rotation.next() + platform.path
            started = time.perf_counter()
            try:
                async with http.post(url, data=body, headers=headers) as response:
                    await response.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                run.statuses[type(exc).__name__] += 1
                return False
            run.latencies.append(time.perf_counter() - started)
            run.statuses[str(response.status)] += 1
            return 200 <= response.status < 300

        async def worker() -> None:
            while True:
                user, position = await ready.get()
                body = platform.body(user, position)  # the same event id on every attempt
                for attempt in range(MAX_POSTS):
                    if await post(body, attempt):
                        run.accepted += 1
                        if run.accepted == half and halfway is not None:
                            beside.append(asyncio.create_task(halfway(run.accepted)))
                        if position == 0:  # wall clock, as the emulator's message ts
                            run.joined[user["id"]] = time.time()
                        if position < len(ANSWERS):
                            ready.put_nowait((user, position + 1))
                        break
                    await asyncio.sleep(RETRY_PAUSE)
                else:
                    run.given_up += 1
                ready.task_done()

        started = time.perf_counter()
        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await ready.join()
        run.seconds = time.perf_counter() - started
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await asyncio.gather(*beside)
    return run


async def outbox_counts(engine: AsyncEngine) -> Counter[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT status, count(*) FROM outbox GROUP BY 1"))
        return Counter({status: int(n) for status, n in rows})


async def drain(engine: AsyncEngine) -> None:
    """Until no outbox row is left undelivered."""
    # The rows change in the bots' processes: polling the database is the way to wait for them.
    while True:
        counts = await outbox_counts(engine)
        if not any(counts[status] for status in OPEN):
            return
        await asyncio.sleep(0.25)


@dataclass
class Delivery:
    timestamps: list[float]  # of every message the emulator took, sorted
    lost: int  # outbox rows not in the emulator, or not sent at all
    duplicated: int  # messages in the emulator that no outbox row accounts for
    out_of_order: int  # members whose messages arrived in another order than queued
    welcome_waits: list[float]  # per member: from their join's ack to their first message


async def check_delivery(
    engine: AsyncEngine, platform: Platform, joined: dict[str, float]
) -> Delivery:
    """Each member's outbox rows, in order, against the messages the emulator took for them:
    a sent row's delivery id is the id the platform gave its message (Slack's `ts`)."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT recipient, status, delivery_id FROM outbox ORDER BY id")
        )
        queued: dict[str, list[str | None]] = {}
        for recipient, status, delivery_id in rows:
            queued.setdefault(recipient, []).append(delivery_id if status == "sent" else None)
    delivery = Delivery([], 0, 0, 0, [])
    for user in platform.users:
        rows_ids = queued.pop(user["id"], [])
        taken = platform.delivered(user["id"])
        taken_ids = [delivery_id for delivery_id, _ in taken]
        delivery.timestamps += [at for _, at in taken]
        delivery.lost += sum(1 for i in rows_ids if i not in taken_ids)
        delivery.duplicated += sum(1 for i in taken_ids if i not in rows_ids)
        arrived = [i for i in taken_ids if i in rows_ids]
        delivery.out_of_order += arrived != [i for i in rows_ids if i in taken_ids]
        if taken and user["id"] in joined:
            delivery.welcome_waits.append(max(0.0, taken[0][1] - joined[user["id"]]))
    delivery.lost += sum(map(len, queued.values()))  # rows to anyone else: none expected
    delivery.timestamps.sort()
    return delivery


def sustained_rate(timestamps: list[float], window: float) -> float:
    """Messages per second over the whole limit windows from the first message on: a limit of
    N per `window` allows at most N in each, so a sender that keeps to it never shows above
    100% (a plain count over first-to-last would, by one window's worth)."""
    if len(timestamps) < 2:
        return 0.0
    span = timestamps[-1] - timestamps[0]
    if span < window:
        return len(timestamps) / span
    measured = math.floor(span / window) * window
    return sum(1 for ts in timestamps if ts < timestamps[0] + measured) / measured


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bot_environment(platform: Platform, database_url: str, port: int, log: Path) -> dict[str, str]:
    """Settings as a deployment gives them; other ONRAMP_ variables set here still apply."""
    return {
        **os.environ,
        **platform.environment,
        "ONRAMP_WEB__HOST": "127.0.0.1",
        "ONRAMP_WEB__PORT": str(port),
        "ONRAMP_DATABASE__URL": database_url,
        "ONRAMP_LOGGING__FILE": str(log),
    }


@dataclass
class Replica:
    """One `onramp run --adapter NAME` process, started (again) by `start`."""

    number: int
    adapter: str
    environment: dict[str, str]
    folder: Path
    process: subprocess.Popen[bytes] | None = None
    earlier_cpu: float = 0.0  # seconds of CPU of its lives before a kill
    peak_rss_mb: float = 0.0  # the largest of its lives

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.environment['ONRAMP_WEB__PORT']}"

    @property
    def output(self) -> Path:
        return self.folder / f"replica-{self.number}.txt"

    def start(self) -> None:
        with open(self.output, "ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run", "--adapter", self.adapter],
                cwd=ROOT,
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
            )

    async def ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 60
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(self.url, timeout=timeout) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    text_ = self.output.read_text(errors="replace")[-2000:]
                    raise SystemExit(
                        f"the bot exited with code {self.process.returncode}:\n{text_}"
                    )
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get("/readyz") as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise SystemExit("the bot was not ready within 60 s")

    def stats(self) -> tuple[float, float]:
        """Peak RSS (MB) of any of its lives, and CPU seconds of them all."""
        assert self.process is not None
        if self.process.poll() is not None:  # killed (and not started again)
            return self.peak_rss_mb, self.earlier_cpu
        peak, cpu = process_stats(self.process.pid)
        self.peak_rss_mb = max(self.peak_rss_mb, peak)
        return self.peak_rss_mb, self.earlier_cpu + cpu

    async def kill(self) -> None:
        """SIGKILL, its CPU and memory read just before."""
        assert self.process is not None
        _, self.earlier_cpu = self.stats()
        self.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(self.process.wait)

    def stop(self) -> None:
        """A clean stop (SIGINT), as an operator's."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def process_stats(pid: int) -> tuple[float, float]:
    """A live process's peak RSS (MB) and CPU time so far (seconds)."""
    status = Path(f"/proc/{pid}/status").read_text()
    peak_kb = next(int(line.split()[1]) for line in status.splitlines() if line[:6] == "VmHWM:")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return peak_kb / 1024, cpu


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * fraction) - 1)]


@contextlib.asynccontextmanager
async def database(args: argparse.Namespace, folder: Path) -> AsyncIterator[str]:
    """The bots' database: a new PostgreSQL one (dropped after) or a SQLite file in `folder`."""
    if not args.postgres:
        yield f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        return
    url = await create_postgres_database(args.postgres, f"onramp_bench_{os.getpid()}")
    try:
        yield url
    finally:
        await drop_postgres_database(args.postgres, url)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    emulator: SlackEmulator | WhatsAppEmulator
    if args.platform == "whatsapp":
        emulator = WhatsAppEmulator(
            number_limit=(args.workspace_rate, 1.0), pair_limit=(args.channel_rate, 1.0)
        )
    else:
        emulator = SlackEmulator(
            bot_token=BOT_TOKEN,
            channel_limit=(args.channel_rate, 1.0),
            workspace_limit=(args.workspace_rate, 1.0),
        )
    with tempfile.TemporaryDirectory(prefix="onramp-bench-") as temporary, emulator:
        folder = Path(temporary)
        if isinstance(emulator, WhatsAppEmulator):
            platform = whatsapp_platform(emulator, args)
        else:
            platform = slack_platform(emulator, args)
        async with database(args, folder) as database_url:
            replicas = []
            for number in range(args.replicas):
                log = folder / f"replica-{number}.log"
                environment = bot_environment(platform, database_url, free_port(), log)
                if args.kill:
                    environment["ONRAMP_SENDER__LEASE_SECONDS"] = str(LEASE_SECONDS)
                replicas.append(Replica(number, platform.adapter, environment, folder))
            engine = create_engine(database_url)
            try:
                figures = await measured(args, platform, replicas, engine)
            finally:
                for replica in replicas:
                    replica.stop()
                await engine.dispose()
        figures.posts = platform.posts()
    return summary(args, figures, time.perf_counter() - started)


@dataclass
class Figures:
    run: Ingest
    bot_cpu_seconds: float  # during the ingest, every replica
    own_cpu_seconds: float  # the load generator's, during the ingest
    counts: Counter[str]
    delivery: Delivery
    peak_rss_mb: list[float]  # per replica
    killed: dict[str, Any] | None
    posts: int = 0


async def measured(
    args: argparse.Namespace, platform: Platform, replicas: list[Replica], engine: AsyncEngine
) -> Figures:
    """Migrates the database (`onramp db upgrade`, as a deployment does before it starts the
    new version), starts the replicas, posts every event, waits for delivery and checks it."""
    migrated = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot.cli", "db", "upgrade"],
        cwd=ROOT,
        env=replicas[0].environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if migrated.returncode != 0:
        raise SystemExit(f"onramp db upgrade failed:\n{migrated.stderr[-2000:]}")
    for replica in replicas:
        replica.start()
    for replica in replicas:
        await replica.ready()
    rotation = Rotation([replica.url for replica in replicas])
    killed: dict[str, Any] | None = None

    async def kill_one(acknowledged: int) -> None:
        nonlocal killed
        victim = replicas[0]
        rotation.remove(victim.url)
        started = time.perf_counter()
        await victim.kill()
        # Rows leased for sending at that instant (by any replica): only those can be sent
        # twice, if the platform took one just before the kill.
        leased = (await outbox_counts(engine))["sending"]
        killed = {
            "replica": victim.number,
            "after_events_acknowledged": acknowledged,
            "sending_at_kill": leased,
        }
        if not rotation.urls:  # the only one: started again, as its supervisor would
            victim.start()
            await victim.ready()
            rotation.add(victim.url)
            killed["back_after_seconds"] = round(time.perf_counter() - started, 2)

    cpu_before = sum(replica.stats()[1] for replica in replicas)
    own_cpu_before = time.process_time()
    run = await ingest(rotation, platform, args.concurrency, kill_one if args.kill else None)
    bot_cpu = sum(replica.stats()[1] for replica in replicas) - cpu_before
    own_cpu = time.process_time() - own_cpu_before
    with contextlib.suppress(TimeoutError):  # what is left undelivered is lost
        async with asyncio.timeout(args.timeout):
            await drain(engine)
    return Figures(
        run=run,
        bot_cpu_seconds=bot_cpu,
        own_cpu_seconds=own_cpu,
        counts=await outbox_counts(engine),
        delivery=await check_delivery(engine, platform, run.joined),
        peak_rss_mb=[replica.stats()[0] for replica in replicas],
        killed=killed,
    )


def summary(args: argparse.Namespace, figures: Figures, seconds: float) -> dict[str, Any]:
    run, delivery, counts = figures.run, figures.delivery, figures.counts
    delivered = delivery.timestamps or [0.0]
    latencies, waits = run.latencies or [0.0], delivery.welcome_waits or [0.0]
    rate = sustained_rate(delivery.timestamps, 1.0)
    events = args.members * (len(ANSWERS) + 1)
    return {
        "platform": args.platform,
        "members": args.members,
        "concurrency": args.concurrency,
        "events": events,
        "accepted_events_per_second": round(run.accepted / run.seconds, 1),
        "ack_latency_ms_p50": round(statistics.median(latencies) * 1000, 2),
        "ack_latency_ms_p99": round(percentile(latencies, 0.99) * 1000, 2),
        "ack_latency_ms_max": round(max(latencies) * 1000, 2),
        # Answers other than 2xx, and posts that got none (a replica killed under them).
        "non_2xx": sum(n for status, n in run.statuses.items() if not status.startswith("2")),
        "failed_posts": {
            status: n for status, n in sorted(run.statuses.items()) if not status.startswith("2")
        },
        "events_given_up": run.given_up,
        "replicas": args.replicas,
        "database": "postgresql" if args.postgres else "sqlite",
        # Of one core, all replicas together: with one, 100% means the bot set the pace.
        "bot_cpu_percent_during_ingest": round(figures.bot_cpu_seconds / run.seconds * 100),
        # Every replica's CPU during the ingest (sending included), per accepted event; the
        # database server's is not in it.
        "bot_cpu_ms_per_event": round(figures.bot_cpu_seconds / max(run.accepted, 1) * 1000, 2),
        "load_generator_cpu_percent_during_ingest": round(
            figures.own_cpu_seconds / run.seconds * 100
        ),
        "messages_expected": sum(counts.values()),
        "messages_delivered": len(delivery.timestamps),
        "delivery_seconds": round(delivered[-1] - delivered[0], 2),
        "delivered_per_second": round(rate, 2),
        "configured_rate_per_second": args.workspace_rate,
        "delivery_rate_percent": round(rate / args.workspace_rate * 100, 1),
        # The emulator refuses a well-formed post only for its rate limits.
        "rate_limited_429s": figures.posts - len(delivery.timestamps),
        "outbox": dict(sorted(counts.items())),
        "lost": delivery.lost,
        "duplicated": delivery.duplicated,
        "out_of_order_members": delivery.out_of_order,
        "welcome_wait_seconds_p50": round(statistics.median(waits), 2),
        "welcome_wait_seconds_max": round(max(waits), 2),
        "bot_peak_rss_mb": [round(peak, 1) for peak in figures.peak_rss_mb],
        "killed": figures.killed,
        "seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--platform", choices=["slack", "whatsapp"], default="slack")
    parser.add_argument("--members", type=int, default=150)
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument(
        "--workspace-rate", type=int, default=50, help="chat.postMessage per second, workspace"
    )
    parser.add_argument(
        "--channel-rate", type=int, default=1, help="chat.postMessage per second, per DM"
    )
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for delivery")
    parser.add_argument(
        "--replicas", type=int, default=1, help="onramp run processes (over 1: on PostgreSQL)"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("ONRAMP_TEST_POSTGRES_URL"),
        help="a PostgreSQL server's URL: the bots use a new database on it (else SQLite)",
    )
    parser.add_argument(
        "--kill", action="store_true", help="SIGKILL the first replica halfway through"
    )
    args = parser.parse_args()
    if args.replicas < 1:
        parser.error("--replicas: at least 1")
    if args.replicas > 1 and not args.postgres:
        parser.error("replicas share a PostgreSQL database: give --postgres URL")
    print(json.dumps(asyncio.run(bench(args)), indent=2))


if __name__ == "__main__":
    main()
