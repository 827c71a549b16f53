"""`onramp dashboard [--port N] [--as MEMBER]`: the managers' dashboard on this machine, and a
sign-in link for a manager.

It serves the web app alone (no platform, no sender, no timers) on 127.0.0.1, at the `[web]`
port unless `--port` says another, until Ctrl-C. The link is for `--as` (a member id, an
identity such as console:ada, or a manager's name), or for the only manager when there is
one; a member becomes a manager with `onramp role MEMBER manager`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from typing import Annotated

import typer
from sqlalchemy import func, select

from bot import logs
from bot.cli.state import state
from bot.features import build_registry
from bot.health import day_sets
from bot.health.signing import LinkSigner, sign_in_url
from bot.runtime import Onramp
from bot.settings import Settings
from bot.web import WebServer, WebServerError, create_app
from flows.problems import ContentError
from storage import access, members
from storage.models import Member
from storage.session import Session

HOST = "127.0.0.1"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class NoManager(Exception):
    """Whom the link would be for is unclear: one line says why and what to do."""


def dashboard(
    port: Annotated[
        int | None,
        typer.Option("--port", "-p", min=0, max=65535, help="Port (default: [web] port)."),
    ] = None,
    as_: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="The manager to sign in: a member id, an identity (console:ada) or a name; "
            "default: the only manager.",
        ),
    ] = None,
) -> None:
    settings = state.settings()
    settings.web.host = HOST
    settings.web.public_url = None  # the link is for this machine's browser
    if port is not None:
        settings.web.port = port
    logs.configure(settings.logging.level, settings.logging.format, settings.logging.file)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(settings, as_))


async def _serve(settings: Settings, wanted: str | None) -> None:
    try:
        onramp = await Onramp.create(settings, {}, clock=state.clock, registry=build_registry())
    except ContentError as exc:
        typer.secho("The content has errors; the dashboard cannot show it:", fg="red", err=True)
        for problem in exc.problems:
            typer.secho(f"  {problem}", fg="red", err=True)
        raise typer.Exit(1) from exc
    server = WebServer(create_app(onramp), settings.web)
    with _stop_signals() as stop_requested:
        try:
            server.bind()
            signer = LinkSigner.from_settings(settings, onramp.clock)
            async with onramp.db.transaction() as session:
                manager = await _manager(session, wanted)
                token, _ = await signer.new_link(session, manager.id or 0, onramp.clock())
            await day_sets.fill(onramp.db, onramp.clock(), onramp.content.community.onboarding_flow)
            await server.start()
            base = f"http://{HOST}:{server.port}"
            minutes = settings.dashboard.link_minutes
            typer.echo(f"Dashboard: {base}/dashboard (Ctrl-C stops it)")
            typer.echo(
                f"Sign in as {manager.display_name or 'member ' + str(manager.id)} with this link,"
                f" once, within {minutes} minutes:"
            )
            typer.echo(sign_in_url(base, token))
            await stop_requested.wait()
        except NoManager as exc:
            typer.secho(str(exc), fg="red", err=True)
            raise typer.Exit(1) from None
        except WebServerError as exc:
            typer.secho(str(exc), fg="red", err=True)
            raise typer.Exit(1) from None
        finally:
            await server.stop()
            await onramp.db.dispose()


async def _manager(session: Session, wanted: str | None) -> Member:
    managers = await members.with_role(session, access.MANAGER)
    if wanted is None:
        if len(managers) == 1:
            return managers[0]
        if not managers:
            raise NoManager(
                "No member is a manager yet: make one with `onramp role MEMBER manager`"
                " (e.g. `onramp role console:NAME manager`), then try again."
            )
        names = ", ".join(f"{m.id} ({m.display_name or '?'})" for m in managers[:10])
        raise NoManager(f"Several managers: choose one with --as ID or NAME: {names}.")
    found = await members.find_member(session, wanted)
    if found is None:
        named = await session.execute(
            select(Member).where(func.lower(Member.display_name) == wanted.casefold())
        )
        candidates = list(named.scalars())
        if len(candidates) > 1:
            raise NoManager(f"Several members are named {wanted!r}: use --as with a member id.")
        found = candidates[0] if candidates else None
    if found is None:
        raise NoManager(f"No member {wanted!r} (a member id, console:NAME, or a name).")
    if not access.is_manager(found):
        raise NoManager(
            f"{wanted!r} is not a manager: `onramp role {found.id} manager` makes them one."
        )
    return found


@contextlib.contextmanager
def _stop_signals() -> Iterator[asyncio.Event]:
    """SIGINT (Ctrl-C) and SIGTERM ask for a stop; set up before the link is printed, so a
    stop asked as soon as it is read is a clean one."""
    loop = asyncio.get_running_loop()
    requested = asyncio.Event()
    for number in STOP_SIGNALS:
        loop.add_signal_handler(number, requested.set)
    try:
        yield requested
    finally:
        for number in STOP_SIGNALS:
            loop.remove_signal_handler(number)
