"""`python -m MODULE ARGS…` for tests, as `subprocess.run(..., capture_output=True,
text=True)` would run it, but forked from a process that has imported Onramp already
(tests/support/fork_server.py): the same separate process, exit code and output, for a
fraction of the start-up.

Set ONRAMP_TEST_FORK=0 to start every command as a plain subprocess instead (to rule the
launcher out when a test behaves differently).
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_lock = threading.Lock()
_server: tuple[subprocess.Popen[str], str] | None = None


def _socket() -> str:
    """The fork server of this test process, started on first use."""
    global _server
    with _lock:
        if _server is None or _server[0].poll() is not None:
            folder = tempfile.mkdtemp(prefix="onramp-fork-")
            path = os.path.join(folder, "server")
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.support.fork_server", path],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            assert process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError("the tests' fork server did not start")
            _server = (process, path)
            atexit.register(_stop, process)
        return _server[1]


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(10)


def run_module(
    module: str,
    args: Sequence[str],
    *,
    input: str = "",
    cwd: Path | str = ROOT,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m module args…` to its end; its exit code, stdout and stderr."""
    command = [sys.executable, "-m", module, *args]
    environment = dict(os.environ if env is None else env)
    if os.environ.get("ONRAMP_TEST_FORK") == "0":
        return subprocess.run(
            command,
            input=input,
            capture_output=True,
            text=True,
            cwd=cwd,
            env=environment,
            timeout=timeout,
            check=False,
        )
    with (
        tempfile.TemporaryFile() as stdin,
        tempfile.TemporaryFile() as stdout,
        tempfile.TemporaryFile() as stderr,
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection,
    ):
        stdin.write(input.encode())
        stdin.seek(0)
        connection.connect(_socket())
        request = {"module": module, "argv": list(args), "cwd": str(cwd), "env": environment}
        line = json.dumps(request).encode() + b"\n"
        socket.send_fds(connection, [line], [stdin.fileno(), stdout.fileno(), stderr.fileno()])
        replies = connection.makefile("rb")
        pid = int(replies.readline())
        connection.settimeout(timeout)
        try:
            status = replies.readline()
        except TimeoutError:
            os.killpg(pid, signal.SIGKILL)
            raise subprocess.TimeoutExpired(command, timeout) from None
        if not status:
            raise RuntimeError(f"the fork server lost the command {command}")
        stdout.seek(0)
        stderr.seek(0)
        return subprocess.CompletedProcess(
            command,
            int(status),
            stdout.read().decode("utf-8", "replace"),
            stderr.read().decode("utf-8", "replace"),
        )
