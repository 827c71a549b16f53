"""The `onramp` command line."""

from __future__ import annotations

from bot.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
