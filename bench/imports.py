"""What a one-platform bot process pays for its imports: memory and time, library by library.

    python bench/imports.py [--adapter slack] [--repeat 5]

In a fresh interpreter each time, imports what `onramp run --adapter NAME` imports, one
library after another in the order the bot first needs them, and reads the process's resident
memory (VmRSS) and the clock after each: what a library adds is what it brought that the
ones before it had not (sqlmodel after SQLAlchemy and pydantic is sqlmodel's own part). The
last rows are Onramp's own modules and the adapter. Then it lists which libraries the
process does NOT load, and should not: other platforms' SDKs, the matching solver, the
dashboard's charts, the migrations' Alembic (a database at the newest revision needs none).

Times are medians of `--repeat` fresh interpreters; memory is from the first (it does not
move between runs). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# Libraries in the order a bot process first imports them, then ours.
LIBRARIES = [
    "pydantic",
    "pydantic_settings",
    "sqlalchemy",
    "sqlmodel",
    "babel.dates",
    "ruamel.yaml",
    "markdown_it",
    "rapidfuzz",
    "pyroaring",
    "starlette",
    "uvicorn",
    "prometheus_client",
    "apscheduler",
    "jinja2",
    "typer",
    "aiosqlite",
    "aiohttp",
]
ADAPTER_LIBRARIES = {
    "slack": ["slack_sdk.web.async_client", "slack_bolt"],
    "telegram": ["telegram"],
    "whatsapp": ["httpx"],
    "zulip": ["zulip"],
    "console": ["rich.console", "rich.markdown"],
}
OURS = ["storage.models", "flows.content", "bot.runtime", "bot.cli.serve"]
NOT_LOADED = ["numpy", "ortools", "pygal", "alembic", "mako", "telegram", "zulip", "httpx"]

MEASURE = """
import importlib, json, sys, time
def rss():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024
rows, start = [], rss()
for name in %(names)r:
    before, clock = rss(), time.perf_counter()
    importlib.import_module(name)
    rows.append([name, round(rss() - before, 1), round((time.perf_counter() - clock) * 1000, 1)])
print(json.dumps({"start_mb": round(start, 1), "end_mb": round(rss(), 1), "rows": rows}))
"""


def measure(names: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE % {"names": names}],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def loaded_by_a_started_bot(module: str) -> list[str]:
    """Which of NOT_LOADED come with the modules `onramp run` starts with, every installed
    adapter's class read (as the bot does to find the enabled ones)."""
    code = (
        f"import json, sys\nimport bot.runtime, bot.cli.serve, {module}\n"
        "from bot.adapter import available_adapters\navailable_adapters()\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({NOT_LOADED!r}))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    found: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", choices=sorted(ADAPTER_LIBRARIES), default="slack")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    module = "adapters.console" if args.adapter == "console" else f"adapters.{args.adapter}.adapter"
    names = [*LIBRARIES, *ADAPTER_LIBRARIES[args.adapter], *OURS, module]
    runs = [measure(names) for _ in range(args.repeat)]
    first = runs[0]
    rows = [
        {
            "module": name,
            "rss_added_mb": added,
            "import_ms_median": statistics.median(run["rows"][i][2] for run in runs),
        }
        for i, (name, added, _) in enumerate(first["rows"])
    ]
    print(
        json.dumps(
            {
                "adapter": args.adapter,
                "python_alone_mb": first["start_mb"],
                "after_imports_mb": first["end_mb"],
                "import_ms_total_median": round(
                    statistics.median(sum(row[2] for row in run["rows"]) for run in runs), 1
                ),
                "modules": rows,
                "heavy_modules_loaded_at_start": loaded_by_a_started_bot(module),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
