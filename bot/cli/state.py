"""Options shared by every command, and loading settings from them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.dispatcher import utcnow
from bot.settings import Settings, load_settings


@dataclass
class State:
    config: Path | None = None
    # What every command takes "now" from, as the bot's runtime does (tests pin it).
    clock: Callable[[], datetime] = utcnow

    def settings(self) -> Settings:
        """The settings; a problem with them stops the command with one line each and exit 2
        (`bot.cli.app` says them)."""
        return load_settings(self.config)


state = State()
