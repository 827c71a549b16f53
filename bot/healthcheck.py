"""`python -m bot.healthcheck`: exit 0 if this machine's bot answers /healthz, else 1.

The container's HEALTHCHECK runs it. Slim images have no curl or wget, so it uses only the
standard library, and it imports nothing else of Onramp's: it runs every few seconds and
must start in milliseconds. The port is the bot's own: ONRAMP_WEB__PORT, else `[web] port`
in the settings file (ONRAMP_CONFIG, else ./bot.toml), else 8080.
"""

from __future__ import annotations

import os
import sys
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

TIMEOUT_SECONDS = 4.0


def port(environ: dict[str, str] | None = None) -> int:
    environ = dict(os.environ) if environ is None else environ
    if environ.get("ONRAMP_WEB__PORT"):
        return int(environ["ONRAMP_WEB__PORT"])
    config = Path(environ.get("ONRAMP_CONFIG") or "bot.toml")
    try:
        settings = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return 8080
    return int(settings.get("web", {}).get("port", 8080))


def main() -> int:
    url = f"http://127.0.0.1:{port()}/healthz"
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    try:
        with direct.open(url, timeout=TIMEOUT_SECONDS) as answer:
            healthy = answer.status == 200
    except (OSError, urllib.error.URLError) as exc:
        print(f"{url}: {exc}", file=sys.stderr)  # shown by `docker inspect`
        return 1
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
