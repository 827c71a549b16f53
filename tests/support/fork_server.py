"""A process that has imported Onramp once and forks a fresh child for every `python -m …`
the tests run: each child is a real process (its own pid, memory, exit code, stdin, stdout and
stderr), started without paying again for importing the command line, SQLAlchemy, Alembic,
pydantic and the content language (about a second of CPU each, hundreds of times a run).

    python -m tests.support.fork_server SOCKET

Each request on the Unix socket is one JSON line {module, argv, cwd, env} with three file
descriptors (stdin, stdout, stderr) passed alongside (SCM_RIGHTS). The server forks a handler,
which forks the child, sends back the child's pid, waits for it and sends its exit status.
Nothing here runs in production: it is the tests' launcher (tests/support/launcher.py).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import runpy
import signal
import socket
import sys
from typing import Any

# What the `onramp` commands import, loaded before the first fork.
PRELOAD = ("bot.cli.app", "tests.bot.onramp_at", "storage.migrate", "flows.validate")


def _preload() -> None:
    for module in PRELOAD:
        importlib.import_module(module)
    from bot.cli.app import COMMANDS

    for where, _ in COMMANDS.values():
        with contextlib.suppress(Exception):  # a command that cannot import fails in its child
            importlib.import_module(where.split(":")[0])


def _fresh_consoles() -> None:
    """Rich consoles made when a module was imported read COLUMNS and LINES then, in this
    server's environment: they read the command's, as they would in a process of its own."""
    from rich.console import Console

    columns, lines = os.environ.get("COLUMNS", ""), os.environ.get("LINES", "")
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] not in ("bot", "flows", "storage", "adapters"):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Console):
                value._width = int(columns) if columns.isdigit() else None
                value._height = int(lines) if lines.isdigit() else None


def _child(request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: become `python -m module argv…` and never return."""
    code = 1
    try:
        os.setsid()  # a group of its own, as a subprocess would be killed alone
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        _fresh_consoles()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.argv = [request["module"], *request["argv"]]
        # Preloaded as a module; run again as __main__ without runpy's warning about it.
        sys.modules.pop(request["module"], None)
        try:
            runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
            if exit.code is not None and not isinstance(exit.code, int):
                print(exit.code, file=sys.stderr)
        except KeyboardInterrupt:
            code = 130
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _handle(connection: socket.socket) -> None:
    """In a handler process: read one request, fork its child, report pid then status."""
    message, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
    buffer = message
    while not buffer.endswith(b"\n"):
        more = connection.recv(1 << 20)
        if not more:
            break
        buffer += more
    request = json.loads(buffer)
    pid = os.fork()
    if pid == 0:
        connection.close()
        _child(request, fds)
    for fd in fds:
        os.close(fd)
    connection.sendall(f"{pid}\n".encode())
    _, status = os.waitpid(pid, 0)
    connection.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())


def serve(path: str) -> None:
    _preload()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(64)
    print("ready", flush=True)
    while True:
        connection, _ = server.accept()
        handler = os.fork()
        if handler == 0:
            server.close()
            try:
                _handle(connection)
            finally:
                os._exit(0)
        connection.close()
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass


if __name__ == "__main__":
    serve(sys.argv[1])
