"""Prometheus metrics: what arrived, what was turned away, what went out, per platform.

The counters live in Onramp's own registry, `REGISTRY`, not in prometheus_client's global
one, so /metrics shows only what Onramp chose to publish. They are process-wide, like the
process's CPU and memory figures beside them: a serving process runs one runtime, and an
adapter can count a request it turns away without holding any runtime object. (Tests start
many runtimes in one process, so they compare counts before and after, never absolute ones.)
The outbox backlog and the business gauges are the exception: they are read from a runtime's
database at each scrape (`outbox_pending`, `business`), and left out of that scrape, with a
line in the log, when the database does not answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Info,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlmodel import col

from bot.version import VERSION
from storage import outbox
from storage.health.gauges import gauges
from storage.models import Outbox
from storage.session import Database

log = logging.getLogger("onramp.metrics")
# A scrape waits no longer than this for the business gauges (Prometheus gives up at 10 s).
GAUGES_TIMEOUT_SECONDS = 2.0

REGISTRY = CollectorRegistry()
for _standard in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    REGISTRY.register(_standard)

# Which version is running: `onramp_build_info{version="0.1.0"} 1`, for dashboards and for
# telling replicas apart during a rolling upgrade.
Info("onramp_build", "The running Onramp's version.", registry=REGISTRY).info({"version": VERSION})

_received = Counter(
    "onramp_events_received",
    "Events adapters handed to the core.",
    ["platform"],
    registry=REGISTRY,
)
_deduplicated = Counter(
    "onramp_events_deduplicated",
    "Received events the core had already processed (platform redeliveries).",
    ["platform"],
    registry=REGISTRY,
)
_rejected = Counter(
    "onramp_events_rejected",
    "Requests turned away before they became events, by reason.",
    ["platform", "reason"],
    registry=REGISTRY,
)
_sent = Counter(
    "onramp_messages_sent",
    "Messages the platform accepted.",
    ["platform"],
    registry=REGISTRY,
)
_failed = Counter(
    "onramp_messages_failed",
    "Messages given up on: a permanent error, or every attempt failed.",
    ["platform"],
    registry=REGISTRY,
)
_retried = Counter(
    "onramp_messages_retried",
    "Failed or throttled delivery attempts that will be tried again.",
    ["platform"],
    registry=REGISTRY,
)
_not_resent = Counter(
    "onramp_messages_not_resent",
    "Messages whose outcome a crash lost, found on the platform already and so not sent "
    "again (platforms that can be asked: Slack).",
    ["platform"],
    registry=REGISTRY,
)
_failed_events = Counter(
    "onramp_failed_events",
    "Events whose handling kept failing: recorded as failed (onramp events failed) and "
    "acknowledged, so the events after them carry on.",
    ["platform"],
    registry=REGISTRY,
)
_pruned = Counter(
    "onramp_rows_pruned",
    "Rows deleted by housekeeping once [retention] says they were kept long enough, by kind "
    "of data.",
    ["kind"],
    registry=REGISTRY,
)
_PER_PLATFORM = (_received, _deduplicated, _sent, _failed, _retried, _not_resent, _failed_events)


def declare(platforms: Iterable[str]) -> None:
    """Publish every per-platform count at zero, so rates work from the first event."""
    for platform in platforms:
        for counter in _PER_PLATFORM:
            counter.labels(platform)


def received(platform: str) -> None:
    _received.labels(platform).inc()


def deduplicated(platform: str) -> None:
    _deduplicated.labels(platform).inc()


def rejected(platform: str, reason: str) -> None:
    """An adapter (or the web server) turned a request away. `reason` is a short fixed word
    such as `bad_signature`, `stale`, `malformed` or `body_too_large`, never request data:
    each distinct value is a new time series."""
    _rejected.labels(platform, reason).inc()


def failed_event(platform: str) -> None:
    _failed_events.labels(platform).inc()


def pruned(kind: str, rows: int) -> None:
    """Housekeeping deleted `rows` of one kind of data (bot/retention.py)."""
    _pruned.labels(kind).inc(rows)


def sent(platform: str) -> None:
    _sent.labels(platform).inc()


def failed(platform: str) -> None:
    _failed.labels(platform).inc()


def retried(platform: str) -> None:
    _retried.labels(platform).inc()


def not_resent(platform: str) -> None:
    _not_resent.labels(platform).inc()


async def outbox_pending(db: Database) -> dict[str, int]:
    """Messages not yet delivered (queued, waiting to retry or being sent), per platform."""
    statement = (
        select(col(Outbox.platform), func.count())
        .where(col(Outbox.status).in_(outbox.OPEN))
        .group_by(Outbox.platform)
    )
    async with db.reading() as session:
        return {platform: count for platform, count in (await session.execute(statement)).all()}


Business = Mapping[str, Mapping[str, int]]  # gauge → label value → count

# The business gauges: (what storage.health.gauges names it, metric, label, help).
_BUSINESS = (
    (
        "members_by_onboarding",
        "onramp_members",
        "onboarding",
        "Members by where they are in the onboarding flow: not_started, in_progress, "
        "completed, stalled (an open run untouched for 7 days, or one that ended unfinished).",
    ),
    (
        "mentor_requests",
        "onramp_mentor_requests",
        "status",
        "Mentor requests by status; `waiting` is the waiting list.",
    ),
    (
        "due_work",
        "onramp_due_work",
        "status",
        "Due work (timers: nudges, check-ins, digests, campaign sends) by status; `pending` "
        "includes work not due yet, `failed` work given up on.",
    ),
)


async def business(db: Database, onboarding_flow: str, now: datetime) -> Business | None:
    """The business gauges as they stand, or None (logged) when the database does not
    answer in time: a scrape then goes on without them."""
    try:
        async with asyncio.timeout(GAUGES_TIMEOUT_SECONDS), db.reading() as session:
            return await gauges(session, onboarding_flow, now)
    except Exception as exc:  # whatever it is, the counters are still worth serving
        log.warning("business gauges unavailable", extra={"reason": str(exc)[:200]})
        return None


class Scrape(Collector):
    """One scrape: the registry, plus a runtime's outbox backlog and business gauges when
    they could be read."""

    def __init__(self, pending: Mapping[str, int] | None, business: Business | None = None) -> None:
        self.pending = pending
        self.business = business

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
        if self.pending is not None:
            backlog = GaugeMetricFamily(
                "onramp_outbox_pending",
                "Messages not yet delivered (queued, waiting to retry or being sent).",
                labels=["platform"],
            )
            for platform, count in sorted(self.pending.items()):
                backlog.add_metric([platform], count)
            yield backlog
        for key, name, label, description in _BUSINESS if self.business is not None else ():
            family = GaugeMetricFamily(name, description, labels=[label])
            for value, count in sorted((self.business or {}).get(key, {}).items()):
                family.add_metric([value], count)
            yield family
