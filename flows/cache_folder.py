"""Where Onramp keeps what it can always work out again: `ONRAMP_CACHE_DIR` if set (empty turns
caching off), else the user's cache folder (`~/.cache/onramp` on Linux). Each cache has a
folder of its own in it, created readable by its owner only; one is used only if this user
owns it and nobody else may write into it (its files are trusted as our own)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import platformdirs

ENV = "ONRAMP_CACHE_DIR"


def root() -> Path | None:
    """The caches' folder, or None when caching is turned off."""
    configured = os.environ.get(ENV)
    if configured is not None:
        return Path(configured) if configured else None
    return Path(platformdirs.user_cache_dir("onramp"))


def trusted(folder: Path) -> bool:
    """Only a folder of our own that no one else can write into may hand us its files."""
    try:
        info = folder.stat()
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return False
    return not hasattr(os, "getuid") or info.st_uid == os.getuid()


def folder(name: str) -> Path | None:
    """The folder of the cache `name`, created if need be; None when caching is off or the
    folder cannot be made or trusted."""
    base = root()
    if base is None:
        return None
    path = base / name
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    return path if trusted(path) else None
