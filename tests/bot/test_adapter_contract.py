"""The optional parts of the adapter contract the runtime honours: the command menu and
leader-only work."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from adapters.memory import MemoryAdapter
from bot.adapter import CommandInfo
from bot.runtime import Onramp
from bot.settings import Settings
from tests.conftest import FakeClock


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
