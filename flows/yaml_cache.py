"""A cache of parsed content files, keyed by their bytes.

Reading YAML with the line of every key (ruamel's round-trip parser, in pure Python) is most
of what `onramp check`, `onramp campaign …` and the bot's start spend on content. A file whose
bytes were parsed before is read back from the cache instead: the same data and lines, since
the key is the SHA-256 of the bytes and of this loader's version. Any failure to read or write
the cache (no home directory, a read-only disk, a damaged entry) only means the file is parsed
again: the cache can be deleted at any time.

Where: `ONRAMP_CACHE_DIR` if set (empty turns the cache off), else the user's cache folder
(`~/.cache/onramp` on Linux). The folder is created readable by its owner only, and an entry
is loaded only from a folder this user owns that nobody else may write.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import __version__ as RUAMEL_VERSION

from flows import cache_folder

# Bump when what load_yaml returns for the same bytes changes.
LOADER_VERSION = "1"
KEEP = 2000  # entries; the oldest are removed past this many
ENV = cache_folder.ENV


def cache_dir() -> Path | None:
    """The folder entries live in, or None when the cache is turned off."""
    root = cache_folder.root()
    return root / "yaml" if root is not None else None


def key(raw: bytes) -> str:
    digest = hashlib.sha256(f"{LOADER_VERSION}:{RUAMEL_VERSION}:".encode())
    digest.update(raw)
    return digest.hexdigest()


_trusted = cache_folder.trusted


def get(raw: bytes) -> tuple[Any, dict[Any, int]] | None:
    """The data and lines parsed earlier from these bytes, if the cache has them."""
    folder = cache_dir()
    if folder is None or not _trusted(folder):
        return None
    try:
        with open(folder / key(raw), "rb") as entry:
            data, lines = pickle.load(entry)  # our own folder, checked above
    except Exception:  # missing, damaged or from another version: parse again
        return None
    return data, lines


def put(raw: bytes, data: Any, lines: dict[Any, int]) -> None:
    """Remember what these bytes parse to; silently does nothing where it cannot."""
    folder = cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _trusted(folder):
            return
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(handle, "wb") as entry:
            pickle.dump((data, lines), entry, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, folder / key(raw))
        _prune(folder)
    except Exception:  # a cache that cannot be written is only a slower start
        return


def _prune(folder: Path) -> None:
    entries = [path for path in folder.iterdir() if not path.name.startswith(".")]
    if len(entries) <= KEEP:
        return
    entries.sort(key=lambda path: path.stat().st_mtime)
    for path in entries[: len(entries) - KEEP // 2]:
        path.unlink(missing_ok=True)
