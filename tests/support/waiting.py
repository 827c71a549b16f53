"""Waiting, in a test, for something another thread or process does (an emulator, a bot)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def until(
    check: Callable[[], Awaitable[object] | object], what: str, seconds: float = 20
) -> None:
    """Poll `check` (plain or async) until what it returns is true; fail the test, naming
    `what`, if it has not within `seconds`. Polling is the way here: the state changes outside
    this loop (in an emulator's thread, a bot's process)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = check()
        if await result if isinstance(result, Awaitable) else result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
