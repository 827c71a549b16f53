"""/dashboard: a manager gets a one-time sign-in link to the dashboard, in a direct message.

Anyone else is refused, politely. Asked in a group, the answer still goes to the member's
private chat only: a sign-in link is never posted where others read it. Where the bot may not
write first (Telegram, before the member started it), the group is asked to come over.

The links are signed by the web app that serves the dashboard: `bot/web.py` hands this
registry its signer and address (`serve_links`). A bot that serves no web app has no
dashboard to sign in to, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from weakref import WeakKeyDictionary

from bot.health.signing import LinkSigner, sign_in_url
from bot.registry import Registry
from bot.turn import Turn
from flows.markup import Markdown
from storage import access


@dataclass(frozen=True)
class Links:
    signer: LinkSigner
    base_url: str  # [web] public_url, or this machine's address


_served: WeakKeyDictionary[Registry, Links] = WeakKeyDictionary()


def serve_links(registry: Registry, links: Links) -> None:
    """The dashboard is served: /dashboard hands out links signed by `links`."""
    _served[registry] = links


def served_links(registry: Registry) -> Links | None:
    """How the dashboard is reached from this bot, or None when it serves none."""
    return _served.get(registry)


async def dashboard(turn: Turn, args: str) -> None:
    if turn.unreachable_in_private("dashboard_in_private", "dashboard"):
        return
    if not access.is_manager(turn.member):
        turn.audit("dashboard.link_refused", actor=f"member:{turn.member.id}")
        turn.reply(turn.system_text("dashboard_managers_only"))
        return
    links = served_links(turn.registry)
    if links is None:
        turn.reply(turn.system_text("dashboard_not_served"))
        return
    token, _ = await links.signer.new_link(turn.session, turn.member.id or 0, turn.now)
    minutes = int(links.signer.lifetime.total_seconds() // 60)
    url = Markdown(f"<{sign_in_url(links.base_url, token)}>")
    turn.audit("dashboard.link_sent", actor=f"member:{turn.member.id}", minutes=minutes)
    turn.reply(turn.system_text("dashboard_link", count=minutes, url=url), links=True)


def register(registry: Registry) -> None:
    registry.command("dashboard", "command_dashboard")(dashboard)
