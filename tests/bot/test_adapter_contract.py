"""The adapter contract (bot/adapter.py): every installed adapter inherits `Adapter`; the
optional capabilities' defaults are what the core does without them; an entry point that does
not name an `Adapter` is refused with one line; and the optional parts the runtime honours:
the command menu and leader-only work."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Sequence
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

import bot.adapter
from adapters.memory import MemoryAdapter
from bot.adapter import (
    ENTRY_POINT_GROUP,
    Adapter,
    Capabilities,
    CommandInfo,
    Inbox,
    NotAnAdapterError,
    adapter_class,
    available_adapters,
    refused_adapters,
)
from bot.messages import OutgoingMessage
from bot.runtime import Onramp, build_adapters
from bot.settings import Settings
from tests.conftest import FakeClock

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {"console", "memory", "slack", "telegram", "whatsapp", "zulip"}


class Minimal(Adapter):
    """Only what every adapter must write."""

    name = "minimal"
    capabilities = Capabilities()

    def __init__(self, settings: Any = None) -> None:
        self.sent: list[OutgoingMessage] = []

    async def start(self, inbox: Inbox) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, message: OutgoingMessage) -> str:
        self.sent.append(message)
        return str(len(self.sent))

    def routes(self) -> list[Any]:
        return []


class LooksLikeOne:
    """Every method an adapter has, but not the base class: refused."""

    name = "looks"
    capabilities = Capabilities()

    async def start(self, inbox: Inbox) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, message: OutgoingMessage) -> str:
        return "1"

    def routes(self) -> list[Any]:
        return []


class Unfinished(Adapter):
    name = "unfinished"
    capabilities = Capabilities()

    async def start(self, inbox: Inbox) -> None:
        pass


class Nameless(Minimal):
    name = None  # type: ignore[assignment]


class NoCapabilities(Minimal):
    capabilities = None  # type: ignore[assignment]


MESSAGE = OutgoingMessage(platform="minimal", recipient="ada", text="**Hello** _there_")


def test_every_installed_adapter_inherits_the_contract() -> None:
    found = available_adapters()
    assert set(found) >= SHIPPED
    for name, factory in found.items():
        assert issubclass(factory, Adapter), name
        assert factory.name == name
        assert isinstance(factory.capabilities, Capabilities), name
        assert not factory.__abstractmethods__, name
    assert refused_adapters() == {}


def test_the_optional_capabilities_default_to_what_the_core_does_without_them(
    settings: Settings,
) -> None:
    adapter = Minimal()
    assert list(adapter.rate_limits(MESSAGE)) == []  # no limit
    assert adapter.ready() is True
    adapter.set_commands([CommandInfo("start", {"en": "Start"})], ["en"])  # no menu: no-op
    adapter.set_texts(lambda key, locale: key)  # says nothing itself: no-op
    assert adapter.leads is False  # no leader-only work: no replica takes a lock for it
    assert Minimal.configured(settings) is False  # served only when named
    assert Minimal.render_preview(MESSAGE) == MESSAGE.text  # the text as the core wrote it


async def test_by_default_an_adapter_never_ends_the_session_itself() -> None:
    closed = asyncio.ensure_future(Minimal().closed())
    for _ in range(10):
        await asyncio.sleep(0)
    assert not closed.done()
    closed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closed


async def test_defining_lead_means_leading_unless_the_adapter_says_otherwise() -> None:
    class Polling(Minimal):
        async def lead(self) -> None:
            pass

    class WebhookOnly(Polling):
        leads = False

    assert Polling.leads is True and Polling().leads is True
    assert WebhookOnly.leads is False
    await Minimal().lead()  # a no-op by default


@pytest.mark.parametrize(
    ("loaded", "says"),
    [
        (LooksLikeOne, "is not a subclass of bot.adapter.Adapter"),
        (lambda settings: Minimal(), "is not a subclass of bot.adapter.Adapter"),
        (Unfinished, "does not define routes, send, stop"),
        (Nameless, "sets no `name` on its class"),
        (NoCapabilities, "sets no `capabilities = Capabilities(...)` on its class"),
    ],
)
def test_an_entry_point_that_is_not_an_adapter_is_refused_with_one_line(
    loaded: object, says: str
) -> None:
    with pytest.raises(NotAnAdapterError) as refused:
        adapter_class("matrix", loaded)
    message = str(refused.value)
    assert "'matrix'" in message and says in message
    assert "\n" not in message
    assert adapter_class("minimal", Minimal) is Minimal


def _with_matrix(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """The installed entry points, and `matrix` naming `value`."""
    installed = bot.adapter.entry_points(group=ENTRY_POINT_GROUP)
    matrix = EntryPoint(name="matrix", value=value, group=ENTRY_POINT_GROUP)

    def entry_points(group: str) -> Sequence[EntryPoint]:
        assert group == ENTRY_POINT_GROUP
        return [*installed, matrix]

    monkeypatch.setattr(bot.adapter, "entry_points", entry_points)


def test_a_non_conforming_plugin_is_left_out_and_refused_when_asked_for(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    _with_matrix(monkeypatch, f"{__name__}:LooksLikeOne")
    assert "matrix" not in available_adapters()  # every other command keeps working
    assert set(available_adapters()) >= SHIPPED
    assert "matrix" in refused_adapters()
    with pytest.raises(NotAnAdapterError, match=r"'matrix' .* is not a subclass"):
        build_adapters(settings, ["matrix"])


def test_a_conforming_plugin_is_served(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    _with_matrix(monkeypatch, f"{__name__}:Minimal")
    assert available_adapters()["matrix"] is Minimal
    assert isinstance(build_adapters(settings, ["matrix"])["matrix"], Minimal)


def test_onramp_run_refuses_a_non_conforming_plugin_in_one_line(tmp_path: Path) -> None:
    """A separately installed package (its dist-info on the path) whose entry point names a
    class that is not an Adapter."""
    (tmp_path / "onramp_matrix.py").write_text(
        "class MatrixAdapter:\n    name = 'matrix'\n", encoding="utf-8"
    )
    info = tmp_path / "onramp_matrix-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: onramp-matrix\nVersion: 0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[onramp.adapters]\nmatrix = onramp_matrix:MatrixAdapter\n", encoding="utf-8"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
        "ONRAMP_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'onramp.db'}",
        "ONRAMP_LOGGING__FILE": str(tmp_path / "onramp.log"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--adapter", "matrix"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "matrix" in line]
    assert len(lines) == 1 and "is not a subclass of bot.adapter.Adapter" in lines[0], result.stderr


class PollingAdapter(MemoryAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.menu: list[CommandInfo] = []
        self.locales: list[str] = []
        self.polling = asyncio.Event()
        self.stopped_polling = asyncio.Event()

    def set_commands(self, commands: Sequence[CommandInfo], locales: Sequence[str]) -> None:
        assert self.inbox is None, "the menu is set before start()"
        self.menu, self.locales = list(commands), list(locales)

    async def lead(self) -> None:
        self.polling.set()
        try:
            await asyncio.Event().wait()
        finally:
            self.stopped_polling.set()


async def test_the_runtime_sets_the_menu_and_runs_leader_work_until_stopped(
    settings: Settings, clock: FakeClock
) -> None:
    adapter = PollingAdapter()
    app = await Onramp.create(settings, {"memory": adapter}, clock=clock)
    await app.start()
    try:
        assert [c.name for c in adapter.menu][:2] == ["start", "restart"]
        # the default first (Telegram: the fallback)
        assert adapter.locales == ["en", "fr", "es", "pt", "ar", "sw"]
        await asyncio.wait_for(adapter.polling.wait(), 5)  # SQLite: this process leads
    finally:
        await app.stop()
    assert adapter.stopped_polling.is_set()


class WebhookModeAdapter(PollingAdapter):
    leads = False  # e.g. Telegram in webhook mode: every replica takes webhooks


async def test_an_adapter_with_nothing_to_lead_takes_no_lock(
    settings: Settings, clock: FakeClock
) -> None:
    adapter = WebhookModeAdapter()
    app = await Onramp.create(settings, {"memory": adapter}, clock=clock)
    await app.start()
    try:
        await asyncio.sleep(0.05)
        assert not adapter.polling.is_set()
        assert app._leading == []
    finally:
        await app.stop()
