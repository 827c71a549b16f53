"""Commands every platform gets (/start, /restart, /help, /language, /stop), and how any
registered command is run and listed in the platforms' menus."""

from __future__ import annotations

import re

from babel import Locale

from bot.adapter import CommandInfo
from bot.conversation import chosen_by_member, continue_flow, start_flow
from bot.registry import Registry
from bot.turn import Turn
from flows.answers import language_code
from flows.content import ContentTree
from flows.engine import Resume
from flows.text import render
from storage import due, outbox, runs
from storage.statuses import RunStatus


async def late_answer(turn: Turn, step_id: str, choice_ids: tuple[str, ...] = ()) -> bool:
    """A button pressed on a question no flow waits for: the first feature that knows it
    answers (True), in the order the features registered."""
    for handler in turn.registry.late_answers:
        if await handler(turn, step_id, choice_ids):
            return True
    return False


async def resume_or_start_onboarding(turn: Turn) -> None:
    run = await runs.current_run(turn.session, member_id(turn))
    if run is not None:
        turn.reply(turn.system_text("welcome_back"))
        await continue_flow(turn, run, Resume())
    else:
        await start_flow(turn, turn.content.onboarding)


async def start(turn: Turn, args: str) -> None:
    """`/start`, or `/start SOURCE` from a link (a Telegram deep link carries its payload):
    the first source a member came from is kept."""
    source = args.strip()[:64]
    if source and turn.member.source is None:
        turn.member.source = source
    if turn.member.opted_out:
        turn.member.opted_out = False
        turn.audit("member.resumed")
    await resume_or_start_onboarding(turn)


async def restart(turn: Turn, args: str) -> None:
    await runs.end_runs(turn.session, member_id(turn), RunStatus.CANCELLED, turn.now)
    await due.cancel_for_member(turn.session, member_id(turn), prefix="flow.")
    await start_flow(turn, turn.content.onboarding)


async def help_(turn: Turn, args: str) -> None:
    lines = [turn.system_text("help"), ""]
    lines += [turn.system_text(c.help_key) for c in turn.registry.commands.values() if c.help_key]
    for flow in turn.content.flows.values():
        if flow.trigger.command:
            title = render(
                flow.title,
                turn.member.locale,
                turn.content.community.default_locale,
                turn.template_variables(),
            )
            lines.append(f"/{flow.trigger.command}: {title}")
    turn.reply("\n".join(lines))


async def language(turn: Turn, args: str) -> None:
    locales = turn.content.community.locales
    wanted = language_code(args, turn.locale) if args else None
    if wanted is not None and wanted not in locales:
        wanted = wanted.split("_")[0] if wanted.split("_")[0] in locales else None
    if wanted is None:
        intro = turn.system_text("language_unknown" if args else "command_language")
        names = ", ".join(
            f"{code} ({Locale.parse(code).get_display_name(code)})" for code in locales
        )
        turn.reply(f"{intro}\n{names}")
        return
    turn.member.locale = wanted
    await chosen_by_member(turn, "locale", wanted)
    turn.reply(turn.system_text("language_set"))


async def stop(turn: Turn, args: str) -> None:
    for hook in turn.registry.stop_hooks:
        await hook(turn)
    turn.member.opted_out = True
    await outbox.cancel_for_member(turn.session, member_id(turn))
    await due.cancel_for_member(turn.session, member_id(turn))
    turn.audit("member.stopped")
    turn.reply(turn.system_text("stopped"))


_LEADING_COMMAND = re.compile(r"^/[^:]*:\s*")


def command_menu(content: ContentTree, registry: Registry) -> list[CommandInfo]:
    """Every command a member can use, described in each of the community's languages: the
    registered commands' /help lines (without their leading "/name ARGS:"), in the registry's
    order, then each command flow's title."""
    community = content.community
    menu = []
    for command in registry.commands.values():
        if command.help_key is None:
            continue
        text = content.system[command.help_key]
        descriptions = {
            locale: _LEADING_COMMAND.sub("", render(text, locale, community.default_locale, {}))
            for locale in community.locales
        }
        menu.append(CommandInfo(command.name, descriptions))
    for flow in content.flows.values():
        if flow.trigger.command:
            descriptions = {
                locale: render(flow.title, locale, community.default_locale, {})
                for locale in community.locales
            }
            menu.append(CommandInfo(flow.trigger.command, descriptions))
    return menu


async def run_command(turn: Turn, name: str, args: str) -> None:
    command = turn.registry.find_command(name)
    if turn.member.opted_out and not (command and command.while_stopped):
        return
    if command is not None:
        await command.handler(turn, args)
        return
    flow = turn.content.flow_for_command(name)
    if flow is not None:
        await start_flow(turn, flow)
    else:
        turn.reply(turn.system_text("unknown_command"))


def member_id(turn: Turn) -> int:
    assert turn.member.id is not None
    return turn.member.id


def register(registry: Registry) -> None:
    """The built-in commands, in the order /help and the menus list them."""
    registry.command("start", "command_start", while_stopped=True)(start)
    registry.command("restart", "command_restart")(restart)
    registry.command("help", "command_help", while_stopped=True)(help_)
    registry.command("language", "command_language")(language)
    registry.command("stop", "command_stop")(stop)
