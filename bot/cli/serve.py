"""`onramp run`, until the console closes or SIGTERM or SIGINT asks it to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from bot import logs
from bot.adapter import Adapter, AdapterConfigError, available_adapters
from bot.cli.state import state
from bot.features import build_registry
from bot.runtime import (
    Onramp,
    UnknownAdapterError,
    build_adapters,
    configured_adapters,
    tune_garbage_collector,
)
from bot.settings import Settings
from bot.web import WebServerError
from flows.problems import ContentError

log = logging.getLogger("onramp.runtime")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def run(
    adapter: Annotated[
        list[str] | None,
        typer.Option(
            "--adapter", "-a", help="Adapter to run (repeatable); default: [adapters] enabled."
        ),
    ] = None,
    as_: Annotated[
        str | None,
        typer.Option(
            "--as", help="Console only: who you are in the chat (a new name is a new member)."
        ),
    ] = None,
) -> None:
    settings = state.settings()
    if as_:
        settings.console.user = as_
        settings.console.display_name = as_
    names = (
        adapter or settings.adapters.enabled or configured_adapters(settings, available_adapters())
    )
    log_file = settings.logging.file
    if log_file is None and "console" in names:
        log_file = Path("data/onramp.log")
    logs.configure(settings.logging.level, settings.logging.format, log_file)
    try:
        adapters = build_adapters(settings, names)
    except UnknownAdapterError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from exc
    except AdapterConfigError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from exc
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(settings, adapters))


async def _serve(settings: Settings, adapters: dict[str, Adapter]) -> None:
    with _stop_signals() as stop_requested:
        await _serve_until(settings, adapters, stop_requested)


@contextlib.contextmanager
def _stop_signals() -> Iterator[asyncio.Event]:
    """SIGTERM (docker stop, Kubernetes, systemd) and SIGINT (Ctrl-C) both ask for a graceful
    stop. The handlers are installed on the loop explicitly: Python installs its own SIGINT
    handler only when SIGINT is not ignored, and a shell ignores it for a job it starts in
    the background, so `onramp run &` would otherwise not stop on SIGINT at all."""
    loop = asyncio.get_running_loop()
    requested = asyncio.Event()

    def _on_signal(received: signal.Signals) -> None:
        if requested.is_set():
            log.info("already stopping", extra={"signal": received.name})
            return
        log.info("stopping", extra={"signal": received.name})
        requested.set()

    for number in STOP_SIGNALS:
        loop.add_signal_handler(number, _on_signal, number)
    try:
        yield requested
    finally:
        for number in STOP_SIGNALS:
            loop.remove_signal_handler(number)


async def _serve_until(
    settings: Settings, adapters: dict[str, Adapter], stop_requested: asyncio.Event
) -> None:
    try:
        onramp = await Onramp.create(settings, adapters, registry=build_registry())
    except ContentError as exc:
        typer.secho("The content has errors; the bot will not start on it:", fg="red", err=True)
        for problem in exc.problems:
            typer.secho(f"  {problem}", fg="red", err=True)
        raise typer.Exit(1) from exc
    try:
        await onramp.start()
        tune_garbage_collector()
        if not stop_requested.is_set():  # a signal during start-up: stop at once
            await onramp.run_until_closed(stop_requested)
    except (WebServerError, AdapterConfigError) as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from exc
    finally:
        await onramp.stop()  # also after a failed start: what did start is stopped
