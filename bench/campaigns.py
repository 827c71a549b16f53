"""A campaign to a community of 100,000 on Slack, Telegram, WhatsApp and Zulip.

    python bench/campaigns.py [--members 100000] [--backend sqlite|postgresql|both]

Seeds `members` members on four platforms (tests/bot/campaign_driver.py: consent for most,
some opted out, never asked or withdrawn, Telegram members who never wrote to the bot,
WhatsApp members outside their 24-hour window) and the community call: everyone who finished
onboarding, and mentors. The platforms are in-process fakes that keep each one's real limits
as the real adapters name them from the settings' defaults (Slack 300 a minute per workspace
and 1 a second per channel, Telegram 30 a second and 1 a second per chat, WhatsApp 80 a second
and 1 per 6 seconds per member, Zulip 200 a minute) and refuse, and count, anything over.

Prints JSON per backend:
- `preview`: its time (the best of 3) and counts, with and without a WhatsApp template,
  checked against the seed;
- `plan`: the time to plan the send (about 54,000 recipients at the default size);
- `delivery`: per platform, messages a second delivered as a share of the limit, at the real
  limits, over the steady part: per-second limits from 10 s after the first message for
  30 s; per-minute limits over two whole windows from the first message (a sliding window
  lets its whole count go at once, then again a window later); and anything refused;
- `crash`: a second campaign, to the members who speak French (about a fifth), with shared
  limits raised to 1,000/s, sent by a replica (a process printing each message as a platform
  takes it) that is SIGKILLed once half are out, and started again: `lost`, `unexpected` and
  `duplicated` counted from what the replicas printed, and apart from them
  `in_flight_at_kill`: messages the killed replica had handed over and not yet recorded
  (read from the database right after the kill), which the restarted one sends again;
- the peak RSS of the bench process, and of a replica (`replica_peak_rss_mb`).

PostgreSQL runs when ONRAMP_TEST_POSTGRES_URL (or --postgres-url) names a server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bench import backends  # noqa: E402
from bot.campaigns import manage, planning, previewing  # noqa: E402
from bot.features import build_registry  # noqa: E402
from bot.runtime import Onramp, tune_garbage_collector  # noqa: E402
from bot.settings import Settings, load_settings  # noqa: E402
from flows.content import load_tree_or_raise  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Campaign, CampaignRecipient, utcnow  # noqa: E402
from storage.session import Database  # noqa: E402
from tests.bot import campaign_driver as driver  # noqa: E402

CALL, PLAIN, CRASH = "community_call_bench", "community_call_plain", "community_call_fr"
CRASH_LOCALES = ("fr",)
RAMP_SECONDS = 10.0  # per-second limits: skipped before measuring
MEASURE_SECONDS = 30.0  # per-second limits: measured for this long
MINUTE_WINDOWS = 2  # per-minute limits: measured over this many whole windows


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _content(into: Path) -> Path:
    content = into / "content"
    shutil.copytree(ROOT / "content", content)
    campaigns = content / "campaigns"
    for key, text in (
        (CALL, driver.campaign_file(CALL)),
        (PLAIN, driver.campaign_file(PLAIN, template=False)),
        (CRASH, driver.campaign_file(CRASH, segment="  locale: [fr]")),
    ):
        (campaigns / f"{key}.yaml").write_text(text, encoding="utf-8")
    return content


def _settings(url: str, content: Path, **sections: Any) -> Settings:
    return load_settings(
        ROOT / "bot.toml",
        database={"url": url, "migrate_on_start": False},
        content={"path": content},
        adapters={"enabled": list(driver.PLATFORMS)},
        **sections,
    )


async def _preview(
    db: Database, settings: Settings, key: str, community: driver.Community
) -> dict[str, Any]:
    content = load_tree_or_raise(settings.content.path, actions=build_registry().actions)
    campaign = content.campaigns[key]
    reach = planning.reach(driver.PLATFORMS)
    times = []
    for _ in range(3):
        started = time.perf_counter()
        shown = await previewing.preview(db, content, campaign, utcnow(), reach)
        times.append(time.perf_counter() - started)
    template = campaign.whatsapp_template is not None
    expected = community.excluded(template)
    return {
        "seconds": round(min(times), 3),
        "segment": shown.total,
        "sending": shown.per_platform(),
        "excluded": dict(sorted(shown.excluded.items())),
        "expected_excluded": dict(sorted(expected.items())),
        "matches_seed": shown.recipients == len(community.recipients(template))
        and shown.excluded == dict(expected),
    }


async def _plan(db: Database, settings: Settings, key: str) -> tuple[float, int]:
    content = load_tree_or_raise(settings.content.path, actions=build_registry().actions)
    started = time.perf_counter()
    await planning.request_send(
        db,
        content,
        content.campaigns[key],
        utcnow(),
        settings.campaigns,
        settings.clock,
        planning.reach(driver.PLATFORMS),
        actor="bench",
    )
    seconds = time.perf_counter() - started
    async with db.reading() as session:
        planned = (
            await session.execute(
                select(func.count())
                .select_from(CampaignRecipient)
                .join(Campaign, Campaign.id == CampaignRecipient.campaign_id)
                .where(Campaign.key == key, CampaignRecipient.status == "planned")
            )
        ).scalar_one()
    return seconds, int(planned)


def _shared_limit(platform: driver.Platform) -> tuple[int, float]:
    """The platform's most generous limit for one message (what a campaign may reach)."""
    from bot.messages import OutgoingMessage

    probe = OutgoingMessage(platform=platform.name, recipient="probe", text="", workspace="T")
    limit = max(platform.rate_limits(probe), key=lambda limit: limit.count / limit.seconds)
    return limit.count, limit.seconds


def _steady(times: list[float], start: float, length: float) -> tuple[int, float] | None:
    """Messages from the first at or after `start` to the first `length` seconds after it
    (excluded), and the seconds between: whole rounds of a limit that lets its messages go
    in bursts, so that a window's edge cutting a burst does not skew the rate."""
    first = next((at for at in times if at >= start), None)
    if first is None:
        return None
    end = next((at for at in times if at >= first + length), None)
    if end is None:
        return None
    return sum(1 for at in times if first <= at < end), end - first


def _delivery(platform: driver.Platform) -> dict[str, Any]:
    count, seconds = _shared_limit(platform)
    times = sorted(platform.received)
    if not times:
        return {"delivered": 0}
    if seconds >= 10:
        start, length = times[0], MINUTE_WINDOWS * seconds
        window = f"{MINUTE_WINDOWS} windows of {seconds:g} s from the first message"
    else:
        start, length = times[0] + RAMP_SECONDS, MEASURE_SECONDS
        window = f"{MEASURE_SECONDS:g} s from {RAMP_SECONDS:g} s after the first message"
    measured = _steady(times, start, length)
    limit = count / seconds
    found: dict[str, Any] = {"limit_per_second": round(limit, 2), "window": window}
    if measured is not None:
        inside, span = measured
        found |= {
            "measured_seconds": round(span, 1),
            "delivered_in_window": inside,
            "per_second": round(inside / span, 2),
            "percent_of_limit": round(100 * inside / span / limit, 1),
        }
    return found | {
        "delivered": len(times),
        "refused_over_limit": dict(platform.refused),
        "failed": dict(platform.failed),
    }


async def _deliver(url: str, content: Path) -> dict[str, Any]:
    """The community call at the real limits, measured, then cancelled."""
    settings = _settings(url, content)
    platforms = {name: driver.Platform(name, settings) for name in driver.PLATFORMS}
    onramp = await Onramp.create(settings, platforms)
    await onramp.start()
    tune_garbage_collector()
    longest = max(
        MINUTE_WINDOWS * _shared_limit(p)[1] if _shared_limit(p)[1] >= 10 else 0
        for p in platforms.values()
    )
    await asyncio.sleep(max(longest, RAMP_SECONDS + MEASURE_SECONDS) + 10)
    stopped = await manage.cancel(onramp.db, CALL, utcnow(), actor="bench")
    await onramp.stop()
    return {
        **{name: _delivery(platform) for name, platform in platforms.items()},
        "cancelled_after": stopped,
    }


async def _done(db: Database, key: str) -> bool:
    """Every message of the campaign recorded (sent, or failed for good)."""
    async with db.reading() as session:
        state = (await session.execute(select(Campaign.state).where(Campaign.key == key))).scalar()
    return state == "done"


async def _until(check: Any, seconds: float, every: float = 0.1) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"still waiting after {seconds:g} s")
        await asyncio.sleep(every)


async def _crash(url: str, content: Path, community: driver.Community) -> dict[str, Any]:
    """A whole send by a replica that is SIGKILLed midway and started again."""
    settings = _settings(url, content)
    db = Database.from_url(url)
    plan_seconds, planned = await _plan(db, settings, CRASH)
    expected = community.recipients(locales=CRASH_LOCALES)
    with tempfile.TemporaryDirectory() as tmp:
        first, again = Path(tmp) / "replica.out", Path(tmp) / "restarted.out"
        replica = driver.start(url, content, first)
        started = time.monotonic()
        follower = driver.Follower(first)

        async def halfway() -> bool:
            return follower.read() >= len(expected) // 2

        await _until(halfway, 300, every=0.002)  # the moment half are out: mid-burst, if so
        replica.send_signal(signal.SIGKILL)
        replica.wait()
        killed_after = time.monotonic() - started
        in_flight = await driver.unrecorded(db, (m[1] for m in driver.printed(first)))
        restarted = driver.start(url, content, again)
        await _until(lambda: _done(db, CRASH), 300)
        finished = time.monotonic() - started
        await asyncio.sleep(1)  # anything sent twice would be printed by now
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(30)
        counted = driver.tally(expected, [first, again], {first: in_flight})
        sent_before_kill = len(driver.printed(first))
        replica_rss = max(driver.peak_rss_mb(first), driver.peak_rss_mb(again))
    await db.dispose()
    return {
        "limits": "1,000/s shared per platform (a chat's and a WhatsApp member's as they are)",
        "plan_seconds": round(plan_seconds, 2),
        "recipients": planned,
        "killed_after_seconds": round(killed_after, 1),
        "handed_over_before_kill": sent_before_kill,
        "unrecorded_at_kill": len(in_flight),
        "whole_send_seconds": round(finished, 1),
        **counted.as_dict(),
        "replica_peak_rss_mb": replica_rss,
    }


async def run(url: str, members: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        content = _content(Path(tmp))
        db = Database.from_url(url)
        await upgrade(db.engine)
        started = time.perf_counter()
        community = await driver.seed(db, members=members, now=utcnow())
        seeded = time.perf_counter() - started
        settings = _settings(url, content)
        result: dict[str, Any] = {
            "members": members,
            "seed_seconds": round(seeded, 1),
            "preview": await _preview(db, settings, CALL, community),
            "preview_without_template": await _preview(db, settings, PLAIN, community),
        }
        plan_seconds, planned = await _plan(db, settings, CALL)
        result["plan"] = {
            "seconds": round(plan_seconds, 2),
            "recipients": planned,
            "expected": len(community.recipients()),
        }
        await db.dispose()
        result["delivery"] = await _deliver(url, content)
        result["crash"] = await _crash(url, content, community)
        result["peak_rss_mb"] = _peak_rss_mb()
        return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    backends.add_options(parser)
    args = parser.parse_args()
    results = await backends.on_each(args, lambda url: run(url, args.members))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
