"""bench/webhooks.py on a tiny community, in its own processes: the events are acknowledged
and every reply is delivered once and in order, by one replica on SQLite killed halfway and
started again, and by two replicas sharing PostgreSQL. No timing is asserted (tests never
do): only that the run did the work it reports, and that two replicas, one sending, keep
within the workspace's limit together. (A replica killed among others on
PostgreSQL, whose leases the others take over after 20 s, is the benchmark's own run, in
docs/developers/benchmarks.md; the takeover itself is tested in tests/bot/test_sender*.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import POSTGRES_URL, SKIP_POSTGRES

pytestmark = pytest.mark.processes  # real bot processes: one such test at a time
ROOT = Path(__file__).resolve().parents[2]


def bench(*arguments: str) -> dict[str, Any]:
    command = [sys.executable, str(ROOT / "bench" / "webhooks.py"), "--members", "6"]
    command += ["--channel-rate", "20"]  # Slack's 1 a second per DM would take 15 s here
    done = subprocess.run(
        [*command, *arguments], capture_output=True, text=True, timeout=240, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def delivered_once_each(figures: dict[str, Any]) -> None:
    """Every outbox row sent and in the emulator once, in order; except that a message the
    platform took in the instant of a kill, before the replica recorded it, is sent again
    (bot/sender.py: the one gap an outbox cannot close): never more than were being sent."""
    in_flight = (figures["killed"] or {}).get("sending_at_kill", 0)
    assert figures["events_given_up"] == 0
    assert figures["outbox"] == {"sent": figures["messages_expected"]}
    assert figures["messages_expected"] > 6
    assert figures["lost"] == 0 and figures["out_of_order_members"] == 0
    assert 0 <= figures["duplicated"] <= in_flight
    assert figures["messages_delivered"] == figures["messages_expected"] + figures["duplicated"]
    assert figures["bot_cpu_ms_per_event"] > 0
    assert all(peak > 0 for peak in figures["bot_peak_rss_mb"])


def test_one_replica_on_sqlite_killed_halfway_and_started_again() -> None:
    figures = bench("--postgres", "", "--kill")
    assert (figures["database"], figures["replicas"], figures["events"]) == ("sqlite", 1, 54)
    killed = figures["killed"]
    assert killed["replica"] == 0 and killed["after_events_acknowledged"] == 27
    assert killed["back_after_seconds"] > 0
    delivered_once_each(figures)


@pytest.mark.skipif(POSTGRES_URL is None, reason=SKIP_POSTGRES)
def test_two_replicas_on_postgresql() -> None:
    assert POSTGRES_URL is not None
    # A workspace limit two senders would go past together: one replica sends (bot/sender.py).
    figures = bench("--replicas", "2", "--postgres", POSTGRES_URL, "--workspace-rate", "10")
    assert (figures["database"], figures["replicas"], figures["killed"]) == ("postgresql", 2, None)
    assert len(figures["bot_peak_rss_mb"]) == 2 and figures["non_2xx"] == 0
    assert figures["rate_limited_429s"] == 0
    delivered_once_each(figures)
