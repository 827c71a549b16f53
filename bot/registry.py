"""The registry: what every feature adds to the core, on one object built in one place.

A feature module exposes `register(registry)`, which adds its commands, flow actions, kinds of
due work and hooks here (decorators on the instance, as bolt's `app.command`). Importing a
feature changes nothing; `bot/features.py` builds the bot's registry in a stated order, and a
test builds a smaller one. The runtime hands it to the dispatcher and the timers; each turn
carries it, so a command or a flow step finds what it runs without a module-level table.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from bot.clock import DueHandler, Grace, QuietHours, SystemHandler
from bot.turn import Turn
from flows.actions import ActionSpec, NoParameters
from storage.models import DueWork, FlowRun

CommandHandler = Callable[[Turn, str], Awaitable[None]]
# A button pressed on a question no flow waits for (a feature's own buttons, a double tap, an
# old message), with the question's id and the ids of the choices pressed: a feature that
# recognises it answers and returns True.
LateAnswer = Callable[[Turn, str, tuple[str, ...]], Awaitable[bool]]
# What a feature does when a member sends /stop (hand their open work to others), in the
# same turn, before their timers are cancelled.
StopHook = Callable[[Turn], Awaitable[None]]
# What a feature does when a member completes a flow (badges), in the same turn.
CompletedHook = Callable[[Turn, FlowRun], Awaitable[None]]

_F = TypeVar("_F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Command:
    name: str
    handler: CommandHandler
    help_key: str | None  # the system text that describes it in /help
    while_stopped: bool = False  # may a member who sent /stop still use it?
    # Words that also run it without a slash, where commands are typed (Zulip, WhatsApp):
    # "kudos @ada for …". Matched against the whole message; group "args" is the arguments.
    typed: re.Pattern[str] | None = None


@dataclass(frozen=True)
class DueKind:
    """How one kind of due work is done: for a member (`handler`, in their turn) or about no
    one member (`system`)."""

    handler: DueHandler
    quiet_hours: QuietHours = False
    grace: Grace = None
    system: SystemHandler | None = None


class Registry:
    """Commands (in menu order), late answers, stop and completion hooks (in the order they
    run), due work by kind, and flow actions by name."""

    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}
        self.late_answers: list[LateAnswer] = []
        self.stop_hooks: list[StopHook] = []
        self.completion_hooks: list[CompletedHook] = []
        self.due_kinds: dict[str, DueKind] = {}
        self.actions: dict[str, ActionSpec] = {}

    def command(
        self,
        name: str,
        help_key: str | None = None,
        *,
        while_stopped: bool = False,
        typed: re.Pattern[str] | None = None,
    ) -> Callable[[CommandHandler], CommandHandler]:
        """A command `/name`; /help and the platforms' menus list commands in the order they
        are added."""

        def decorate(handler: CommandHandler) -> CommandHandler:
            if name in self.commands:
                raise ValueError(f"command /{name} is registered twice")
            self.commands[name] = Command(name, handler, help_key, while_stopped, typed)
            return handler

        return decorate

    def on_late_answer(self, handler: LateAnswer) -> LateAnswer:
        self.late_answers.append(handler)
        return handler

    def on_stop(self, hook: StopHook) -> StopHook:
        self.stop_hooks.append(hook)
        return hook

    def on_completed(self, hook: CompletedHook) -> CompletedHook:
        self.completion_hooks.append(hook)
        return hook

    def due(
        self, kind: str, *, quiet_hours: QuietHours = False, grace: Grace = None
    ) -> Callable[[DueHandler], DueHandler]:
        """The handler of one kind of due work about a member. With `quiet_hours`, work that
        comes due in the member's local night waits for their morning. With `grace`, work
        found more than that late (the bot was down) is skipped and recorded rather than done
        out of season."""

        def decorate(handler: DueHandler) -> DueHandler:
            self._add_due(kind, DueKind(handler, quiet_hours, grace))
            return handler

        return decorate

    def system_due(self, kind: str) -> Callable[[SystemHandler], SystemHandler]:
        """The handler of work about no one member (a campaign's send); returning a time
        postpones it (same key) to then."""

        def decorate(handler: SystemHandler) -> SystemHandler:
            async def unused(turn: Turn, work: DueWork) -> datetime | None:
                raise LookupError(f"{kind} is work about no one member")

            self._add_due(kind, DueKind(unused, system=handler))
            return handler

        return decorate

    def action(
        self, name: str, summary: str, parameters: type[BaseModel] = NoParameters
    ) -> Callable[[_F], _F]:
        """A flow action: a core function `async (turn, params) -> None` run by an action
        step. The content validator checks steps against these names and parameters."""

        def decorate(handler: _F) -> _F:
            if name in self.actions:
                raise ValueError(f"action {name!r} is registered twice")
            self.actions[name] = ActionSpec(name, parameters, handler, summary)
            return handler

        return decorate

    def _add_due(self, kind: str, due: DueKind) -> None:
        if kind in self.due_kinds:
            raise ValueError(f"due work {kind!r} is registered twice")
        self.due_kinds[kind] = due

    def find_command(self, name: str) -> Command | None:
        return self.commands.get(name)

    def typed_command(self, text: str) -> tuple[str, str] | None:
        """A command written without its slash ("kudos @ada for …"): its name and arguments."""
        for command in self.commands.values():
            if command.typed is not None and (found := command.typed.fullmatch(text.strip())):
                return command.name, (found.groupdict().get("args") or "").strip()
        return None
