"""Slack's mentions of members in what members type, in the core's form (adapters/mentions.py).

Slack writes a mention as `<@U0123ABC>`; a slash command with "Escape channels, users, and
links sent to your app" on gets `<@U0123ABC|ada>`, the label being the name that was typed.
Either becomes `[ada](member:U0123ABC)`, the id standing in for a missing label. Channels,
user groups, `<!here>` and links are none of this module's business.
"""

from __future__ import annotations

import re

from adapters.mentions import member_link

_USER = re.compile(r"<@([A-Z0-9]+)(?:\|([^<>]*))?>")


def linked(text: str) -> str:
    """`text` (still in Slack's markup) with each user mention as a member link."""
    return _USER.sub(lambda found: member_link(found[1], found[2] or found[1]), text)
