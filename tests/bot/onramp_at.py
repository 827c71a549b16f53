"""`onramp` on a test's clock instead of the wall clock, for tests that run the command line
in a process of its own:

    python -m tests.bot.onramp_at 2026-03-02T10:00:00+00:00 fixed match --json

The first two words are a test clock's `argv()` (tests/clock.py); the rest is the command.
Every command takes "now" from `bot.cli.state.state.clock`, which this sets, so what the
command decides (quiet hours, offers' deadlines, a campaign's lateness) does not depend on
the hour the suite runs at.
"""

from __future__ import annotations

import sys

import bot.cli
from bot.cli.state import state
from tests.clock import from_argv

if __name__ == "__main__":
    start, anchor, *command = sys.argv[1:]
    state.clock = from_argv(start, anchor)
    sys.argv = ["onramp", *command]
    bot.cli.main()
