"""The image and the compose file: the health check they declare, run as Docker runs it,
against a real `onramp run`; the stop signal; the restart policy. (Docker itself cannot run
here: the files are read, and their commands run.)"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from bot import healthcheck

ROOT = Path(__file__).resolve().parents[2]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the runtime stage, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n\s*", " ", text)
    lines = [line.strip() for line in joined.splitlines()]
    instructions = [tuple(line.split(None, 1)) for line in lines if line and line[0] != "#"]
    stages = [i for i, (name, _) in enumerate(instructions) if name == "FROM"]
    return [(name.upper(), rest) for name, rest in instructions[stages[-1] :]]


def compose_service() -> dict[str, Any]:
    document = YAML(typ="safe", pure=True).load((ROOT / "docker-compose.yml").read_text())
    service: dict[str, Any] = document["services"]["onramp"]
    return service


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_check(command: list[str], port: int) -> int:
    """The health check's command, as Docker runs it in the container (its `python` is the
    image's; here this test's)."""
    assert command[0] == "python"
    environment = {**os.environ, "ONRAMP_WEB__PORT": str(port)}
    return subprocess.run(
        [sys.executable, *command[1:]], cwd=ROOT, env=environment, timeout=30, check=False
    ).returncode


def test_the_image_stops_with_sigterm_and_checks_its_health() -> None:
    instructions = dict(dockerfile_instructions())
    assert instructions["STOPSIGNAL"] == "SIGTERM"
    options, command = instructions["HEALTHCHECK"].split(" CMD ", 1)
    assert re.findall(r"--([a-z-]+)=", options) == [
        "interval",
        "timeout",
        "start-period",
        "retries",
    ]
    assert json.loads(command) == ["python", "-m", "bot.healthcheck"]
    assert "ONRAMP_WEB__ENABLED=always" in instructions["ENV"]  # served even for the console


def test_compose_checks_health_and_restarts_unless_stopped() -> None:
    service = compose_service()
    assert service["restart"] == "unless-stopped"
    check = service["healthcheck"]
    assert check["test"] == ["CMD", "python", "-m", "bot.healthcheck"]
    assert {"interval", "timeout", "retries", "start_period"} <= set(check)
    # Docker kills after stop_grace_period: the bot's own stop timeout (8 s) fits inside it.
    assert int(service["stop_grace_period"].rstrip("s")) > 8


def test_the_health_check_passes_against_a_running_bot_and_fails_without_one(
    tmp_path: Path,
) -> None:
    command = json.loads(dict(dockerfile_instructions())["HEALTHCHECK"].split(" CMD ", 1)[1])
    port = free_port()
    assert run_check(command, port) == 1  # nothing listens yet
    log = tmp_path / "onramp.log"
    environment = {
        **os.environ,
        "ONRAMP_WEB__ENABLED": "always",
        "ONRAMP_WEB__HOST": "127.0.0.1",
        "ONRAMP_WEB__PORT": str(port),
        "ONRAMP_DATABASE__URL": f"sqlite:///{tmp_path / 'onramp.db'}",
        "ONRAMP_LOGGING__FILE": str(log),
    }
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--adapter", "memory"],
        cwd=ROOT,
        env=environment,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while "web server listening" not in (log.read_text() if log.exists() else ""):
            assert bot.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        assert run_check(command, port) == 0
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(timeout=30) == 0
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()
    assert run_check(command, port) == 1  # stopped: unhealthy
    assert "onramp stopped" in log.read_text()


def test_the_health_check_finds_the_port_in_the_settings(tmp_path: Path) -> None:
    settings = tmp_path / "bot.toml"
    settings.write_text("[web]\nport = 9123\n")
    assert healthcheck.port({"ONRAMP_CONFIG": str(settings)}) == 9123
    assert healthcheck.port({"ONRAMP_CONFIG": str(settings), "ONRAMP_WEB__PORT": "9200"}) == 9200
    assert healthcheck.port({"ONRAMP_CONFIG": str(tmp_path / "none.toml")}) == 8080
