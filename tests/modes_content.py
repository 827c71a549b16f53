"""The shipped content in all six locales with a small onboarding of its own
(tests/modes_onboarding.yaml: links, the member's name, `short:` variants, three options), for
the tests of /mode and of right-to-left text."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ONBOARDING = Path(__file__).with_name("modes_onboarding.yaml")
GUIDE = "https://example.org/community/contributing"
CODE_OF_CONDUCT = "https://example.org/community/code-of-conduct"
FIRST_TASKS = "https://example.org/community/good-first-issues"


def content_with(
    tmp_path: Path,
    *,
    default_mode: dict[str, str] | None = None,
    onboarding: str = "",
) -> Path:
    """A copy of content/ under `tmp_path`, every locale declared, with our onboarding (or
    `onboarding`), and community.yaml's `default_mode` when given."""
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    community = content / "community.yaml"
    text = community.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^locales: .*$", "locales: [en, fr, es, pt, ar, sw]", text)
    if default_mode is not None:
        modes = ", ".join(f"{platform}: {mode}" for platform, mode in default_mode.items())
        text = text.replace("default_mode: {}", f"default_mode: {{{modes}}}")
    community.write_text(text, encoding="utf-8")
    flow = onboarding or ONBOARDING.read_text(encoding="utf-8")
    (content / "flows" / "onboarding.yaml").write_text(flow, encoding="utf-8")
    return content
