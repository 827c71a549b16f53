"""The outbox: claiming with leases, per-recipient order, and the status moves after a send."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage import outbox
from storage.models import Outbox
from storage.session import Database
from tests.storage.rows import LEASE, NOW, add, load, message, new_member

LATER = NOW + timedelta(minutes=5)
EARLIER = NOW - timedelta(minutes=5)


async def _claim(
    db: Database,
    limit: int = 10,
    ids: list[int] | None = None,
    platforms: list[str] | None = None,
) -> list[int]:
    async with db.transaction() as session:
        rows = await outbox.claim(session, NOW, LEASE, limit, ids=ids, platforms=platforms)
    return [row.id for row in rows if row.id is not None]


async def _status(db: Database, outbox_id: int) -> str:
    return (await load(db, Outbox, outbox_id)).status


# claim


async def test_claim_leases_due_pending_rows_in_id_order(db: Database) -> None:
    ids = await add(db, message("a", "ada"), message("b", "bob"), message("c", "cy"))
    async with db.transaction() as session:
        rows = await outbox.claim(session, NOW, LEASE, 10)
    assert [r.id for r in rows] == ids
    for row in rows:
        assert (row.status, row.attempts, row.lease_until) == ("sending", 1, NOW + LEASE)
    stored = await load(db, Outbox, ids[0])
    assert (stored.status, stored.attempts, stored.lease_until) == ("sending", 1, NOW + LEASE)


async def test_claim_takes_a_row_whose_not_before_is_exactly_now(db: Database) -> None:
    ids = await add(db, message("a", not_before=NOW))
    assert await _claim(db) == ids


async def test_claim_leaves_rows_whose_not_before_is_in_the_future(db: Database) -> None:
    due, _ = await add(db, message("due", "ada"), message("later", "bob", not_before=LATER))
    assert await _claim(db) == [due]


async def test_claim_ignores_sent_failed_and_cancelled_rows(db: Database) -> None:
    await add(
        db,
        message("s", "a", status="sent"),
        message("f", "b", status="failed"),
        message("c", "c", status="cancelled"),
    )
    assert await _claim(db) == []


async def test_claim_retakes_a_sending_row_whose_lease_has_expired(db: Database) -> None:
    (row_id,) = await add(db, message("a", status="sending", lease_until=EARLIER, attempts=1))
    assert await _claim(db) == [row_id]
    stored = await load(db, Outbox, row_id)
    assert (stored.attempts, stored.lease_until) == (2, NOW + LEASE)


async def test_a_row_retaken_after_its_lease_ran_out_is_marked_in_doubt(db: Database) -> None:
    """Its last holder may have handed it to the platform before dying: the sender asks the
    platform before sending it again (`Adapter.already_sent`). A row taken from `pending`
    keeps what it had: nothing (never tried) or the error of a failed attempt."""
    expired, new, failed = await add(
        db,
        message("a", "ada", status="sending", lease_until=EARLIER, attempts=1),
        message("b", "bob"),
        message("c", "cy", attempts=1),
    )
    async with db.transaction() as session:  # tried, failed, and due again
        await session.core(
            text("UPDATE outbox SET last_error = 'ratelimited' WHERE id = :id"), {"id": failed}
        )
    async with db.transaction() as session:
        rows = {row.id: row for row in await outbox.claim(session, NOW, LEASE, 10)}
    assert rows[expired].last_error == outbox.OUTCOME_UNKNOWN
    assert rows[new].last_error is None
    assert rows[failed].last_error == "ratelimited"
    assert (await load(db, Outbox, expired)).last_error == outbox.OUTCOME_UNKNOWN


async def test_a_sqlite_start_marks_every_row_it_finds_sending_in_doubt(db: Database) -> None:
    sending, pending = await add(
        db, message("a", "ada", status="sending", lease_until=LATER), message("b", "bob")
    )
    async with db.transaction() as session:
        assert await outbox.reclaim_all_sending(session) == 1
    found = await load(db, Outbox, sending)
    assert (found.status, found.lease_until, found.last_error) == (
        "pending",
        None,
        outbox.OUTCOME_UNKNOWN,
    )
    assert (await load(db, Outbox, pending)).last_error is None


async def test_claiming_given_ids_on_sqlite_looks_those_rows_up(db: Database) -> None:
    """Every event claims its own replies by id. SQLite read every due row through the status
    index to find them (thousands while a campaign is queued: 0.9 ms a claim at 5,000); the
    plan must look the ids up by key instead."""
    if not db.sqlite:
        pytest.skip("a SQLite query plan")
    queued = await add(db, *(message(f"queued{n}", f"member{n}") for n in range(50)))
    ours = await add(db, message("a", "ada"), message("b", "ada"))
    compiled = outbox._claim("sqlite", True, False).compile(dialect=db.engine.dialect)
    given = {"now": NOW, "lease_until": NOW + LEASE, "limit": 10, "ids": json.dumps(ours)}
    processors = compiled._bind_processors
    bound = []
    for name in compiled.positiontup:
        value = given.get(name, compiled.binds[name].effective_value)
        bound.append(processors[name](value) if name in processors else value)
    driver = sqlite3.connect(str(db.engine.url.database))
    try:
        plan = [row[3] for row in driver.execute(f"EXPLAIN QUERY PLAN {compiled.string}", bound)]
    finally:
        driver.close()
    outer = [step for step in plan if step.startswith("SEARCH outbox ")]
    assert outer and all("INTEGER PRIMARY KEY" in step for step in outer), plan
    assert not any("ix_outbox_status_not_before" in step for step in plan), plan
    # a recipient's earlier rows are read from the index of open ones, not their history
    assert any(step.startswith("SEARCH earlier USING INDEX ix_outbox_open") for step in plan), plan
    assert len(queued) == 50 and await _claim(db, ids=ours) == ours


async def test_claim_leaves_a_sending_row_whose_lease_is_live(db: Database) -> None:
    await add(db, message("a", status="sending", lease_until=NOW, attempts=1))
    assert await _claim(db) == []


async def test_a_second_claim_does_not_retake_rows_still_leased(db: Database) -> None:
    ids = await add(db, message("a", "ada"), message("b", "bob"))
    assert await _claim(db) == ids
    assert await _claim(db) == []


async def test_claim_respects_limit(db: Database) -> None:
    ids = await add(db, *(message(f"m{i}", f"r{i}") for i in range(5)))
    assert await _claim(db, limit=2) == ids[:2]
    assert await _claim(db, limit=2) == ids[2:4]


async def test_claim_with_ids_takes_only_those_rows(db: Database) -> None:
    ids = await add(db, *(message(f"m{i}", f"r{i}") for i in range(4)))
    assert await _claim(db, ids=[ids[1], ids[3]]) == [ids[1], ids[3]]
    assert await _status(db, ids[0]) == "pending"


async def test_claim_with_platforms_takes_only_those_platforms(db: Database) -> None:
    console, slack, memory = await add(
        db,
        message("a", platform="console"),
        message("b", platform="slack"),
        message("c", platform="memory"),
    )
    assert await _claim(db, platforms=["console", "memory"]) == [console, memory]
    assert await _status(db, slack) == "pending"


async def test_claim_takes_every_due_row_to_one_recipient_together_in_order(db: Database) -> None:
    ids = await add(db, message("a", "ada"), message("b", "ada"), message("c", "ada"))
    assert await _claim(db) == ids


async def test_a_row_waits_while_an_earlier_row_to_its_recipient_is_held_back(
    db: Database,
) -> None:
    await add(db, message("held", "ada", not_before=LATER))
    waiting, other = await add(db, message("next", "ada"), message("bob", "bob"))
    assert await _claim(db) == [other]
    assert await _status(db, waiting) == "pending"


async def test_a_row_waits_while_an_earlier_row_to_its_recipient_is_in_flight(
    db: Database,
) -> None:
    await add(db, message("flying", "ada", status="sending", lease_until=LATER, attempts=1))
    waiting, other = await add(db, message("next", "ada"), message("bob", "bob"))
    assert await _claim(db) == [other]
    assert await _status(db, waiting) == "pending"


async def test_a_row_waits_for_an_earlier_row_whose_lease_ends_exactly_now(db: Database) -> None:
    # Neither claimable (its lease is not yet over) nor over: the later row must wait.
    await add(db, message("flying", "ada", status="sending", lease_until=NOW))
    (row_id,) = await add(db, message("next", "ada"))
    assert await _claim(db) == []
    assert await _status(db, row_id) == "pending"


async def test_a_row_is_not_held_by_an_earlier_row_on_another_platform(db: Database) -> None:
    await add(db, message("held", "ada", platform="slack", not_before=LATER))
    (row_id,) = await add(db, message("next", "ada", platform="console"))
    assert await _claim(db) == [row_id]


async def test_a_row_is_not_held_by_a_later_row_to_its_recipient(db: Database) -> None:
    (first,) = await add(db, message("first", "ada"))
    await add(db, message("later", "ada", not_before=LATER))
    assert await _claim(db) == [first]


async def test_a_row_is_not_held_by_earlier_rows_that_are_closed(db: Database) -> None:
    await add(db, message("s", "ada", status="sent"), message("f", "ada", status="failed"))
    (row_id,) = await add(db, message("next", "ada"))
    assert await _claim(db) == [row_id]


async def test_a_row_is_not_held_by_an_earlier_row_whose_lease_expired(db: Database) -> None:
    ids = await add(
        db, message("stale", "ada", status="sending", lease_until=EARLIER), message("next", "ada")
    )
    assert await _claim(db) == ids


async def test_claiming_one_row_holds_the_next_to_that_recipient(db: Database) -> None:
    first, second = await add(db, message("a", "ada"), message("b", "ada"))
    assert await _claim(db, limit=1) == [first]
    assert await _claim(db) == []
    assert await _status(db, second) == "pending"


async def test_claim_with_ids_still_waits_for_an_earlier_row_in_flight(db: Database) -> None:
    await add(db, message("flying", "ada", status="sending", lease_until=LATER))
    (row_id,) = await add(db, message("next", "ada"))
    assert await _claim(db, ids=[row_id]) == []


async def test_a_sweep_leaves_a_recipient_another_claimer_holds_then_reads_it_afresh(
    db: Database,
) -> None:
    """PostgreSQL: a sweep takes the recipients' locks before it reads what it may take, so
    what another claimer took under the same lock is read as taken (storage/outbox.claim)."""
    if db.sqlite:
        pytest.skip("one process owns a SQLite database: claims never run side by side")
    first, second, other = await add(
        db, message("a", "ada"), message("b", "ada"), message("c", "bob")
    )
    async with db.transaction() as holder:  # another replica, mid-claim on ada's queue
        await holder.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('console:ada'))"),
        )
        taken = await outbox.claim(holder, NOW, LEASE, 1, ids=[first])
        assert [row.id for row in taken] == [first]
        assert await _claim(db) == [other]  # ada's lock is held: only bob's row
    assert await _claim(db) == []  # ada's first row is in flight: her second waits
    assert await _status(db, second) == "pending"


async def test_a_sweep_waits_for_a_member_s_earlier_row_another_transaction_holds(
    db: Database,
) -> None:
    """PostgreSQL: an earlier row locked by another transaction (a claim given ids passing
    through) is waited for, not skipped: skipping it took the member's later row alone,
    and three replicas sent members' messages out of order."""
    if db.sqlite:
        pytest.skip("one process owns a SQLite database: claims never run side by side")
    first, second = await add(db, message("a", "ada"), message("b", "ada"))
    async with db.transaction() as holder:
        await holder.execute(text(f"SELECT id FROM outbox WHERE id = {first} FOR UPDATE"))
        sweep = asyncio.create_task(_claim(db))
        await asyncio.sleep(0.5)  # the sweep reaches the locked row and waits
        assert not sweep.done()
    assert await asyncio.wait_for(sweep, 10) == [first, second]  # both, in order


async def test_dedupe_key_is_unique(db: Database) -> None:
    await add(db, message("same", "ada"))
    with pytest.raises(IntegrityError):
        await add(db, message("same", "bob"))


# after the send


async def _sending(db: Database, *keys: str) -> list[int]:
    ids = await add(db, *(message(k, k) for k in keys))
    assert await _claim(db) == ids
    return ids


async def test_mark_sent_records_the_delivery(db: Database) -> None:
    (row_id,) = await _sending(db, "a")
    async with db.transaction() as session:
        await outbox.mark_sent(session, [(row_id, "delivery-1")], LATER)
    row = await load(db, Outbox, row_id)
    assert (row.status, row.delivery_id, row.sent_at, row.lease_until) == (
        "sent",
        "delivery-1",
        LATER,
        None,
    )


async def test_mark_sent_only_moves_rows_that_are_sending(db: Database) -> None:
    (pending,) = await add(db, message("a"))
    async with db.transaction() as session:
        await outbox.mark_sent(session, [(pending, "d")], NOW)
    row = await load(db, Outbox, pending)
    assert (row.status, row.delivery_id, row.sent_at) == ("pending", None, None)


async def test_retry_later_makes_the_row_pending_again_at_that_time(db: Database) -> None:
    (row_id,) = await _sending(db, "a")
    async with db.transaction() as session:
        await outbox.retry_later(session, row_id, LATER, "timeout")
    row = await load(db, Outbox, row_id)
    assert (row.status, row.not_before, row.lease_until, row.last_error, row.attempts) == (
        "pending",
        LATER,
        None,
        "timeout",
        1,
    )


async def test_retry_later_without_counting_gives_the_attempt_back(db: Database) -> None:
    (row_id,) = await _sending(db, "a")
    async with db.transaction() as session:
        await outbox.retry_later(session, row_id, LATER, "throttled", count_attempt=False)
    row = await load(db, Outbox, row_id)
    assert (row.status, row.attempts, row.not_before) == ("pending", 0, LATER)


async def test_retry_later_cuts_the_error_to_1000_characters(db: Database) -> None:
    (row_id,) = await _sending(db, "a")
    async with db.transaction() as session:
        await outbox.retry_later(session, row_id, LATER, "x" * 5000)
    assert (await load(db, Outbox, row_id)).last_error == "x" * 1000


async def test_retry_later_only_moves_rows_that_are_sending(db: Database) -> None:
    (row_id,) = await add(db, message("a", status="sent"))
    async with db.transaction() as session:
        await outbox.retry_later(session, row_id, LATER, "late", count_attempt=False)
    row = await load(db, Outbox, row_id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 0, None)


async def test_release_gives_back_unattempted_rows_without_counting_them(db: Database) -> None:
    first, second = await _sending(db, "a", "b")
    async with db.transaction() as session:
        await outbox.release(session, [first])
    row = await load(db, Outbox, first)
    assert (row.status, row.lease_until, row.attempts) == ("pending", None, 0)
    assert await _status(db, second) == "sending"


async def test_release_only_moves_rows_that_are_sending(db: Database) -> None:
    (row_id,) = await add(db, message("a", status="failed", attempts=3))
    async with db.transaction() as session:
        await outbox.release(session, [row_id])
        await outbox.release(session, [])
    row = await load(db, Outbox, row_id)
    assert (row.status, row.attempts) == ("failed", 3)


async def test_mark_failed_gives_up_on_the_row(db: Database) -> None:
    (row_id,) = await _sending(db, "a")
    async with db.transaction() as session:
        await outbox.mark_failed(session, row_id, "blocked by user")
    row = await load(db, Outbox, row_id)
    assert (row.status, row.lease_until, row.last_error) == ("failed", None, "blocked by user")


async def test_mark_failed_only_moves_rows_that_are_sending(db: Database) -> None:
    (row_id,) = await add(db, message("a"))
    async with db.transaction() as session:
        await outbox.mark_failed(session, row_id, "nope")
    row = await load(db, Outbox, row_id)
    assert (row.status, row.last_error) == ("pending", None)


async def test_cancel_for_member_cancels_only_that_members_pending_rows(db: Database) -> None:
    ada, bob = await new_member(db, "ada"), await new_member(db, "bob")
    pending, sending, sent, other = await add(
        db,
        message("p", "ada", member_id=ada),
        message("s", "ada", member_id=ada, status="sending", lease_until=LATER),
        message("d", "ada", member_id=ada, status="sent"),
        message("o", "bob", member_id=bob),
    )
    async with db.transaction() as session:
        await outbox.cancel_for_member(session, ada)
    assert [await _status(db, i) for i in (pending, sending, sent, other)] == [
        "cancelled",
        "sending",
        "sent",
        "pending",
    ]


async def test_reclaim_all_sending_makes_every_sending_row_pending(db: Database) -> None:
    live, expired, sent = await add(
        db,
        message("a", "a", status="sending", lease_until=LATER, attempts=2),
        message("b", "b", status="sending", lease_until=EARLIER, attempts=1),
        message("c", "c", status="sent"),
    )
    async with db.transaction() as session:
        assert await outbox.reclaim_all_sending(session) == 2
    rows = [await load(db, Outbox, i) for i in (live, expired, sent)]
    assert [(r.status, r.lease_until, r.attempts) for r in rows] == [
        ("pending", None, 2),
        ("pending", None, 1),
        ("sent", None, 0),
    ]


async def test_counts_groups_rows_by_status(db: Database) -> None:
    await add(db, message("a", "a"), message("b", "b"), message("c", "c", status="sent"))
    async with db.reading() as session:
        assert await outbox.counts(session) == {"pending": 2, "sent": 1}


# concurrency (PostgreSQL only: SQLite has one writer, so claims cannot overlap there)


async def _overlapping_claims(
    db: Database, first_limit: int, second_limit: int
) -> tuple[list[int], list[int]]:
    """Two claims in two transactions, the second made while the first is still open."""
    first_claimed, second_done = asyncio.Event(), asyncio.Event()

    async def first() -> list[int]:
        async with db.transaction() as session:
            rows = await outbox.claim(session, NOW, LEASE, first_limit)
            first_claimed.set()
            await second_done.wait()
        return [r.id for r in rows if r.id is not None]

    async def second() -> list[int]:
        await first_claimed.wait()
        try:
            async with db.transaction() as session:
                rows = await outbox.claim(session, NOW, LEASE, second_limit)
        finally:
            second_done.set()
        return [r.id for r in rows if r.id is not None]

    return await asyncio.wait_for(asyncio.gather(first(), second()), timeout=10)


async def test_concurrent_claims_never_return_the_same_row(db: Database) -> None:
    if db.sqlite:
        pytest.skip("SQLite serialises writers; overlapping claims need PostgreSQL (SKIP LOCKED)")
    ids = await add(db, *(message(f"m{i}", f"r{i}") for i in range(6)))
    first, second = await _overlapping_claims(db, first_limit=3, second_limit=10)
    assert first == ids[:3]
    assert second == ids[3:]


async def test_a_concurrent_claim_does_not_take_a_later_row_to_a_recipient_being_claimed(
    db: Database,
) -> None:
    if db.sqlite:
        pytest.skip("SQLite serialises writers; overlapping claims need PostgreSQL")
    first_row, second_row = await add(db, message("a", "ada"), message("b", "ada"))
    first, second = await _overlapping_claims(db, first_limit=1, second_limit=10)
    assert first == [first_row]
    assert second == []
    assert await _status(db, second_row) == "pending"
