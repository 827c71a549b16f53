"""Commands every platform gets, and the registry later features add theirs to."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from babel import Locale

from bot.adapter import CommandInfo
from bot.conversation import chosen_by_member, continue_flow, start_flow
from bot.turn import Turn
from flows.answers import language_code
from flows.content import ContentTree
from flows.engine import Resume
from flows.text import render
from storage import due, outbox, runs

CommandHandler = Callable[[Turn, str], Awaitable[None]]


@dataclass(frozen=True)
class Command:
    name: str
    handler: CommandHandler
    help_key: str | None  # the system text that describes it in /help
    while_stopped: bool = False  # may a member who sent /stop still use it?
    # Words that also run it without a slash, where commands are typed (Zulip, WhatsApp):
    # "kudos @ada for …". Matched against the whole message; group "args" is the arguments.
    typed: re.Pattern[str] | None = None


_commands: dict[str, Command] = {}


def register(
    name: str,
    help_key: str | None = None,
    *,
    while_stopped: bool = False,
    typed: re.Pattern[str] | None = None,
) -> Callable[[CommandHandler], CommandHandler]:
    def decorate(handler: CommandHandler) -> CommandHandler:
        _commands[name] = Command(name, handler, help_key, while_stopped, typed)
        return handler

    return decorate


# A button pressed on a question no flow waits for any more (a double tap, an old message):
# a feature that recognises it answers and returns True.
LateAnswer = Callable[[Turn, str], Awaitable[bool]]
_late_answers: list[LateAnswer] = []


def on_late_answer(handler: LateAnswer) -> LateAnswer:
    _late_answers.append(handler)
    return handler


async def late_answer(turn: Turn, step_id: str) -> bool:
    for handler in _late_answers:
        if await handler(turn, step_id):
            return True
    return False


# What a feature does when a member sends /stop (hand their open work to others), in the
# same turn, before their timers are cancelled.
StopHook = Callable[[Turn], Awaitable[None]]
_on_stop: list[StopHook] = []


def on_stop(hook: StopHook) -> StopHook:
    _on_stop.append(hook)
    return hook


def typed_command(text: str) -> tuple[str, str] | None:
    """A command written without its slash ("kudos @ada for …"): its name and arguments."""
    for command in _commands.values():
        if command.typed is not None and (found := command.typed.fullmatch(text.strip())):
            return command.name, (found.groupdict().get("args") or "").strip()
    return None


def find(name: str) -> Command | None:
    return _commands.get(name)


def all_commands() -> list[Command]:
    return list(_commands.values())


async def resume_or_start_onboarding(turn: Turn) -> None:
    run = await runs.current_run(turn.session, member_id(turn))
    if run is not None:
        turn.reply(turn.system_text("welcome_back"))
        await continue_flow(turn, run, Resume())
    else:
        await start_flow(turn, turn.content.onboarding)


@register("start", "command_start", while_stopped=True)
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


@register("restart", "command_restart")
async def restart(turn: Turn, args: str) -> None:
    await runs.end_runs(turn.session, member_id(turn), "cancelled", turn.now)
    await due.cancel_for_member(turn.session, member_id(turn), prefix="flow.")
    await start_flow(turn, turn.content.onboarding)


@register("help", "command_help", while_stopped=True)
async def help_(turn: Turn, args: str) -> None:
    lines = [turn.system_text("help"), ""]
    lines += [turn.system_text(c.help_key) for c in all_commands() if c.help_key]
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


@register("language", "command_language")
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


@register("stop", "command_stop")
async def stop(turn: Turn, args: str) -> None:
    for hook in _on_stop:
        await hook(turn)
    turn.member.opted_out = True
    await outbox.cancel_for_member(turn.session, member_id(turn))
    await due.cancel_for_member(turn.session, member_id(turn))
    turn.audit("member.stopped")
    turn.reply(turn.system_text("stopped"))


_LEADING_COMMAND = re.compile(r"^/[^:]*:\s*")


def command_menu(content: ContentTree) -> list[CommandInfo]:
    """Every command a member can use, described in each of the community's languages: the
    built-ins' /help lines (without their leading "/name ARGS:") and each command flow's title."""
    community = content.community
    menu = []
    for command in all_commands():
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
    command = find(name)
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
