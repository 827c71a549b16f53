"""Previewing a campaign: who would receive it, and what they would read.

`preview` counts, in one query, who would receive it per platform and language and who is
left out and why (an expired campaign reaches nobody), and shows the message as a member
named Ada would get it in each language it would be sent in (`sample_text`). The command
line and `/campaign` in chat both show it; nothing is written.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from bot.campaigns.segments import Reach, preview_query
from bot.campaigns.timing import first_send_time
from bot.turn import community_variables
from flows.campaigns import Campaign, Lateness, lateness
from flows.content import ContentTree
from flows.text import render
from storage.session import Database, Session


@dataclass
class Preview:
    campaign: Campaign
    total: int  # members of the segment
    sending: dict[tuple[str, str], int]  # (platform, locale) -> recipients
    excluded: dict[str, int]  # reason -> members left out
    first_send: datetime
    samples: dict[tuple[str, str], str] = field(default_factory=dict)  # (platform, locale)
    late: Lateness = field(default_factory=Lateness)  # its send time or expiry has passed

    @property
    def recipients(self) -> int:
        return sum(self.sending.values())

    def per_platform(self) -> dict[str, int]:
        found: Counter[str] = Counter()
        for (platform, _), count in self.sending.items():
            found[platform] += count
        return dict(found)


async def preview(
    db: Database,
    content: ContentTree,
    campaign: Campaign,
    now: datetime,
    reach_: Reach,
    at: datetime | None = None,
) -> Preview:
    async with db.reading() as session:
        return await preview_in(session, content, campaign, now, reach_, at)


async def preview_in(
    session: Session,
    content: ContentTree,
    campaign: Campaign,
    now: datetime,
    reach_: Reach,
    at: datetime | None = None,
) -> Preview:
    """`preview`, read in the caller's session (a manager's turn). An expired campaign
    reaches nobody: the members it would have reached are counted as left out, `expired`."""
    first = first_send_time(campaign, now, at)
    late = lateness(campaign, now, at)
    dialect = session.get_bind().dialect.name
    statement = preview_query(campaign, content, now, dialect, reach_, first)
    rows = (await session.execute(statement)).all()
    sending: dict[tuple[str, str], int] = defaultdict(int)
    excluded: dict[str, int] = defaultdict(int)
    for platform, locale, reason, count in rows:
        if reason is None and not late.expired:
            sending[(platform, locale)] += count
        else:
            excluded[reason or "expired"] += count
    total = sum(count for *_, count in rows)
    found = Preview(campaign, total, dict(sending), dict(excluded), first, late=late)
    for platform, locale in sorted(sending):
        found.samples[(platform, locale)] = sample_text(content, campaign, locale)
    return found


def sample_text(content: ContentTree, campaign: Campaign, locale: str) -> str:
    """The message as a member named Ada would get it in `locale` (for flows: its title)."""
    community = content.community
    variables = {
        "member": {"name": "Ada"},
        "community": community_variables(content),
        "answers": {},
        "context": {},
        "count": None,
    }
    if campaign.message is None:
        flow = content.flows.get(campaign.flow or "")
        title = render(flow.title, locale, community.default_locale, variables) if flow else ""
        return f"(starts the flow '{campaign.flow}': {title})"
    text = render(campaign.message, locale, community.default_locale, variables)
    hint = content.system.get("campaign_opt_out")
    if hint is not None:
        text += "\n\n" + render(hint, locale, community.default_locale, variables)
    return text
