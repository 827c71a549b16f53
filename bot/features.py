"""The bot's registry, built in one place: every feature added in a stated order.

A new feature writes a `register(registry)` function in its module and adds one line here.
Importing a feature module registers nothing; only `build_registry()` does, so the order
below is the whole story: the command menu (/help, Telegram's and Slack's menus) lists
commands in it, and late answers and hooks run in it.
"""

from __future__ import annotations

from bot import commands, consent, mode_commands, privacy, profile_actions, timers
from bot.campaigns import commands as campaign_commands
from bot.campaigns import delivery as campaign_delivery
from bot.health import chat as health_chat
from bot.health import digest as health_digest
from bot.mentorship import checkins, offers, signup
from bot.mentorship import commands as mentor_commands
from bot.recognition import badges, kudos
from bot.registry import Registry


def build_registry() -> Registry:
    """Every feature, in order. The menu: /start /restart /help /language /stop, /mode
    /links, /mentor, /kudos /badges, /announcements, /privacy, /campaign, /dashboard /digest.
    A button pressed late is offered to the mentor offers first, then /privacy's, then to the
    campaigns."""
    registry = Registry()
    commands.register(registry)  # /start /restart /help /language /stop
    mode_commands.register(registry)  # /mode /links
    profile_actions.register(registry)
    timers.register(registry)  # a flow's nudge and expiry
    campaign_delivery.register(registry)  # a campaign's planning and sending
    checkins.register(registry)
    offers.register(registry)  # its late answers before the campaigns'
    signup.register(registry)
    mentor_commands.register(registry)  # /mentor
    badges.register(registry)
    kudos.register(registry)  # /kudos /badges
    consent.register(registry)  # /announcements
    privacy.register(registry)  # /privacy
    campaign_commands.register(registry)  # /campaign
    health_chat.register(registry)  # /dashboard
    health_digest.register(registry)  # /digest, and the weekly digests
    return registry
