"""Prometheus metrics: what arrived, what was turned away, what went out, per platform.

The counters live in Onramp's own registry, `REGISTRY`, not in prometheus_client's global
one, so /metrics shows only what Onramp chose to publish. They are process-wide, like the
process's CPU and memory figures beside them: a serving process runs one runtime, and an
adapter can count a request it turns away without holding any runtime object. (Tests start
many runtimes in one process, so they compare counts before and after, never absolute ones.)
The outbox backlog is the exception: it is read from a runtime's database at each scrape.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

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
from storage.models import Outbox
from storage.session import Database

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
_failed_events = Counter(
    "onramp_failed_events",
    "Events whose handling kept failing: recorded as failed (onramp events failed) and "
    "acknowledged, so the events after them carry on.",
    ["platform"],
    registry=REGISTRY,
)
_PER_PLATFORM = (_received, _deduplicated, _sent, _failed, _retried, _failed_events)


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


def sent(platform: str) -> None:
    _sent.labels(platform).inc()


def failed(platform: str) -> None:
    _failed.labels(platform).inc()


def retried(platform: str) -> None:
    _retried.labels(platform).inc()


async def outbox_pending(db: Database) -> dict[str, int]:
    """Messages not yet delivered (queued, waiting to retry or being sent), per platform."""
    statement = (
        select(col(Outbox.platform), func.count())
        .where(col(Outbox.status).in_(outbox.OPEN))
        .group_by(Outbox.platform)
    )
    async with db.reading() as session:
        return {platform: count for platform, count in (await session.execute(statement)).all()}


class Scrape(Collector):
    """One scrape: the registry, plus a runtime's outbox backlog when it could be read."""

    def __init__(self, pending: Mapping[str, int] | None) -> None:
        self.pending = pending

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
        if self.pending is None:
            return
        backlog = GaugeMetricFamily(
            "onramp_outbox_pending",
            "Messages not yet delivered (queued, waiting to retry or being sent).",
            labels=["platform"],
        )
        for platform, count in sorted(self.pending.items()):
            backlog.add_metric([platform], count)
        yield backlog
