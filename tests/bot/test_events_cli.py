"""`onramp events failed` and `onramp events retry KEY`, as an operator runs them beside a
running bot: a table goes missing (a botched manual change), a member's answer fails and is
recorded; the operator lists it, tries it too early, puts the table back, runs it again, and
the running bot sends the reply.

`retry` runs the event on the command line's clock, the real one; here it is the tests' fixed
clock, as the running bot's is (else the member's flow would have expired in between).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from adapters.memory import Chat, MemoryAdapter
from bot.cli import events
from bot.cli.app import app
from bot.runtime import Onramp
from bot.settings import Settings
from tests.bot.test_cli import onramp as cli
from tests.conftest import FakeClock
from tests.support.waiting import until

ANSWER = "Yes, that's fine"  # the consent option's label: member text


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "onramp.db"


@pytest.fixture
async def running(
    settings: Settings, database: Path, memory: MemoryAdapter, clock: FakeClock
) -> AsyncIterator[Onramp]:
    settings.database.url = f"sqlite+aiosqlite:///{database}"
    app = await Onramp.create(settings, {"memory": memory}, clock=clock)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


async def _retry(key: str, env: dict[str, str]) -> Result:
    """`onramp events retry KEY`, in a thread of its own (it runs its own event loop)."""
    command = ["events", "retry", key]
    return await asyncio.to_thread(lambda: CliRunner().invoke(app, command, env=env))


def _rename(database: Path, table: str, to: str) -> None:
    with sqlite3.connect(database) as connection:
        connection.execute(f"ALTER TABLE {table} RENAME TO {to}")


async def test_an_operator_lists_a_failed_event_and_runs_it_again_once_fixed(
    running: Onramp,
    memory: MemoryAdapter,
    database: Path,
    tmp_path: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events, "_now", clock)
    env = {
        "ONRAMP_DATABASE__URL": f"sqlite+aiosqlite:///{database}",
        "ONRAMP_LOGGING__FILE": str(tmp_path / "onramp.log"),
    }
    # Her platform says her language (as Slack's and Telegram's do): consent comes first.
    ada = Chat(memory, user="ada", display_name="Ada", locale_hint="en")
    await ada.join()
    ada.skip(2)  # the welcome, and the consent question
    _rename(database, "audit_log", "audit_log_gone")  # saying yes records consent in it
    await ada.say(ANSWER)
    ada.expect("Sorry, something went wrong on my side")

    listed = cli("events", "failed", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "ada:1" in listed.stdout and "MessageReceived" in listed.stdout
    assert "OperationalError" in listed.stdout
    assert ANSWER not in listed.stdout
    [row] = json.loads(cli("events", "failed", "--format", "json", env=env).stdout)
    assert (row["key"], row["platform"], row["event"], row["attempts"], row["status"]) == (
        "ada:1",
        "memory",
        "MessageReceived",
        3,
        "failed",
    )
    assert ANSWER not in json.dumps(row)

    too_early = await _retry("ada:1", env)
    assert too_early.exit_code == 1
    assert "Event ada:1 failed again: sqlalchemy.exc.OperationalError" in too_early.stderr
    assert "Traceback" not in too_early.stderr

    _rename(database, "audit_log_gone", "audit_log")  # the fix
    retried = await _retry("ada:1", env)
    assert retried.exit_code == 0, retried.stderr
    assert "Event ada:1 ran again: 1 reply queued" in retried.stdout

    await running.sender.sweep()  # what the running bot does every few seconds
    await until(lambda: bool(ada.unread()), "the replayed answer's reply")
    ada.expect("Which time zone")
    assert cli("events", "failed", env=env).stdout.strip() == "No failed events."
    [row] = json.loads(cli("events", "failed", "--all", "-f", "json", env=env).stdout)
    assert (row["status"], row["attempts"]) == ("retried", 5)

    again = await _retry("ada:1", env)
    assert again.exit_code == 1
    assert "No failed event 'ada:1' to run again" in again.stderr
