"""The garbage test's run, in a process of its own (tests/bot/test_garbage.py):

    python -m tests.bot.garbage_driver DATABASE_URL

Newcomers go through the whole sample onboarding and thank each other on the memory adapter,
with the collector saving what it finds instead of freeing it; prints JSON: the events, the
objects found in reference cycles by kind, and whether every kudos was thanked for. In its own
process, nothing another test left behind (an engine it disposed, still referenced somewhere)
can turn into garbage meanwhile and be counted here.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from collections import Counter
from typing import Any

from adapters.memory import Chat, MemoryAdapter
from bot.runtime import Onramp
from bot.settings import load_settings
from tests.clock import FakeClock
from tests.conftest import CONTENT, ROOT

ANSWERS = ["English", "Yes", "Nairobi", "1, 4", "Yes", "2", "5", "Yes, please"]


async def _onboard(chat: Chat) -> None:
    await chat.join()
    for answer in ANSWERS:
        await chat.say(answer)


async def main(url: str) -> dict[str, Any]:
    settings = load_settings(
        ROOT / "bot.toml",
        database={"url": url},
        content={"path": CONTENT},
        clock={"tick_seconds": 3600},
    )
    memory = MemoryAdapter()
    onramp = await Onramp.create(settings, {"memory": memory}, clock=FakeClock())
    await onramp.start()
    try:
        first = Chat(memory, user="first", display_name="First")
        await _onboard(first)  # one-off work (caches, compiled statements) before counting
        await first.say("/kudos [Second](member:nobody) for the clear install guide #docs")
        chats = [Chat(memory, user=f"member{n}", display_name=f"Member {n}") for n in range(6)]
        gc.collect()
        gc.garbage.clear()
        gc.set_debug(gc.DEBUG_SAVEALL)
        events = 0
        for chat in chats:
            await _onboard(chat)
            events += 1 + len(ANSWERS)
        for giver, receiver in zip(chats, chats[1:] + chats[:1], strict=True):
            await giver.say(
                f"/kudos [{receiver.display_name}](member:{receiver.user}) "
                "for the clear install guide"
            )
            events += 1
        gc.collect()
        kinds = Counter(type(found).__qualname__ for found in gc.garbage)
        gc.set_debug(0)
        gc.garbage.clear()
        thanked = all(
            any(
                m.text.startswith(f"Thank you for recognising {receiver.display_name}")
                for m in giver.messages
            )
            for giver, receiver in zip(chats, chats[1:] + chats[:1], strict=True)
        )
        return {"events": events, "garbage": dict(kinds.most_common()), "thanked": thanked}
    finally:
        await onramp.stop()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
