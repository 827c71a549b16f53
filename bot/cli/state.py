"""Options shared by every command, loading settings from them, and opening the database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.settings import Settings, load_settings
from storage.migrate import upgrade
from storage.session import Database


def utcnow() -> datetime:
    """The wall clock, as the runtime's (bot.dispatcher's, not imported: a command that needs
    no dispatcher, `onramp db current`, would pay for the whole core)."""
    return datetime.now(UTC)


@dataclass
class State:
    config: Path | None = None
    # What every command takes "now" from, as the bot's runtime does (tests pin it).
    clock: Callable[[], datetime] = utcnow

    def settings(self) -> Settings:
        """The settings; a problem with them stops the command with one line each and exit 2
        (`bot.cli.app` says them)."""
        return load_settings(self.config)

    @asynccontextmanager
    async def database(
        self, settings: Settings | None = None, *, migrate: bool = True
    ) -> AsyncIterator[Database]:
        """The database of `settings` (read now when not given), migrated to the newest
        revision unless `migrate` is False, and disposed of on the way out. A wrong URL or a
        server that cannot be reached raises what `bot.cli.app` says in one line."""
        db = Database.from_url((settings or self.settings()).database.url)
        try:
            if migrate:
                await upgrade(db.engine)
            yield db
        finally:
            await db.dispose()


state = State()
