"""The registry: built in one stated order, buildable smaller, and filled by nothing else."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator
from types import ModuleType

import pytest

import bot
import flows
from adapters.memory import Chat, MemoryAdapter
from bot import mode_commands, privacy
from bot.campaigns import commands as campaign_commands
from bot.features import build_registry
from bot.mentorship import offers
from bot.recognition import badges
from bot.registry import Command, DueKind, Registry
from bot.runtime import Onramp
from bot.settings import Settings
from flows.actions import ActionSpec
from flows.content import load_tree_or_raise
from storage.migrate import upgrade
from storage.session import Database
from tests.clock import FakeClock
from tests.conftest import CONTENT
from tests.features import ACTIONS

MENU = [
    "start",
    "restart",
    "help",
    "language",
    "stop",
    "mode",
    "links",
    "mentor",
    "kudos",
    "badges",
    "announcements",
    "privacy",
    "campaign",
    "dashboard",
    "digest",
]


def test_the_bot_registry_has_the_stated_order() -> None:
    registry = build_registry()
    assert list(registry.commands) == MENU
    assert registry.late_answers == [
        offers.offer_answered_already,
        privacy.pressed,
        campaign_commands.pressed,
    ]
    assert registry.stop_hooks == [offers.member_stopped]
    assert registry.completion_hooks == [badges.flow_completed]
    assert sorted(registry.due_kinds) == [
        "campaign.plan",
        "campaign.request",
        "campaign.send",
        "flow.expire",
        "flow.nudge",
        "health.digest",
        "mentor.checkin",
        "mentor.offer_expire",
    ]
    assert sorted(registry.actions) == [
        "accept_offer",
        "add_role",
        "award_badge",
        "decline_offer",
        "match_mentor",
        "record_checkin",
        "remove_role",
        "save_mentor_profile",
    ]


def test_each_build_is_a_registry_of_its_own() -> None:
    first, second = build_registry(), build_registry()
    assert first.commands is not second.commands
    assert list(first.commands) == list(second.commands)
    first.command("wave")(mode_commands.mode)
    assert "wave" not in second.commands


def test_a_name_registered_twice_is_refused() -> None:
    registry = Registry()
    mode_commands.register(registry)
    with pytest.raises(ValueError, match="/mode"):
        mode_commands.register(registry)


def _modules(package: ModuleType) -> list[ModuleType]:
    names = [
        info.name
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
        if not info.name.endswith("__main__")
    ]
    return [package, *(importlib.import_module(name) for name in names)]


def _holds_registrations(value: object, hooks: list[object]) -> bool:
    """A registry, or a module-level table of what a feature registers."""
    registered = (Command, ActionSpec, DueKind)
    if isinstance(value, Registry):
        return True
    if isinstance(value, dict):
        return any(isinstance(v, registered) for v in value.values())
    if isinstance(value, list):
        return any(isinstance(v, registered) or any(v is h for h in hooks) for v in value)
    return False


def test_importing_every_module_fills_no_registry() -> None:
    """No module keeps a registry, or a table of commands, actions, due work or hooks: what a
    feature adds lives on the Registry its `register` was given."""
    full = build_registry()
    hooks: list[object] = [*full.late_answers, *full.stop_hooks, *full.completion_hooks]
    found = [
        f"{module.__name__}.{name}"
        for module in _modules(bot) + _modules(flows)
        for name, value in vars(module).items()
        if _holds_registrations(value, hooks)
    ]
    assert found == []
    assert Registry().commands == {} and Registry().actions == {}


@pytest.fixture
async def small(
    settings: Settings, memory: MemoryAdapter, clock: FakeClock
) -> AsyncIterator[Onramp]:
    """The bot with one feature: /mode and /links, and nothing else (not even /help)."""
    registry = Registry()
    mode_commands.register(registry)
    db = Database.from_url(settings.database.url)
    await upgrade(db.engine)
    content = load_tree_or_raise(CONTENT, actions=ACTIONS)
    app = Onramp(settings, content, db, {"memory": memory}, clock, registry)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


async def test_a_registry_with_one_feature_serves_only_that_feature(
    small: Onramp, memory: MemoryAdapter
) -> None:
    assert list(small.registry.commands) == ["mode", "links"]
    chat = Chat(memory, user="ada", display_name="Ada")
    await chat.say("/mode")
    chat.expect("/mode lite", "/mode text", "/mode rich")
    for other in ("/kudos @bob", "/help", "/mentor"):
        await chat.say(other)
        chat.expect("I don't know that command")
    chat.expect_nothing()
