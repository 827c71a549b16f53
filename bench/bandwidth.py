"""The bytes a whole onboarding puts on the wire on each platform, in each mode (/mode).

    python bench/bandwidth.py [--language en|fr|es|pt|ar|sw] [--content content]

One newcomer goes through the onboarding (the shipped one, or that of --content) through the
memory adapter, once per mode (community.yaml's `default_mode`, in a copy of the content),
answering every question the same way. Each message the bot sent is then built as each
adapter builds it: the JSON body of Slack's chat.postMessage, Telegram's sendMessage,
WhatsApp's /messages and Zulip's POST /messages (compact JSON, UTF-8: the bytes of the request
body, without HTTP headers; Zulip's is form-encoded on the wire, about the same size). Prints
JSON {platform: {mode: bytes}}, and the number of messages per mode.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from telegram import InlineKeyboardMarkup  # noqa: E402

from adapters.markdown import TELEGRAM_HTML, render  # noqa: E402
from adapters.memory import MemoryAdapter  # noqa: E402
from adapters.slack import blocks as slack_blocks  # noqa: E402
from adapters.telegram.outgoing import sending  # noqa: E402
from adapters.whatsapp import messages as whatsapp_messages  # noqa: E402
from adapters.zulip.adapter import _content as zulip_content  # noqa: E402  (the adapter's own)
from bot.events import Event, MemberJoined, MessageReceived  # noqa: E402
from bot.messages import OutgoingMessage  # noqa: E402
from bot.runtime import Onramp  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from flows.schema import MODES  # noqa: E402

JSON = dict[str, Any]
# The answer to each question of the shipped onboarding, by step id; any other: the first option.
ANSWERS = {"timezone": "Nairobi", "interests": "1, 4", "experience": "2", "start_here": "5"}
MAX_EVENTS = 30


def slack(message: OutgoingMessage) -> JSON:
    rendered = slack_blocks.render_message(message)
    body: JSON = {"channel": "D0ADA", "text": rendered.text, "unfurl_links": False}
    if rendered.blocks:
        body["blocks"] = rendered.blocks
    if (media := slack_blocks.unfurl_media(message)) is not None:
        body["unfurl_media"] = media
    return body


def telegram(message: OutgoingMessage) -> JSON:
    text, rows, previews = sending(message)
    body: JSON = {"chat_id": 7001, "text": render(text, TELEGRAM_HTML), "parse_mode": "HTML"}
    if rows:
        body["reply_markup"] = InlineKeyboardMarkup(rows).to_dict()
    if previews is not None:
        body["link_preview_options"] = previews.to_dict()
    return body


def whatsapp(message: OutgoingMessage) -> JSON:
    to_ada = replace(message, recipient="16505551234")
    return whatsapp_messages.free_form(to_ada, {"en": "Choose"})


def zulip(message: OutgoingMessage) -> JSON:
    return {"type": "direct", "to": [42], "content": zulip_content(message)}


PLATFORMS: dict[str, Callable[[OutgoingMessage], JSON]] = {
    "slack": slack,
    "telegram": telegram,
    "whatsapp": whatsapp,
    "zulip": zulip,
}


def size(body: JSON) -> int:
    return len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())


def content_in(folder: Path, source: Path, mode: str) -> Path:
    content = folder / "content"
    shutil.copytree(source, content)
    community = content / "community.yaml"
    text = re.sub(
        r"(?m)^default_mode:.*$", f"default_mode: {{memory: {mode}}}", community.read_text()
    )
    community.write_text(text)
    return content


async def onboarding(mode: str, language: str | None, source: Path) -> list[OutgoingMessage]:
    """What the bot sends a newcomer who goes through the whole onboarding in `mode`."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        settings = load_settings(
            ROOT / "bot.toml",
            database={"url": f"sqlite+aiosqlite:///{folder / 'bench.db'}"},
            content={"path": content_in(folder, source, mode)},
        )
        memory = MemoryAdapter()
        app = await Onramp.create(settings, {"memory": memory})
        await app.start()
        try:
            await _converse(memory, language)
        finally:
            await app.stop()
        return list(memory.sent)


async def _converse(memory: MemoryAdapter, language: str | None) -> None:
    common: JSON = {
        "platform": "memory",
        "actor": "ada",
        "conversation": "ada",
        "display_name": "Ada",
        "locale_hint": language,
    }
    event: Event = MemberJoined(dedupe_key="ada:0", **common)
    for number in range(1, MAX_EVENTS):
        seen = len(memory.sent)
        assert memory.inbox is not None
        receipt = await memory.inbox(event)
        if receipt.settled is not None:
            await receipt.settled
        asked = [m.step_id for m in memory.sent[seen:] if m.step_id is not None]
        if not asked:
            return  # nothing more is asked: the onboarding is over
        answer = ANSWERS.get(asked[-1], "1")
        event = MessageReceived(dedupe_key=f"ada:{number}", text=answer, **common)
    raise RuntimeError(f"the onboarding asked more than {MAX_EVENTS} questions")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--language", default=None, help="the member's (else it is asked)")
    parser.add_argument("--content", type=Path, default=ROOT / "content")
    args = parser.parse_args()
    sent = {mode: await onboarding(mode, args.language, args.content) for mode in MODES}
    results: JSON = {
        platform: {mode: sum(size(build(m)) for m in sent[mode]) for mode in MODES}
        for platform, build in PLATFORMS.items()
    }
    results["messages"] = {mode: len(sent[mode]) for mode in MODES}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
