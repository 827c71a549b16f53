"""Campaigns at scale, shared by the crash tests (tests/bot/test_campaign_crashes.py) and
bench/campaigns.py: a community on four platforms written straight into the tables, those
platforms as in-process fakes that keep each one's real limits and report any breach, and a
replica that prints each message as it hands it to a platform.

    python tests/bot/campaign_driver.py URL CONTENT [--fast] [--plan CAMPAIGN]

A replica serves due work (a campaign's plan and sends) until killed; it prints `ready`,
then `planned N` after each planning batch it commits (with `--plan`: it asks for the send
first, planning slowly, as a manager's `send` would, so that a test can kill it mid-plan),
and `platform outbox-id recipient` the moment a platform has a message.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import subprocess
import sys
import time
import zoneinfo
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TextIO

from sqlalchemy import insert, select
from sqlmodel import col

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from adapters.slack.adapter import SlackAdapter  # noqa: E402
from adapters.telegram.adapter import TelegramAdapter  # noqa: E402
from adapters.whatsapp.adapter import WhatsAppAdapter  # noqa: E402
from adapters.zulip.adapter import ZulipAdapter  # noqa: E402
from bot.adapter import Adapter, DeliveryError, Inbox, RateLimit  # noqa: E402
from bot.messages import OutgoingMessage  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage.models import Consent, FlowRun, Identity, Member, Outbox, utcnow  # noqa: E402
from storage.session import Database  # noqa: E402
from tests.clock import from_argv  # noqa: E402

PLATFORMS = ("slack", "telegram", "whatsapp", "zulip")
REAL: dict[str, Any] = {
    "slack": SlackAdapter,
    "telegram": TelegramAdapter,
    "whatsapp": WhatsAppAdapter,
    "zulip": ZulipAdapter,
}
WORKSPACE = "T0COMMUNITY"
WINDOW = timedelta(hours=24)  # WhatsApp's: free text only this long after the member wrote
CHUNK = 5_000

# Zones spread around the world; members get those where it is day when seeded, so that a
# campaign sent "now" goes now, out of everyone's quiet hours.
ZONES = (
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Denver",
    "America/Mexico_City",
    "America/New_York",
    "America/Lima",
    "America/Sao_Paulo",
    "Atlantic/Azores",
    "Europe/London",
    "Europe/Paris",
    "Africa/Lagos",
    "Africa/Nairobi",
    "Europe/Istanbul",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Manila",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Noumea",
    "Pacific/Auckland",
)

CALL = """\
schema_version: 1
id: {id}
title: Community call
segment:
{segment}
message:
  en: >-
    📣 Hello {{{{ member.name }}}}! Our monthly **community call** is on Thursday at
    15:00 UTC. Agenda and link: {{{{ community.links.channels }}}}
  fr: >-
    📣 Bonjour {{{{ member.name }}}} ! Notre **appel communautaire** a lieu jeudi à 15 h
    UTC. Ordre du jour et lien : {{{{ community.links.channels }}}}
  es: >-
    📣 ¡Hola {{{{ member.name }}}}! Nuestra **llamada comunitaria** es el jueves a las
    15:00 UTC. Agenda y enlace: {{{{ community.links.channels }}}}
{template}send_at: now
"""
TEMPLATE = """\
whatsapp_template:
  name: community_call_reminder
  parameters: ["{{ member.name }}"]
"""
EVERYONE_DONE = "  any:\n    - onboarding: completed\n    - role: mentor"


def campaign_file(campaign_id: str, segment: str = EVERYONE_DONE, template: bool = True) -> str:
    """A campaign's YAML: the community call, to `segment` (indented YAML), sent now."""
    return CALL.format(id=campaign_id, segment=segment, template=TEMPLATE if template else "")


def daytime_zones(now: datetime) -> list[str]:
    """The zones where it is between 09:00 and 18:59 at `now`: hours from the quiet ones."""
    return [z for z in ZONES if 9 <= now.astimezone(zoneinfo.ZoneInfo(z)).hour < 19]


@dataclass
class Seeded:
    """One member as written, and why a campaign to everyone who finished onboarding (or
    mentors) should leave them out, if it should (None: they get it)."""

    member_id: int
    platform: str
    recipient: str
    locale: str
    in_segment: bool
    reason: str | None  # with a WhatsApp template
    reason_without_template: str | None


@dataclass
class Community:
    members: list[Seeded] = field(default_factory=list)

    def recipients(
        self, template: bool = True, locales: tuple[str, ...] | None = None
    ) -> set[tuple[str, str]]:
        """(platform, recipient) of everyone the community call should reach (or, given
        `locales`, a campaign to the members who speak one of those)."""
        return {
            (m.platform, m.recipient)
            for m in self.members
            if (m.in_segment if locales is None else m.locale in locales)
            and (m.reason if template else m.reason_without_template) is None
        }

    def excluded(self, template: bool = True) -> Counter[str]:
        found: Counter[str] = Counter()
        for m in self.members:
            reason = m.reason if template else m.reason_without_template
            if m.in_segment and reason is not None:
                found[reason] += 1
        return found


async def seed(db: Database, *, members: int, now: datetime, seed: int = 7) -> Community:
    """`members` members across the four platforms (slack 30%, telegram 30%, whatsapp 20%,
    zulip 20%), in en/fr/es (and a few in de, written to in en): 60% finished onboarding,
    5% mentors; consent to announcements for most, 2% opted out, 5% never asked and 2%
    withdrawn; 15% of Telegram members never wrote to the bot, and 25% of WhatsApp members
    last wrote more than 24 hours ago."""
    rng = random.Random(seed)
    zones = daytime_zones(now)
    assert zones, "some zone is always in daytime"
    people: list[dict[str, Any]] = []
    for n in range(members):
        platform = rng.choices(PLATFORMS, weights=(30, 30, 20, 20))[0]
        people.append(
            {
                "n": n,
                "platform": platform,
                "locale": rng.choices(("en", "fr", "es", "de"), weights=(60, 25, 10, 5))[0],
                "timezone": rng.choice(zones),
                "mentor": rng.random() < 0.05,
                "completed": rng.random() < 0.6,
                "opted_out": rng.random() < 0.02,
                "consent": rng.choices((True, None, False), weights=(93, 5, 2))[0],
                "never_wrote": platform == "telegram" and rng.random() < 0.15,
                "window_closed": platform == "whatsapp" and rng.random() < 0.25,
            }
        )
    community = Community()
    async with db.transaction() as session:
        ids: list[int] = []
        for start in range(0, members, CHUNK):
            chunk = people[start : start + CHUNK]
            result = await session.execute(
                insert(Member.__table__).returning(Member.__table__.c.id),  # type: ignore[attr-defined]
                [
                    {
                        "display_name": f"Member {p['n']}",
                        "locale": p["locale"],
                        "timezone": p["timezone"],
                        "roles": ["mentor"] if p["mentor"] else [],
                        "profile": {},
                        "opted_out": p["opted_out"],
                        "created_at": now - timedelta(days=30),
                        "last_active_at": now - timedelta(days=1),
                    }
                    for p in chunk
                ],
            )
            ids += sorted(result.scalars())
        identities, consents, runs = [], [], []
        for person, member_id in zip(people, ids, strict=True):
            identity, recipient = _identity(person, member_id, now)
            identities.append(identity)
            if person["consent"] is not None:
                consents.append(
                    {
                        "member_id": member_id,
                        "purpose": "announcements",
                        "granted": person["consent"],
                        "given_at": now - timedelta(days=20),
                    }
                )
            if person["completed"]:
                runs.append(
                    {
                        "member_id": member_id,
                        "flow_id": "onboarding",
                        "state": {},
                        "status": "completed",
                        "started_at": now - timedelta(days=30),
                        "updated_at": now - timedelta(days=29),
                        "finished_at": now - timedelta(days=29),
                    }
                )
            reasons = _reasons(person)
            community.members.append(
                Seeded(
                    member_id,
                    person["platform"],
                    recipient,
                    person["locale"],
                    person["completed"] or person["mentor"],
                    reasons[0],
                    reasons[1],
                )
            )
        for table, rows in (
            (Identity.__table__, identities),  # type: ignore[attr-defined]
            (Consent.__table__, consents),  # type: ignore[attr-defined]
            (FlowRun.__table__, runs),  # type: ignore[attr-defined]
        ):
            for start in range(0, len(rows), CHUNK):
                await session.execute(insert(table), rows[start : start + CHUNK])
    return community


def _identity(person: dict[str, Any], member_id: int, now: datetime) -> tuple[dict[str, Any], str]:
    """The member's account on their platform, and the address a message to them goes to."""
    n, platform = person["n"], person["platform"]
    external = {
        "slack": f"U{n:07d}",
        "telegram": str(100_000_000 + n),  # a private chat's id is the user's
        "whatsapp": f"2547{n:08d}",
        "zulip": str(9_000 + n),
    }[platform]
    dm: str | None = external
    last: datetime | None = now - timedelta(days=3)
    if platform == "slack":
        dm = f"D{n:07d}" if n % 3 else None  # a third never had a DM opened
    elif platform == "zulip":
        dm = None
    elif platform == "telegram" and person["never_wrote"]:
        dm = last = None
    elif platform == "whatsapp":
        last = now - (timedelta(days=3) if person["window_closed"] else timedelta(hours=2))
    identity = {
        "member_id": member_id,
        "platform": platform,
        "workspace": WORKSPACE if platform == "slack" else "",
        "external_id": external,
        "dm_conversation": dm,
        "last_inbound_at": last,
        "created_at": now - timedelta(days=30),
    }
    return identity, dm or external


def _reasons(person: dict[str, Any]) -> tuple[str | None, str | None]:
    """Why the campaign leaves them out, with a WhatsApp template and without (as the core
    judges, in this order: segments.REASONS)."""
    if person["opted_out"]:
        return "opted_out", "opted_out"
    if person["consent"] is not True:
        return "no_consent", "no_consent"
    if person["never_wrote"]:
        return "never_started", "never_started"
    return None, "reply_window" if person["window_closed"] else None


class Platform(Adapter):
    """A platform in the process: it takes messages under the limits its real adapter names
    (the same `rate_limits`, from the same settings), counts them in sliding windows, and
    refuses one that would break a limit as the platform would (429, `refused`). WhatsApp
    free text outside the 24-hour window fails as the real adapter fails it. With `out`,
    each message taken is written there at once, as `platform outbox-id recipient`."""

    def __init__(
        self,
        name: str,
        settings: Settings,
        out: TextIO | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        real = REAL[name]
        self.name = name
        self.clock = clock  # the bot's: the 24-hour window is measured on it
        self.capabilities = real.capabilities
        # What the real `rate_limits` reads of its adapter: the settings, and (Zulip) the
        # webhook answers waiting for a reply, none here.
        no_answers = SimpleNamespace(holds=lambda outbox_id, recipient: False)
        shim = SimpleNamespace(settings=getattr(settings, name), _answers=no_answers)
        self._limits: Callable[[OutgoingMessage], list[RateLimit]] = (
            lambda message: real.rate_limits(shim, message)  # type: ignore[arg-type]
        )
        self.out = out
        self.received: list[float] = []  # when each message was taken (monotonic)
        self.refused: Counter[str] = Counter()  # limit key kind -> messages refused
        self.failed: Counter[str] = Counter()
        self._windows: dict[str, deque[float]] = {}

    def rate_limits(self, message: OutgoingMessage) -> list[RateLimit]:
        return self._limits(message)

    async def start(self, inbox: Inbox) -> None:
        pass

    async def stop(self) -> None:
        pass

    def routes(self) -> list[Any]:
        return []

    async def send(self, message: OutgoingMessage) -> str:
        if self.name == "whatsapp" and message.template is None:
            last = message.last_inbound_at
            if last is None or self.clock() - last >= WINDOW:
                self.failed["window_closed"] += 1
                raise DeliveryError("whatsapp: outside the 24-hour window", permanent=True)
        now = time.monotonic()
        limits = self.rate_limits(message)
        for limit in limits:
            window = self._windows.setdefault(limit.key, deque())
            while window and now - window[0] >= limit.seconds:
                window.popleft()
            if len(window) >= limit.count:
                self.refused[limit.key.split(":")[0]] += 1
                raise DeliveryError(
                    f"{self.name}: rate limited ({limit.key})",
                    retry_after=limit.seconds - (now - window[0]),
                )
        for limit in limits:
            self._windows[limit.key].append(now)
        self.received.append(now)
        if self.out is not None:
            self.out.write(f"{self.name} {message.outbox_id} {message.recipient}\n")
            self.out.flush()
        await asyncio.sleep(0)  # the answer's way back: a send is I/O, other work goes on
        return f"{self.name}-{len(self.received)}"


def fast_limits(per_second: int) -> dict[str, Any]:
    """Settings sections raising each platform's shared limit to `per_second` (a chat's and
    a WhatsApp member's stay as they are)."""
    return {
        "slack": {"workspace_limit": (per_second, 1.0)},
        "telegram": {"overall_per_second": per_second},
        "whatsapp": {"number_limit": (per_second, 1.0)},
        "zulip": {"send_limit": (per_second, 1.0)},
    }


def replica_settings(url: str, content: Path, fast: bool) -> Settings:
    from bot.settings import load_settings

    overrides: dict[str, Any] = fast_limits(1_000) if fast else {}
    return load_settings(
        ROOT / "bot.toml",
        database={"url": url, "migrate_on_start": False},
        content={"path": content},
        # Short leases: what a killed replica held is taken over within seconds.
        clock={"tick_seconds": 3600, "lease_seconds": 5, "batch_size": 20},
        sender={"lease_seconds": 5, "sweep_seconds": 1},
        campaigns={"feed_seconds": 0.5, "backlog_seconds": 2.0, "planning_batch": 100},
        adapters={"enabled": list(PLATFORMS)},
        **overrides,
    )


def _peak_rss_mb() -> float:
    """This process's own peak (VmHWM): `getrusage` would count, across the exec, the bench
    process it was forked from."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def printing_platforms(
    settings: Settings, clock: Callable[[], datetime] = utcnow
) -> dict[str, Platform]:
    return {name: Platform(name, settings, sys.stdout, clock) for name in PLATFORMS}


async def serve(
    url: str,
    content: Path,
    fast: bool,
    plan: str | None,
    clock: Callable[[], datetime] = utcnow,
) -> None:
    """A replica: the runtime on the four platforms, ticking due work as fast as it can, on
    `clock` (the tests give theirs; the benchmark runs on the wall clock)."""
    from bot.campaigns import planning
    from bot.runtime import Onramp, tune_garbage_collector
    from storage import campaigns as store

    # A plan left unfinished is taken over after this (2 minutes in the bot).
    planning.PLAN_TAKEOVER = timedelta(seconds=2)
    insert_recipients = store.insert_recipients

    async def reporting(session: Any, rows: Any) -> None:
        await insert_recipients(session, rows)
        print(f"planned {len(rows)}", flush=True)
        await asyncio.sleep(0.05)  # slow enough to be killed mid-plan

    store.insert_recipients = reporting  # type: ignore[assignment]
    settings = replica_settings(url, content, fast)
    onramp = await Onramp.create(settings, printing_platforms(settings, clock), clock=clock)
    await onramp.start()
    tune_garbage_collector()
    print("ready", flush=True)
    try:
        if plan is not None:
            campaign = onramp.content.campaigns[plan]
            await planning.request_send(
                onramp.db,
                onramp.content,
                campaign,
                clock(),
                settings.campaigns,
                settings.clock,
                planning.reach(onramp.adapters),
                actor="manager",
            )
        last_report = 0.0
        while True:
            if not await onramp.timers.tick():
                await asyncio.sleep(0.05)
            if time.monotonic() - last_report >= 1:  # its peak memory, for the benchmark
                print(f"rss {_peak_rss_mb():.1f}", flush=True)
                last_report = time.monotonic()
    finally:
        await onramp.stop()


def start(
    url: str,
    content: Path,
    out: Path,
    *,
    fast: bool = True,
    plan: str | None = None,
    clock: list[str] | None = None,
) -> Any:
    """A replica in a process of its own, printing into `out`; `clock` is a test clock's
    `argv()` (tests/clock.py), shared by every replica of one test."""
    command = [sys.executable, str(Path(__file__)), url, str(content)]
    command += ["--fast"] if fast else []
    command += ["--plan", plan] if plan else []
    command += ["--clock", *clock] if clock else []
    with out.open("ab") as stdout, out.with_suffix(".err").open("ab") as stderr:
        return subprocess.Popen(
            command,
            stdout=stdout,
            stderr=stderr,
            cwd=ROOT,
            env={**os.environ, "ONRAMP_LOGGING__LEVEL": "ERROR"},
        )


def printed(out: Path) -> list[tuple[str, int, str]]:
    """(platform, outbox id, recipient) of each message a replica handed to a platform."""
    found = []
    for line in out.read_text().splitlines() if out.exists() else []:
        parts = line.split(" ")
        if len(parts) == 3 and parts[0] in PLATFORMS and parts[1].isdigit():
            found.append((parts[0], int(parts[1]), parts[2]))
    return found


class Follower:
    """Counts a replica's printed messages as they come, reading only what is new."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self._offset = 0
        self.count = 0

    def read(self) -> int:
        if self.out.exists():
            with self.out.open("rb") as file:
                file.seek(self._offset)
                new = file.read()
            complete = new[: new.rfind(b"\n") + 1]
            self._offset += len(complete)
            self.count += sum(1 for line in complete.split(b"\n") if line.count(b" ") == 2)
        return self.count


def peak_rss_mb(out: Path) -> float:
    """The replica's peak memory, as it last reported it (once a second)."""
    lines = out.read_text().splitlines() if out.exists() else []
    return max((float(line[4:]) for line in lines if line.startswith("rss ")), default=0.0)


def planned_batches(out: Path) -> int:
    lines = out.read_text().splitlines() if out.exists() else []
    return sum(1 for line in lines if line.startswith("planned "))


async def unrecorded(db: Database, outbox_ids: Iterable[int]) -> set[int]:
    """Of these messages (handed to a platform), those not recorded as sent: read right
    after a replica was killed, what it had in flight."""
    wanted = set(outbox_ids)
    async with db.reading() as session:
        open_ = await session.execute(select(col(Outbox.id)).where(col(Outbox.status) != "sent"))
        return wanted & set(open_.scalars())


@dataclass
class Tally:
    """What reached the platforms (as the replicas printed it), against who should get it."""

    expected: int
    delivered: int  # distinct recipients reached
    lost: int  # expected, never reached
    unexpected: int  # reached, not expected
    duplicated: int  # a second message not explained by the kill
    in_flight_at_kill: int  # handed over by the killed replica, unrecorded when it died: again

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def tally(
    expected: set[tuple[str, str]], outputs: list[Path], killed: dict[Path, set[int]]
) -> Tally:
    """Count the messages each recipient got. `killed` holds, for each killed replica's
    output, the messages it had handed over but not recorded when it died (`unrecorded`):
    the one instant at which a message may honestly go twice. A second copy counts as in
    flight only if it is such a message, sent again with the same outbox id."""
    sends: dict[tuple[str, str], list[tuple[Path, int]]] = {}
    for out in outputs:
        for platform, outbox_id, recipient in printed(out):
            sends.setdefault((platform, recipient), []).append((out, outbox_id))
    duplicated = in_flight = 0
    for copies in sends.values():
        (first_out, first_id), *again = copies
        for _, outbox_id in again:
            if outbox_id == first_id and first_id in killed.get(first_out, set()):
                in_flight += 1
            else:
                duplicated += 1
    reached = set(sends)
    return Tally(
        expected=len(expected),
        delivered=len(reached & expected),
        lost=len(expected - reached),
        unexpected=len(reached - expected),
        duplicated=duplicated,
        in_flight_at_kill=in_flight,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("content", type=Path)
    parser.add_argument("--fast", action="store_true", help="shared limits of 1,000/s")
    parser.add_argument("--plan", help="ask for this campaign's send first")
    parser.add_argument(
        "--clock", nargs=2, metavar=("START", "ANCHOR"), help="a test clock (tests/clock.py)"
    )
    args = parser.parse_args()
    clock = from_argv(*args.clock) if args.clock else utcnow
    asyncio.run(serve(args.url, args.content, args.fast, args.plan, clock))


if __name__ == "__main__":
    main()
