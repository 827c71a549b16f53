"""/healthz while the bot takes a burst of concurrent Slack deliveries: does a liveness probe
still get its answer in time?

    python bench/health.py [--deliveries 1000] [--probe-every 0.1]

The bot runs as its own process (`onramp run --adapter slack`) on a temporary SQLite database,
with the Web API pointed at the Slack emulator (tests/fakes/slack.py), as in bench/webhooks.py.
`deliveries` newcomers join the workspace at once: that many signed `team_join` events are
posted to /slack/events together, each on its own connection, as Slack does when a community
announces itself somewhere big. Meanwhile /healthz is asked every `probe-every` seconds, one
probe at a time on a connection of its own, the way Docker's HEALTHCHECK or a Kubernetes
liveness probe asks.

Prints one JSON object: the burst (accepted, non-2xx, seconds) and the probes' latency
(p50, p99, max, how many took longer than 1 s), before the burst and during it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from webhooks import (  # noqa: E402
    BOT_TOKEN,
    Platform,
    bot_environment,
    free_port,
    percentile,
    running_bot,
    slack_platform,
    wait_until_ready,
)

from tests.fakes.slack import SlackEmulator  # noqa: E402


async def probe(base_url: str, every: float, until: asyncio.Event) -> list[float]:
    """Seconds each /healthz took, a new connection each time (as probes do)."""
    latencies: list[float] = []
    while not until.is_set():
        started = time.perf_counter()
        timeout = aiohttp.ClientTimeout(total=30)
        async with (
            aiohttp.ClientSession(base_url, timeout=timeout) as http,
            http.get("/healthz") as response,
        ):
            await response.read()
            assert response.status == 200, response.status
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(every)
    return latencies


async def burst(base_url: str, platform: Platform) -> dict[str, Any]:
    """Every member's join, all posted at once, each on a connection of its own."""
    statuses: dict[str, int] = {}
    connector = aiohttp.TCPConnector(limit=0)  # no client-side cap: all at once
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout) as http:

        async def post(user: dict[str, Any]) -> None:
            body = platform.body(user, 0)
            try:
                async with http.post(
                    platform.path, data=body, headers=platform.sign(body)
                ) as response:
                    await response.read()
                    status = str(response.status)
            except (aiohttp.ClientError, TimeoutError) as exc:
                status = type(exc).__name__
            statuses[status] = statuses.get(status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(post(user) for user in platform.users))
        seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "statuses": statuses}


def summary(latencies: list[float]) -> dict[str, Any]:
    latencies = latencies or [0.0]
    return {
        "probes": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "over_1s": sum(1 for latency in latencies if latency > 1.0),
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    slack = SlackEmulator(bot_token=BOT_TOKEN, channel_limit=None, workspace_limit=None)
    with tempfile.TemporaryDirectory(prefix="onramp-health-") as temporary, slack:
        folder = Path(temporary)
        options = argparse.Namespace(members=args.deliveries, workspace_rate=1000, channel_rate=50)
        platform = slack_platform(slack, options)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        environment = bot_environment(folder, platform, port)
        with running_bot(environment, folder, "slack") as bot:
            await wait_until_ready(base_url, bot, folder)
            quiet_done = asyncio.Event()
            quiet = asyncio.create_task(probe(base_url, args.probe_every, quiet_done))
            await asyncio.sleep(2)
            quiet_done.set()
            idle = await quiet
            during_done = asyncio.Event()
            probing = asyncio.create_task(probe(base_url, args.probe_every, during_done))
            taken = await burst(base_url, platform)
            during_done.set()
            busy = await probing
    return {
        "deliveries": args.deliveries,
        "burst": taken,
        "healthz_idle": summary(idle),
        "healthz_during_burst": summary(busy),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--probe-every", type=float, default=0.1, help="seconds between probes")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(bench(args)), indent=2))


if __name__ == "__main__":
    main()
