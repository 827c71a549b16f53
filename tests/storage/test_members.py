"""Members and identities: creating, finding, and the uniqueness of an identity."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from storage.members import (
    create_member,
    find_identity,
    find_member,
    identities_of,
    reached_through,
)
from storage.models import Identity
from storage.session import Database


async def _create(
    db: Database, platform: str, workspace: str, external_id: str, **extra: Any
) -> int:
    async with db.transaction() as session:
        _, member = await create_member(
            session, platform=platform, workspace=workspace, external_id=external_id, **extra
        )
        assert member.id is not None
        return member.id


async def test_create_member_then_find_identity_returns_both(db: Database) -> None:
    member_id = await _create(
        db, "slack", "T1", "U1", display_name="Ada", locale="fr", conversation="D1", source="x"
    )
    async with db.reading() as session:
        found = await find_identity(session, "slack", "T1", "U1")
    assert found is not None
    identity, member = found
    assert (identity.member_id, identity.dm_conversation) == (member_id, "D1")
    assert (member.id, member.display_name, member.locale, member.source) == (
        member_id,
        "Ada",
        "fr",
        "x",
    )


async def test_find_identity_is_none_for_an_unknown_identity(db: Database) -> None:
    await _create(db, "slack", "T1", "U1")
    async with db.reading() as session:
        assert await find_identity(session, "slack", "T2", "U1") is None
        assert await find_identity(session, "slack", "T1", "U2") is None


async def test_create_member_cuts_a_long_display_name_to_200_characters(db: Database) -> None:
    await _create(db, "console", "", "ada", display_name="A" * 300)
    async with db.reading() as session:
        found = await find_identity(session, "console", "", "ada")
    assert found is not None
    assert found[1].display_name == "A" * 200


async def test_the_same_platform_workspace_and_external_id_cannot_be_created_twice(
    db: Database,
) -> None:
    await _create(db, "slack", "T1", "U1")
    with pytest.raises(IntegrityError):
        await _create(db, "slack", "T1", "U1")


async def test_the_same_external_id_in_another_workspace_is_another_member(db: Database) -> None:
    first = await _create(db, "slack", "T1", "U1")
    second = await _create(db, "slack", "T2", "U1")
    assert first != second
    async with db.reading() as session:
        assert [i.workspace for i in await identities_of(session, second)] == ["T2"]


async def test_find_member_by_id_and_by_identity(db: Database) -> None:
    ada = await _create(db, "console", "", "ada")
    grace = await _create(db, "slack", "T1", "U1")
    async with db.reading() as session:
        by_id = await find_member(session, str(grace))
        by_console = await find_member(session, "console:ada")
        by_slack = await find_member(session, "slack:T1:U1")
    assert by_id is not None and by_id.id == grace
    assert by_console is not None and by_console.id == ada
    assert by_slack is not None and by_slack.id == grace


async def test_an_identity_typed_in_another_case_is_found_when_only_one_matches(
    db: Database,
) -> None:
    priya = await _create(db, "console", "", "Priya")  # `onramp run --as Priya`
    await _create(db, "slack", "T1", "U1")
    await _create(db, "slack", "T1", "u1")  # two ids differing only by case: ambiguous
    async with db.reading() as session:
        found = await find_member(session, "console:priya")
        assert found is not None and found.id == priya
        assert await find_member(session, "slack:T1:U1") is not None  # the exact one first
        assert await find_member(session, "slack:t1:U1") is None  # the workspace as typed
        assert await find_member(session, "slack:T1:u1") is not None


async def test_an_id_matching_two_identities_but_for_case_is_not_guessed(db: Database) -> None:
    await _create(db, "console", "", "Sam")
    await _create(db, "console", "", "SAM")
    async with db.reading() as session:
        assert await find_member(session, "console:sam") is None


@pytest.mark.parametrize(
    "reference",
    ["999", "console:bob", "slack:T1:U2", "ada", "", "a:b:c:d", "console:", "slack::U1"],
)
async def test_find_member_is_none_for_unknown_or_malformed_references(
    db: Database, reference: str
) -> None:
    await _create(db, "console", "", "ada")
    await _create(db, "slack", "T1", "U1")
    async with db.reading() as session:
        assert await find_member(session, reference) is None


@pytest.mark.parametrize("reference", ["²", "99999999999999999999"])
async def test_find_member_is_none_for_ids_that_are_not_plain_integers_in_range(
    db: Database, reference: str
) -> None:
    await _create(db, "console", "", "ada")
    async with db.reading() as session:
        assert await find_member(session, reference) is None


async def test_a_mention_finds_its_member_and_where_they_were_seen_last(db: Database) -> None:
    """`/kudos [Ada](member:U1)` on Slack: Ada is found by her Slack id, and reached on the
    platform she was seen on last (here Telegram, an identity added after)."""
    ada = await _create(db, "slack", "T1", "U1", display_name="Ada")
    await _create(db, "slack", "T2", "U1", display_name="Another workspace's U1")
    async with db.transaction() as session:
        session.add(Identity(member_id=ada, platform="telegram", workspace="", external_id="42"))
    async with db.reading() as session:
        found = await reached_through(session, "slack", "T1", "U1")
        assert found is not None
        member, identity = found
        assert (member.id, member.display_name) == (ada, "Ada")
        assert (identity.platform, identity.external_id) == ("telegram", "42")
        assert await reached_through(session, "slack", "T1", "U404") is None
        assert await reached_through(session, "zulip", "T1", "U1") is None


async def test_a_locked_find_waits_for_the_event_ahead_and_sees_what_it_wrote(
    db: Database,
) -> None:
    """PostgreSQL: two events of one member at once (two workers or replicas). The second
    waits for the first's lock and then reads the member as the first left them: read before
    the lock, its copy would be older and its write-back would undo the first's changes."""
    if db.sqlite:
        pytest.skip("SQLite has one writer: nobody else can change a member meanwhile")
    await _create(db, "slack", "T1", "U1", display_name="Ada", locale="en")
    first_holds = asyncio.Event()
    second_read: list[str | None] = []

    async def second() -> None:
        await first_holds.wait()
        async with db.transaction() as session:
            found = await find_identity(session, "slack", "T1", "U1", locked=True)
            assert found is not None
            second_read.append(found[1].locale)

    waiting = asyncio.create_task(second())
    async with db.transaction() as session:
        found = await find_identity(session, "slack", "T1", "U1", locked=True)
        assert found is not None
        found[1].locale = "fr"
        await session.flush()
        first_holds.set()
        await asyncio.sleep(0.3)  # the second is now waiting for the lock
        assert second_read == []
    await waiting
    assert second_read == ["fr"]
