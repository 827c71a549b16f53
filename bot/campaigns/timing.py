"""What a campaign is once it is sent, and when it reaches each member.

A send freezes the campaign (`frozen`: its file as it is now, the opt-out hint and the
community's variables) so that editing the file mid-send changes nothing; `thawed` reads it
back and `definition_hash` tells `status` whether the file has changed since. Each member's
send time is the file's time (or `--at`, or now) in their own time zone, out of their quiet
hours (`send_time`), and their place in the shuffled order is a hash of their id with the
campaign's seed (`position`), so a resumed plan places everyone where the first pass did.
`expired_text` says why a campaign whose expiry comes before its send is refused.
"""

from __future__ import annotations

import hashlib
import json
import zoneinfo
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bot.clock import quiet_until
from bot.turn import community_variables
from flows.campaigns import Campaign, LocalSendTime, utc_text
from flows.content import ContentTree
from flows.text import render
from storage.models import Campaign as CampaignRow


def frozen(content: ContentTree, campaign: Campaign) -> dict[str, Any]:
    """Everything a send needs to render its messages, as it is now: the file's own data, the
    opt-out hint in each language, and the community's template variables."""
    document = content.documents[content.campaign_files[campaign.id]]
    community = content.community
    hint = content.system.get("campaign_opt_out")
    footers = {
        locale: render(hint, locale, community.default_locale, {}) if hint else ""
        for locale in community.locales
    }
    return {
        "file": json.loads(json.dumps(document.data, default=_iso)),
        "footers": footers,
        "community": community_variables(content),
        "default_locale": community.default_locale,
    }


def _iso(value: Any) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} in a campaign file")


def definition_hash(content: ContentTree, campaign: Campaign) -> str:
    """The campaign file's content, hashed: `status` tells when the file has changed since."""
    document = content.documents[content.campaign_files[campaign.id]]
    data = json.dumps(document.data, sort_keys=True, default=_iso, ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()


def thawed(row: CampaignRow) -> Campaign:
    return Campaign.model_validate(row.definition["file"])


def first_send_time(campaign: Campaign, now: datetime, at: datetime | None) -> datetime:
    """When the campaign starts going (before time zones and quiet hours)."""
    if at is not None:
        return at
    if isinstance(campaign.send_at, datetime):
        return max(campaign.send_at, now)
    if isinstance(campaign.send_at, LocalSendTime):
        start = datetime.combine(campaign.send_at.date, campaign.send_at.clock_time(), UTC)
        return max(now, start - timedelta(hours=14))  # the earliest time zone's 10:00
    return now


def send_time(
    campaign: Campaign,
    timezone: str | None,
    now: datetime,
    at: datetime | None,
    quiet: tuple[int, int],
    default_timezone: str,
) -> datetime:
    """When one member is sent the campaign: `at` (or the file's time, or now), or the local
    time in their zone (the default zone if they gave none); never in the past, and moved out
    of their quiet hours to their morning."""
    zone_name = timezone or default_timezone
    try:
        zone = zoneinfo.ZoneInfo(zone_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone_name, zone = "UTC", zoneinfo.ZoneInfo("UTC")
    if at is not None:
        when = at
    elif isinstance(campaign.send_at, datetime):
        when = campaign.send_at
    elif isinstance(campaign.send_at, LocalSendTime):
        local = datetime.combine(campaign.send_at.date, campaign.send_at.clock_time(), zone)
        # A time that does not exist that day (the clocks jumped forward) is read in the
        # offset before the jump, landing just after it.
        when = local.astimezone(UTC)
    else:
        when = now
    when = max(when, now).astimezone(UTC)
    morning = quiet_until(when, zone_name, *quiet)
    return (morning or when).replace(microsecond=0)


def position(member_id: int, seed: int) -> int:
    """A member's place in the shuffled order: a hash of their id with the campaign's seed,
    so a resumed plan places everyone where the first pass did."""
    digest = hashlib.blake2b(f"{seed}:{member_id}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


def expired_text(campaign: Campaign, now: datetime, at: datetime | None = None) -> str:
    """Why an expired campaign is refused, and what to do, in the core's words."""
    assert campaign.expires_at is not None
    until = utc_text(campaign.expires_at)
    if campaign.expires_at <= now:
        why = f"its expires_at ({until}) has passed (it is {utc_text(now)})"
    elif at is not None:
        why = f"its expires_at ({until}) comes before --at {utc_text(at)}"
    else:
        why = f"its expires_at ({until}) comes before its send_at"
    return (
        f"campaign '{campaign.id}' cannot be sent: {why}, so nobody would get it; nothing was "
        "planned. Set a later send_at and expires_at in its file, then send it again"
    )
