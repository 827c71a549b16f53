"""The bot's full registry for tests, built once as the runtime and the CLI build theirs.

Content is validated against the flow actions the features register; a test that loads the
shipped content passes `actions=ACTIONS`, as `onramp check` does.
"""

from __future__ import annotations

from bot.features import build_registry
from flows.actions import Actions

ACTIONS: Actions = build_registry().actions
