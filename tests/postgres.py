"""Throw-away PostgreSQL databases for tests and benchmarks, on the server the URL names.

Each is named after the pytest-xdist worker that made it and a random part
(`onramp_test_gw1_3f9c2a61b0`): workers, and several people's runs on one server, never
share a database, and one left behind by a killed run says whose it was.
"""

from __future__ import annotations

import os
import uuid

from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.database import create_engine


async def create_postgres_database(
    server_url: str, name: str | None = None, template: str | None = None
) -> str:
    """A new database on the server of `server_url` (named `name`, else after the worker and
    a random part): empty, or a copy of the database named `template`; returns its URL."""
    if name is None:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        name = f"onramp_test_{worker}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url)
    try:
        async with admin.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            copied = f' TEMPLATE "{template}"' if template else ""
            await connection.execute(text(f'CREATE DATABASE "{name}"{copied}'))
    finally:
        await admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(server_url: str, url: str) -> None:
    name = make_url(url).database
    admin = create_engine(server_url)
    try:
        async with admin.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()
