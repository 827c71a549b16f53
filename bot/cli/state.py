"""Options shared by every command, and loading settings from them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer
from pydantic import ValidationError

from bot.settings import Settings, load_settings


@dataclass
class State:
    config: Path | None = None

    def settings(self) -> Settings:
        try:
            return load_settings(self.config)
        except (FileNotFoundError, ValidationError) as exc:
            typer.secho(f"Settings problem: {exc}", fg="red", err=True)
            raise typer.Exit(2) from exc


state = State()
