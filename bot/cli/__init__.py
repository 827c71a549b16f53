"""The `onramp` command line."""

from __future__ import annotations

import sys

INTERRUPTED = 130  # the shell's code for a command ended by Ctrl-C (128 + SIGINT)


def main() -> None:
    """`onramp`. Its imports take about a second: a Ctrl-C in that second ends it quietly, as
    one during a command does, instead of printing where the import was."""
    try:
        from bot.cli.app import app
    except KeyboardInterrupt:
        sys.exit(INTERRUPTED)
    app()


__all__ = ["main"]
