"""Onramp's version, as installed (pyproject.toml's `version`): for --version, the start-up
log line and /metrics' `onramp_build_info`."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def _installed() -> str:
    try:
        return version("onramp")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


VERSION = _installed()
