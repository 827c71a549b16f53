"""Importing this module registers every feature's flow actions, commands and timers.

A new feature adds one import here; the core's dispatcher and the content validator then
know its actions and commands by name.
"""

from bot import (  # noqa: F401
    commands,
    mode_commands,
    profile_actions,
    timers,
)
from bot.campaigns import delivery  # noqa: F401
from bot.mentorship import checkins, offers, signup  # noqa: F401
from bot.mentorship import commands as mentor_commands  # noqa: F401
from bot.recognition import badges, kudos  # noqa: F401

# isort: split
# Commands are listed in the order they register: /announcements after /badges.
from bot import consent  # noqa: F401
from bot.campaigns import commands as campaign_commands  # noqa: F401  (then /campaign)
