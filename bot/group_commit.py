"""Group commit: many callers' small writes gathered into one transaction.

Each caller hands over its items and waits until they are durable. Whatever is waiting when
the writer is free goes in one write (one transaction, one commit), so a burst of N callers
costs a few commits rather than N, and no caller waits longer than the write in flight plus
its own. The dispatcher gathers events this way on SQLite (one writer), and the sender the
outcomes of its delivery attempts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    """Writes the items that arrive together with one call of `write`, which returns one result
    per item, in order; each caller gets its own items' results once that call has returned.

    - `max_batch`: at most this many items a write (None: all that are waiting).
    - `join_ready`: before each write, give the event loop one turn, so every caller that is
      ready to hand something over joins this write rather than the next one.
    - `split_on_failure`: when a write of several items raises, write each item alone, so one
      bad item fails only its own caller; otherwise every caller of that write gets the error.
    """

    def __init__(
        self,
        write: Callable[[list[Item]], Awaitable[Sequence[Result]]],
        *,
        max_batch: int | None = None,
        join_ready: bool = False,
        split_on_failure: bool = False,
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._join_ready = join_ready
        self._split_on_failure = split_on_failure
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """Write `item` with whatever else is waiting; its result once that is committed."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._start()
        return await future

    async def submit_all(self, items: list[Item]) -> list[Result]:
        """Write these items, in one write unless `max_batch` splits them; their results."""
        if not items:
            return []
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Result]] = [loop.create_future() for _ in items]
        self._pending.extend(zip(items, futures, strict=True))
        self._start()
        return list(await asyncio.gather(*futures))

    def _start(self) -> None:
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
            self._flushing.add_done_callback(_delivered)

    def _take(self) -> list[tuple[Item, asyncio.Future[Result]]]:
        if self._max_batch is None:
            batch, self._pending = self._pending, []
        else:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
        return batch

    async def _flush(self) -> None:
        while self._pending:
            if self._join_ready:
                await asyncio.sleep(0)
            batch = self._take()
            try:
                results = await self._write([item for item, _ in batch])
            except Exception as exc:
                if self._split_on_failure and len(batch) > 1:
                    await self._one_by_one(batch)  # each alone; a failing one gets its error
                else:  # alone already (that was its write), or all share the outcome
                    _fail(batch, exc)
                continue
            except BaseException as exc:  # the process is going down: every waiter learns it
                _fail(batch, exc)
                raise
            _succeed(batch, results)

    async def _one_by_one(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        for position, (item, future) in enumerate(batch):
            try:
                results = await self._write([item])
            except Exception as exc:
                _fail([(item, future)], exc)
                continue
            except BaseException as exc:
                _fail(batch[position:], exc)
                raise
            _succeed([(item, future)], results)


def _succeed(batch: list[tuple[Item, asyncio.Future[Result]]], results: Sequence[Result]) -> None:
    for (_, future), result in zip(batch, results, strict=True):
        if not future.done():  # its caller may have been cancelled meanwhile
            future.set_result(result)


def _fail(batch: list[tuple[Item, asyncio.Future[Result]]], error: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)


def _delivered(task: asyncio.Task[None]) -> None:
    """A flush that ended in an exception has handed it to every waiter's future already;
    nobody awaits the task itself, so its copy is marked seen here rather than reported later,
    from the garbage collector, as "Task exception was never retrieved"."""
    if not task.cancelled():
        task.exception()
