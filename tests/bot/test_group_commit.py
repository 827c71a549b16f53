"""The group commit on its own: callers waiting together share one write, and a failure reaches
exactly the callers it should."""

from __future__ import annotations

import asyncio
import gc

import pytest

from bot.group_commit import GroupCommit


class Writes:
    """A write that records each batch it was given and doubles the items; `bad` items fail."""

    def __init__(self, bad: frozenset[int] = frozenset()) -> None:
        self.batches: list[list[int]] = []
        self.bad = bad

    async def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        await asyncio.sleep(0)  # a real write lets others run while it waits on the database
        if self.bad & set(items):
            raise ValueError(f"bad item in {items}")
        return [item * 2 for item in items]


async def test_callers_waiting_together_share_one_write_and_get_their_own_results() -> None:
    writes = Writes()
    group: GroupCommit[int, int] = GroupCommit(writes)
    results = await asyncio.gather(*(group.submit(n) for n in range(5)))
    assert results == [0, 2, 4, 6, 8]
    assert writes.batches == [[0, 1, 2, 3, 4]]


async def test_items_that_arrive_during_a_write_go_in_the_next_one() -> None:
    writes = Writes()
    group: GroupCommit[int, int] = GroupCommit(writes)
    first = asyncio.ensure_future(group.submit(1))
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # the first write has started
    assert list(await asyncio.gather(first, group.submit(2), group.submit(3))) == [2, 4, 6]
    assert writes.batches == [[1], [2, 3]]


async def test_max_batch_caps_a_write() -> None:
    writes = Writes()
    group: GroupCommit[int, int] = GroupCommit(writes, max_batch=2)
    assert await group.submit_all([1, 2, 3, 4, 5]) == [2, 4, 6, 8, 10]
    assert writes.batches == [[1, 2], [3, 4], [5]]


async def test_join_ready_lets_callers_ready_one_turn_later_join() -> None:
    async def later(group: GroupCommit[int, int], item: int) -> int:
        await asyncio.sleep(0)
        return await group.submit(item)

    for join_ready, expected in [(False, [[1], [2]]), (True, [[1, 2]])]:
        writes = Writes()
        group: GroupCommit[int, int] = GroupCommit(writes, join_ready=join_ready)
        await asyncio.gather(group.submit(1), later(group, 2))
        assert writes.batches == expected


async def test_without_splitting_every_caller_of_a_failed_write_gets_its_error() -> None:
    writes = Writes(bad=frozenset({2}))
    group: GroupCommit[int, int] = GroupCommit(writes)
    results = await asyncio.gather(*(group.submit(n) for n in (1, 2, 3)), return_exceptions=True)
    assert [type(r) for r in results] == [ValueError, ValueError, ValueError]
    assert writes.batches == [[1, 2, 3]]


async def test_split_on_failure_writes_each_alone_so_only_the_bad_one_fails() -> None:
    writes = Writes(bad=frozenset({2}))
    group: GroupCommit[int, int] = GroupCommit(writes, split_on_failure=True)
    results = await asyncio.gather(*(group.submit(n) for n in (1, 2, 3)), return_exceptions=True)
    assert results[0] == 2 and results[2] == 6
    assert isinstance(results[1], ValueError)
    assert writes.batches == [[1, 2, 3], [1], [2], [3]]


async def test_a_failed_write_alone_is_not_written_again() -> None:
    writes = Writes(bad=frozenset({2}))
    group: GroupCommit[int, int] = GroupCommit(writes, split_on_failure=True)
    with pytest.raises(ValueError):
        await group.submit(2)
    assert writes.batches == [[2]]
    assert await group.submit(4) == 8  # the group goes on after a failure


async def test_submit_all_of_nothing_writes_nothing() -> None:
    writes = Writes()
    group: GroupCommit[int, int] = GroupCommit(writes)
    assert await group.submit_all([]) == []
    assert writes.batches == []


class Dying(BaseException):
    """The process going down mid-write (as tests/bot/test_crashes.py simulates it)."""


async def test_a_write_that_takes_the_process_down_is_reported_to_its_waiters_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def write(items: list[int]) -> list[int]:
        raise Dying

    group: GroupCommit[int, int] = GroupCommit(write)
    with pytest.raises(Dying):
        await group.submit(1)
    await asyncio.sleep(0)  # the flushing task ends
    gc.collect()  # where an unseen task exception would be logged
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
