"""/mode: how messages reach the member (rich, text or lite; bot/modes.py), and /links: the
links lite mode took out of the last messages."""

from __future__ import annotations

from bot.modes import LINK_MARKER, mode_of
from bot.registry import Registry
from bot.turn import Turn
from flows.markup import escape
from flows.schema import MODES


async def mode(turn: Turn, args: str) -> None:
    """`/mode lite|text|rich` sets the member's mode; `/mode` alone (or a mode nobody knows)
    says theirs and what each one means."""
    wanted = mode_of(args)
    if wanted is not None:
        turn.member.mode = wanted
        turn.audit("member.mode", mode=wanted)
        turn.reply(turn.system_text("mode_set", mode=wanted))
        return
    meanings = {
        "rich": turn.system_text("mode_rich"),
        "text": turn.system_text("mode_text"),
        "lite": turn.system_text("mode_lite"),
    }
    lines = [turn.system_text("mode_current", mode=turn.mode)]
    lines += [f"/mode {name}: {meanings[name]}" for name in MODES]
    turn.reply("\n".join(lines))


async def links(turn: Turn, args: str) -> None:
    """The links of the last messages, as lite mode numbered them: kept on the member row
    (`member.links`), so they are there whichever replica gets the command, and later."""
    kept = turn.member.links or []
    if not kept:
        turn.reply(turn.system_text("links_none"))
        return
    lines = [f"{LINK_MARKER}{number} {escape(url)}" for number, url in enumerate(kept, start=1)]
    turn.reply("\n".join(lines), links=True)


def register(registry: Registry) -> None:
    """/mode, then /links."""
    registry.command("mode", "command_mode")(mode)
    registry.command("links", "command_links")(links)
