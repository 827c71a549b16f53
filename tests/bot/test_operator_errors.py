"""An operator's mistake is one line and an exit code, for every command: 2 for settings, 1 for
a database that cannot be reached or opened. Run as an operator would run them."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from storage.migrate import head_revision
from tests.postgres import create_postgres_database, drop_postgres_database
from tests.support.launcher import run_module

ROOT = Path(__file__).resolve().parents[2]
POSTGRES = os.environ.get("ONRAMP_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(POSTGRES is None, reason="ONRAMP_TEST_POSTGRES_URL not set")


def onramp(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ONRAMP_")}
    return run_module(
        "bot.cli",
        args,
        input="",  # the console chat, if one starts, ends at once
        cwd=cwd,
        env={**environment, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """What the command said on standard error: exactly one line, no traceback."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends: refused


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return {
        "ONRAMP_DATABASE__URL": f"sqlite:///{tmp_path / 'onramp.db'}",
        "ONRAMP_LOGGING__FILE": str(tmp_path / "onramp.log"),
    }


# The database


@pytest.mark.parametrize(
    "command",
    [
        ["run", "--adapter", "memory"],
        ["db", "upgrade"],
        ["db", "current"],
        ["export", "console:Kim"],
        ["forget", "console:Kim", "--yes"],
        ["mentors"],
        ["match"],
        ["role", "console:Kim", "manager"],
        ["recognition", "export", "--format", "csv"],
        ["campaign", "preview", "community_call"],
        ["campaign", "status", "community_call"],
    ],
)
def test_an_unreachable_database_is_one_line_for_every_command(
    command: list[str], tmp_path: Path
) -> None:
    port = closed_port()
    env = {
        "ONRAMP_DATABASE__URL": f"postgres://onramp:secret@127.0.0.1:{port}/onramp",
        "ONRAMP_LOGGING__FILE": str(tmp_path / "onramp.log"),
    }
    result = onramp(*command, env=env)
    assert result.returncode == 1
    assert one_line(result) == (
        f"cannot connect to the database at 127.0.0.1:{port} (connection refused); "
        "check [database] url"
    )
    assert "secret" not in result.stderr + result.stdout


def test_an_unknown_database_host_is_one_line(tmp_path: Path) -> None:
    env = {"ONRAMP_DATABASE__URL": "postgresql://onramp@db.invalid:5432/onramp"}
    result = onramp("db", "current", env=env)
    assert result.returncode == 1
    assert one_line(result) == (
        "cannot connect to the database at db.invalid:5432 (unknown host); check [database] url"
    )


def test_a_sqlite_file_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    in_the_way = tmp_path / "data"
    in_the_way.write_text("a file where the database's folder should be")
    for path, reason in (
        (in_the_way / "onramp.db", "a file is in the way of its folder"),
        (tmp_path, "a folder, not a database file"),
    ):
        result = onramp("db", "upgrade", env={"ONRAMP_DATABASE__URL": f"sqlite:///{path}"})
        assert result.returncode == 1
        assert one_line(result) == (
            f"cannot open the database at {path} ({reason}); check [database] url"
        )


def test_an_unsupported_database_url_is_a_settings_problem() -> None:
    result = onramp("db", "current", env={"ONRAMP_DATABASE__URL": "mysql://u:secret@h/onramp"})
    assert result.returncode == 2
    assert one_line(result) == (
        "Settings problem: ONRAMP_DATABASE__URL: unsupported database 'mysql'; use "
        "postgresql://USER:PASSWORD@HOST:5432/NAME or sqlite:///data/onramp.db"
    )


def test_a_sqlite_url_without_the_async_driver_works(home: dict[str, str]) -> None:
    assert home["ONRAMP_DATABASE__URL"].startswith("sqlite:///")
    upgraded = onramp("db", "upgrade", env=home)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"database at revision {head_revision()}" in upgraded.stdout


@needs_postgres
@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_the_url_a_hosting_provider_gives_works(scheme: str) -> None:
    assert POSTGRES is not None
    url = asyncio.run(create_postgres_database(POSTGRES))
    try:
        given = make_url(url).set(drivername=scheme).render_as_string(hide_password=False)
        given += "?sslmode=disable"  # libpq's spelling, as providers write it
        upgraded = onramp("db", "upgrade", env={"ONRAMP_DATABASE__URL": given})
        assert upgraded.returncode == 0, upgraded.stderr
        assert f"database at revision {head_revision()}" in upgraded.stdout
    finally:
        asyncio.run(drop_postgres_database(POSTGRES, url))


@needs_postgres
def test_a_missing_database_or_role_is_one_line() -> None:
    assert POSTGRES is not None
    server = make_url(POSTGRES)
    where = f"{server.host}:{server.port or 5432}"
    missing = server.set(drivername="postgres", database="onramp_no_such_database")
    result = onramp("db", "current", env={"ONRAMP_DATABASE__URL": missing.render_as_string()})
    assert result.returncode == 1
    assert one_line(result) == (
        f'cannot connect to the database at {where} (database "onramp_no_such_database" '
        "does not exist); check [database] url"
    )
    stranger = server.set(drivername="postgres", username="onramp_nobody", password="secret")
    result = onramp("db", "current", env={"ONRAMP_DATABASE__URL": stranger.render_as_string(False)})
    assert result.returncode == 1
    assert one_line(result) == (
        f'cannot connect to the database at {where} (role "onramp_nobody" does not exist); '
        "check [database] url"
    )
    assert "secret" not in result.stderr


# Settings


def write_settings(tmp_path: Path, text: str) -> Path:
    settings = tmp_path / "bot.toml"
    settings.write_text(text)
    return settings


@pytest.mark.parametrize("command", [["run"], ["check"], ["db", "current"], ["mentors"]])
def test_a_toml_syntax_error_names_the_file_line_and_column(
    command: list[str], tmp_path: Path
) -> None:
    settings = write_settings(tmp_path, '[database]\nurl = "sqlite:///x.db"\n[web\nport = 1\n')
    result = onramp("--config", str(settings), *command)
    assert result.returncode == 2
    assert one_line(result) == (
        f"Settings problem: {settings}:3:5: Expected ']' at the end of a table declaration "
        "(not valid TOML)"
    )


def test_the_default_bot_toml_is_read_from_the_working_folder(tmp_path: Path) -> None:
    (tmp_path / "bot.toml").write_text("[logging]\nlevel = INFO\n")
    result = onramp("check", str(ROOT / "content"), cwd=tmp_path)
    assert result.returncode == 0  # check with a folder reads no settings
    result = onramp("db", "current", cwd=tmp_path)
    assert result.returncode == 2
    assert one_line(result) == ("Settings problem: bot.toml:2:9: Invalid value (not valid TOML)")


def test_unknown_keys_get_a_did_you_mean_in_toml_terms(tmp_path: Path) -> None:
    settings = write_settings(
        tmp_path, '[logging]\nlevle = "DEBUG"\n\n[databse]\nurl = "sqlite:///x.db"\n'
    )
    result = onramp("--config", str(settings), "run")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"Settings problem: {settings}: [logging] levle: unknown setting; did you mean level?",
        f"Settings problem: {settings}: [databse]: unknown section; did you mean database?",
    ]
    assert "pydantic" not in result.stderr


def test_wrong_value_types_are_said_in_toml_terms(tmp_path: Path) -> None:
    settings = write_settings(
        tmp_path,
        '[web]\nport = "abc"\n[sender]\nmax_attempts = 0\n[logging]\nlevel = "LOUD"\n'
        "[slack]\nwelcome_channels = 5\n",
    )
    result = onramp("--config", str(settings), "check")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"Settings problem: {settings}: [sender] max_attempts: must be greater than or equal "
        "to 1, got 0",
        f'Settings problem: {settings}: [web] port: expected an integer, got "abc"',
        f'Settings problem: {settings}: [slack] welcome_channels: expected a list, e.g. ["a", '
        '"b"], got 5',
        f"Settings problem: {settings}: [logging] level: expected one of 'DEBUG', 'INFO', "
        "'WARNING' or 'ERROR', got \"LOUD\"",
    ]


def test_environment_variables_are_named_in_what_is_said(tmp_path: Path) -> None:
    result = onramp(
        "check", env={"ONRAMP_WEB__PROT": "8081", "ONRAMP_RUNTIME__STOP_TIMEOUT_SECONDS": "soon"}
    )
    assert result.returncode == 2
    assert sorted(result.stderr.strip().splitlines()) == [
        'Settings problem: ONRAMP_RUNTIME__STOP_TIMEOUT_SECONDS: expected a number, got "soon"',
        "Settings problem: ONRAMP_WEB__PROT: unknown setting; did you mean ONRAMP_WEB__PORT?",
    ]


def test_a_missing_settings_file_is_one_line(tmp_path: Path) -> None:
    result = onramp("--config", str(tmp_path / "nope.toml"), "check")
    assert result.returncode == 2
    assert one_line(result) == f"Settings problem: settings file {tmp_path / 'nope.toml'} not found"


@pytest.mark.parametrize(
    "written", ["slack,telegram", " slack , telegram ", '["slack", "telegram"]']
)
def test_adapter_lists_from_the_environment(written: str) -> None:
    from bot.settings import load_settings

    os.environ["ONRAMP_ADAPTERS__ENABLED"] = written
    try:
        settings = load_settings(ROOT / "bot.toml")
    finally:
        del os.environ["ONRAMP_ADAPTERS__ENABLED"]
    assert settings.adapters.enabled == ["slack", "telegram"]


def test_a_single_adapter_from_the_environment_starts_it(home: dict[str, str]) -> None:
    result = onramp("run", "--as", "Kim", env={**home, "ONRAMP_ADAPTERS__ENABLED": "console"})
    assert result.returncode == 0, result.stderr
    assert "Which language would you like me to use?" in result.stdout  # the console's first


# The command line itself


def test_version_and_short_help() -> None:
    from bot.version import VERSION

    assert VERSION != "unknown"
    for flag in ("--version", "-V"):
        result = onramp(flag)
        assert result.returncode == 0 and result.stdout == f"onramp {VERSION}\n"
    short = onramp("-h")
    assert short.returncode == 0 and "│ run " in short.stdout
    assert onramp("db", "-h").returncode == 0
