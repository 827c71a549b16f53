"""Mentions of members in what members type, in the core's own form.

A mention the platform resolved to a user (Slack `<@U…>`, a Telegram `text_mention`, Zulip
`@**Name|id**`) becomes `[Name](member:ID)`, the same form the core writes mentions in. A
name the platform did not resolve is left as typed (`@username`, `@Name`), or `@"Full Name"`
for a name with spaces, for the core to look up.

Such a link is how the core reads who was named (the receiver of a `/kudos`), never markup:
whatever a member wrote, `[you](member:ID)` typed as it is included, is escaped when a message
shows it (flows/markup.py), so it cannot mention anyone.
"""

from __future__ import annotations


def member_link(platform_id: str, name: str) -> str:
    """`[name](member:ID)`; brackets in the name are dropped so the link stays one link."""
    clean = name.replace("[", "").replace("]", "").strip() or platform_id
    return f"[{clean}](member:{platform_id})"


def quoted_name(name: str) -> str:
    """An unresolved name with spaces: `@"Full Name"`."""
    return f'@"{name.replace(chr(34), "")}"' if " " in name.strip() else f"@{name.strip()}"
