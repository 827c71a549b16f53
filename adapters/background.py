"""What every platform's adapter does the same way off the request path: work in the
background whose failure is logged and never lost, drained on stop, and connecting again
with capped backoff until the platform answers.

- `logged`: work after a commit (answering a button, editing a question) whose failure
  costs looks, never an answer: logged with what failed, never raised.
- `Background`: an adapter's tasks that outlive the call that started them, kept so that
  they are not garbage-collected mid-flight, and drained by `stop()`: a few seconds to
  finish, then cancelled.
- `retry_until_done`: a set-up or connection that failed at `start()` (the platform out of
  reach), tried again after 1, 2, 4… seconds up to a minute while `ready()` says no, until
  it succeeds or the adapter stops (cancelling the task ends it at once, mid-wait).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

T = TypeVar("T")

FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 60.0
DRAIN_SECONDS = 5.0  # what stop() gives work in flight before cancelling it


async def logged(log: logging.Logger, what: str, work: Awaitable[None]) -> None:
    """Background work after a commit (answering a button, editing a question): a failure costs
    looks, never an answer, and is logged with `what` failed."""
    try:
        await work
    except Exception:
        log.exception("%s failed", what)


class Background:
    """An adapter's background tasks: started with `spawn`, finished or cancelled by `drain`."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def __bool__(self) -> bool:
        return bool(self._tasks)

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Awaitable[T]) -> asyncio.Task[T]:
        """Run `work` as a task held until it is done (asyncio keeps only a weak reference)."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, grace: float = DRAIN_SECONDS) -> None:
        """Let the work in flight finish, for at most `grace` seconds, then cancel the rest
        and wait (as long again at most) for it to end. A task's exception stays with its own
        callbacks: draining never raises."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace)
        rest = [task for task in self._tasks if not task.done()]
        for task in rest:
            task.cancel()
        if rest:
            await asyncio.wait(rest, timeout=grace)


async def retry_until_done(
    attempt: Callable[[], Awaitable[object]],
    *,
    retrying_on: type[Exception] | tuple[type[Exception], ...],
    failed: Callable[[BaseException], None] | None = None,
) -> None:
    """Wait a second, then call `attempt` until it returns; after each failure of a kind in
    `retrying_on` (the platform out of reach), `failed` is told (to log it) and the wait
    doubles, up to a minute. Any other exception ends the retrying and is raised."""
    await asyncio.sleep(FIRST_RETRY_SECONDS)

    def told(state: RetryCallState) -> None:
        if failed is not None and state.outcome is not None:
            error = state.outcome.exception()
            if error is not None:
                failed(error)

    # Waits after the 1st, 2nd… failure: 2, 4, 8… seconds, so with the first second the
    # attempts come 1, 2, 4, 8… seconds apart, and never more than a minute.
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(retrying_on),
        wait=wait_exponential(multiplier=2 * FIRST_RETRY_SECONDS, max=MAX_RETRY_SECONDS),
        before_sleep=told,
        reraise=True,
    )
    async for trying in retrying:
        with trying:
            await attempt()
