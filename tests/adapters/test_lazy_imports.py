"""Reading what an adapter can do loads no platform SDK, and loading the features loads no
solver: every `onramp` process that checks content reads each installed adapter's class (its
name, capabilities, `configured` and `render_preview`) and registers the features, and most of
them serve one platform or none. Each check runs in a fresh interpreter, since this one has
imported everything already.

That the SDKs still come when an adapter is built, started and sends is what the adapters'
own tests show, against the platforms' emulators: tests/adapters/test_slack.py,
test_telegram.py, test_whatsapp.py and test_zulip.py (and the matcher's,
tests/bot/test_matching.py, for numpy and OR-Tools)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = (
    "slack_bolt",
    "slack_sdk",
    "aiohttp",
    "telegram",
    "httpx",
    "zulip",
    "requests",
    "numpy",
    "ortools",
)
PLATFORMS = ("slack", "telegram", "whatsapp", "zulip")

# What `onramp check` and the campaign commands do with the adapters, then which of HEAVY
# came with it.
READ_EVERY_ADAPTER = """
import json, sys
from bot.adapter import available_adapters
from bot.messages import Choice, OutgoingMessage
from bot.settings import Secrets, Settings

question = OutgoingMessage(
    platform="any", recipient="preview", text="Which **one**?", step_id="fruit",
    choices=(Choice("a", "Apples"), Choice("b", "Pears")),
)
factories = available_adapters()
for name in %(platforms)r:
    factory = factories[name]
    assert factory.name == name and factory.capabilities.max_text_length > 0
    factory.configured(Settings(), Secrets())
    assert factory.render_preview(question)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(%(heavy)r))))
"""


def loaded_by(code: str) -> list[str]:
    """The HEAVY modules a fresh interpreter has imported after running `code`."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def importing(*modules: str) -> str:
    imports = "".join(f"import {module}\n" for module in modules)
    return (
        f"import json, sys\n{imports}"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )


def test_each_adapter_module_imports_no_sdk() -> None:
    for platform in PLATFORMS:
        assert loaded_by(importing(f"adapters.{platform}.adapter")) == [], platform


def test_features_import_no_solver() -> None:
    assert loaded_by(importing("bot.features")) == []


def test_reading_every_adapter_and_previewing_imports_no_sdk() -> None:
    code = READ_EVERY_ADAPTER % {"platforms": PLATFORMS, "heavy": HEAVY}
    assert loaded_by(code) == []


def test_the_console_adapter_module_imports_no_rich() -> None:
    """Every process reads the console adapter's class among the installed ones; rich (and
    the Pygments lexers its Markdown brings, 2.8 MB) comes only when a console is built."""
    code = (
        "import json, sys\nimport adapters.console\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'rich', 'pygments'})))"
    )
    assert loaded_by(code) == []
    built = (
        "import io, json, sys\nfrom adapters.console import ConsoleAdapter\n"
        "from bot.settings import Settings\n"
        "ConsoleAdapter(Settings(), stdin=io.StringIO(), stdout=io.StringIO())\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'rich'})))"
    )
    assert loaded_by(built) == ["rich"]


def test_matching_without_mentors_loads_no_solver() -> None:
    """A community with no mentor yet (most, on their first day) never loads numpy or
    OR-Tools: an instant offer and the batch both stop before scoring."""
    code = (
        "import json, sys\n"
        "from bot.mentorship.matching import Person, Rules, best, optimize\n"
        "newcomer = Person(id=1, languages=frozenset({'en'}), topics=frozenset())\n"
        "assert best(newcomer, [], Rules()) is None\n"
        "assert optimize([newcomer], [], Rules()) == []\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    assert loaded_by(code) == []


def test_the_dashboard_loads_pygal_on_its_first_chart() -> None:
    """Every process that serves the web app mounts the dashboard; pygal (2.7 MB with the XML
    modules) comes when a manager first opens a page with a chart."""
    code = (
        "import json, sys\nimport bot.health.access, bot.health.dashboard\n"
        "loaded = 'pygal' in sys.modules\n"
        "from bot.health.dashboard import charts\n"
        "svg = charts.bars('Joined', ['May'], [('members', [3])], str, 'no data')\n"
        "print(json.dumps([loaded, 'pygal' in sys.modules, '<svg' in svg]))"
    )
    assert loaded_by(code) == [False, True, True]
