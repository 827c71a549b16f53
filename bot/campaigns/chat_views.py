"""How `/campaign` shows things in chat: the manager's words for a campaign's title, send
time, state, reasons and lateness, the replies shared by several subcommands, and a question
confirmed with one button (or, where the platform has no buttons, a command to type).

What each subcommand does is `bot.campaigns.commands` (whose `pressed` reads the buttons'
step ids back); these only word it, in the manager's language, from the system texts of
content/.
"""

from __future__ import annotations

import functools
from datetime import datetime

from babel import Locale, UnknownLocaleError

from bot.adapter import available_adapters
from bot.campaigns.segments import REASONS
from bot.messages import Choice
from bot.turn import Turn
from flows.campaigns import Campaign, Lateness, LocalSendTime, utc_text
from flows.markup import Markdown
from flows.text import render
from storage.models import Campaign as CampaignRow

CONFIRM = "confirm"


def usage(turn: Turn) -> None:
    """`/campaign` alone: the subcommands, and the campaigns of content/campaigns/."""
    lines = [
        f"• `{campaign.id}`: {title_text(turn, campaign)}"
        for campaign in turn.content.campaigns.values()
    ]
    # The bot's own Markdown (ids and titles from content/): inserted as it is.
    listing = Markdown("\n".join(lines)) if lines else turn.system_text("campaign_none")
    turn.reply(turn.system_text("campaign_usage", campaigns=listing))


def lateness_lines(turn: Turn, campaign: Campaign, late: Lateness) -> list[str]:
    """Whether the campaign's own times have passed, in the manager's words."""
    until = utc_text(campaign.expires_at) if campaign.expires_at else ""
    if late.expired:
        return [turn.system_text("campaign_late_expired", until=until)]
    lines = []
    if late.send_passed:
        lines.append(turn.system_text("campaign_late_send"))
    elif late.send_passed_somewhere:
        lines.append(turn.system_text("campaign_late_send_somewhere"))
    if late.expires_early:
        lines.append(turn.system_text("campaign_late_expires_early", until=until))
    return lines


def say_expired(turn: Turn, campaign: Campaign) -> None:
    until = utc_text(campaign.expires_at) if campaign.expires_at else ""
    turn.reply(turn.system_text("campaign_send_expired", campaign=campaign.id, until=until))


def ask_to_confirm(turn: Turn, text: str, action: str, key: str, typed: str) -> None:
    """A question with one button (pressing it confirms; ignoring it, nothing happens), or,
    where the platform has no buttons, the command to type."""
    if _has_buttons(turn.identity.platform):
        label = turn.system_text(f"campaign_{action}_button")
        turn.reply(text, choices=(Choice(CONFIRM, label),), step_id=f"campaign.{action}.{key}")
    else:
        turn.reply(f"{text}\n\n{turn.system_text('campaign_confirm_typed', command=typed)}")


@functools.cache
def _has_buttons(platform: str) -> bool:
    factory = available_adapters().get(platform)
    return factory is None or factory.capabilities.max_buttons > 0


def say_already(turn: Turn, row: CampaignRow) -> None:
    match row.state:
        case "awaiting_approval":
            key = "campaign_already_waiting"
        case "done" | "cancelled":
            key = f"campaign_already_{row.state}"
        case _:
            key = "campaign_already_going"
    turn.reply(turn.system_text(key, campaign=row.key, state=state_text(turn, row)))


def campaign_named(turn: Turn, key: str) -> Campaign | None:
    """The campaign of content/campaigns/ with this id; else the manager is told which exist."""
    found = turn.content.campaigns.get(key)
    if found is None:
        turn.reply(turn.system_text("campaign_unknown", campaign=key, known=known_text(turn)))
    return found


def say_not_sent(turn: Turn, key: str) -> None:
    if key in turn.content.campaigns:
        turn.reply(turn.system_text("campaign_not_sent", campaign=key))
    else:
        turn.reply(turn.system_text("campaign_unknown", campaign=key, known=known_text(turn)))


def known_text(turn: Turn) -> Markdown:
    return Markdown(", ".join(f"`{key}`" for key in turn.content.campaigns))


def title_text(turn: Turn, campaign: Campaign) -> str:
    return render(campaign.title, turn.locale, turn.content.community.default_locale, {})


def when_text(turn: Turn, campaign: Campaign) -> str:
    at = campaign.send_at
    if isinstance(at, datetime):
        return turn.system_text("campaign_when_at", at=utc_text(at))
    if isinstance(at, LocalSendTime):
        return turn.system_text("campaign_when_local", time=at.local_time, date=at.date.isoformat())
    return turn.system_text("campaign_when_now")


def state_text(turn: Turn, row: CampaignRow) -> str:
    key = f"campaign_state_{row.state}"
    return turn.system_text(key) if key in turn.content.system else row.state


def reason_text(turn: Turn, reason: str) -> str:
    """A reason code in the manager's language; a platform's own error as it said it."""
    return turn.system_text(f"campaign_reason_{reason}") if reason in REASONS else reason


def language_text(code: str, locale: str) -> str:
    try:
        return Locale.parse(code).get_display_name(locale) or code
    except (UnknownLocaleError, ValueError):
        return code
