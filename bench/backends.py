"""Running one benchmark on SQLite, PostgreSQL or both: a fresh database each time."""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.postgres import create_postgres_database, drop_postgres_database


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--postgres-url", default=os.environ.get("ONRAMP_TEST_POSTGRES_URL"))


async def on_each(args: argparse.Namespace, run: Callable[[str], Awaitable[Any]]) -> dict[str, Any]:
    """`run(url)` on a new SQLite file and/or a new PostgreSQL database, as `--backend` says."""
    results: dict[str, Any] = {}
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            results["sqlite"] = await run(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
    if args.backend in ("postgresql", "both"):
        if not args.postgres_url:
            results["postgresql"] = "skipped: set ONRAMP_TEST_POSTGRES_URL or --postgres-url"
        else:
            url = await create_postgres_database(args.postgres_url)
            try:
                results["postgresql"] = await run(url)
            finally:
                await drop_postgres_database(args.postgres_url, url)
    return results
