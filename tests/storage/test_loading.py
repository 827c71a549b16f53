"""storage/loading.py: objects made from a row as the ORM's own query makes them, on both
databases: the same values, tracked by the session (changes written back), the session's own
object when it has one, None for an outer join's missing side."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import bindparam, func, inspect, select, update

from storage import loading, writeback
from storage.members import _FIND_WITH_RUN, create_member
from storage.models import FlowRun, Identity, Member
from storage.session import Database
from storage.statuses import RunStatus

WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
WHERE = {"platform": "slack", "workspace": "T1", "external_id": "U1"}


async def _member(db: Database, *, run: bool) -> int:
    async with db.transaction() as session:
        _, member = await create_member(
            session, **WHERE, display_name="Zoë 😀", locale="pt-BR", conversation="D1", now=WHEN
        )
        member.roles, member.profile, member.consent_at = ["mentor"], {"a": [1, "é"]}, WHEN
        if run:
            session.add(
                FlowRun(
                    member_id=member.id,
                    flow_id="welcome",
                    step_id="language",
                    state={"answers": {"x": 1}},
                    status=RunStatus.ACTIVE,
                    started_at=WHEN,
                    updated_at=WHEN,
                    expires_at=WHEN,
                )
            )
        assert member.id is not None
        return member.id


def _values(instance: Any) -> dict[str, Any]:
    return {a.key: getattr(instance, a.key) for a in inspect(type(instance)).column_attrs}


@pytest.mark.parametrize("run", [True, False], ids=["with a run", "without"])
async def test_a_row_gives_what_the_orm_query_gives(db: Database, run: bool) -> None:
    await _member(db, run=run)
    async with db.reading() as session:
        expected = (await session.execute(_FIND_WITH_RUN, WHERE)).first()
    async with db.reading() as session:
        loaded = await loading.first(session, _FIND_WITH_RUN, WHERE)
        assert loaded is not None
        for ours, theirs in zip(loaded, expected, strict=True):
            if theirs is None:
                assert ours is None
                continue
            assert type(ours) is type(theirs)
            assert _values(ours) == _values(theirs)
            state = inspect(ours)
            assert state.persistent and not state.modified and not state.expired_attributes
            assert state.session is session.orm
    member = loaded[1]
    assert member.profile == {"a": [1, "é"]} and member.consent_at == WHEN
    assert (loaded[2] is None) == (not run)


async def test_no_row_is_none(db: Database) -> None:
    async with db.reading() as session:
        assert await loading.first(session, _FIND_WITH_RUN, WHERE) is None
        assert (
            await loading.one(
                session, select(Member).where(Member.id == bindparam("id")), {"id": 1}
            )
            is None
        )


async def test_one_gives_the_entity_of_the_first_row(db: Database) -> None:
    member_id = await _member(db, run=False)
    statement = select(Member).where(Member.id == bindparam("id"))
    async with db.reading() as session:
        member = await loading.one(session, statement, {"id": member_id})
        assert isinstance(member, Member) and member.id == member_id
        assert inspect(member).session is session.orm


async def test_an_object_the_session_holds_is_returned_as_it_is(db: Database) -> None:
    member_id = await _member(db, run=False)
    async with db.transaction() as session:
        held = await session.get(Member, member_id)
        assert held is not None
        held.display_name = "changed, not yet written"
        loaded = await loading.first(session, _FIND_WITH_RUN, WHERE)
        assert loaded is not None and loaded[1] is held
        assert held.display_name == "changed, not yet written"


async def test_changes_to_loaded_objects_are_written_back(db: Database) -> None:
    member_id = await _member(db, run=True)
    async with db.transaction() as session:
        loaded = await loading.first(session, _FIND_WITH_RUN, WHERE)
        assert loaded is not None
        identity, member, run = loaded
        member.locale, member.roles = "fr", ["mentor", "manager"]
        identity.username = "zoe"
        run.step_id = "timezone"
        await writeback.write_back(session)
    async with db.transaction() as session:
        loaded = await loading.first(session, _FIND_WITH_RUN, WHERE)
        assert loaded is not None
        identity, member, run = loaded
        assert (member.locale, member.roles) == ("fr", ["mentor", "manager"])
        assert (identity.username, run.step_id) == ("zoe", "timezone")
        # The ORM's own flush sees them as it sees queried objects: one change, one UPDATE.
        member.display_name = "Zoé"
        await session.flush()
    async with db.reading() as session:
        names = await session.execute(select(Member.display_name, Member.name_key))
        assert list(names) == [("Zoé", "zoé")]
        assert await session.get(Member, member_id) is not None


async def test_every_row_loads_with_the_plain_columns_after_its_entities(db: Database) -> None:
    await _member(db, run=True)
    async with db.transaction() as session:
        _, other = await create_member(
            session,
            platform="slack",
            workspace="T1",
            external_id="U2",
            display_name="Ana",
            locale="es",
            now=WHEN,
        )
    statement = (
        select(Member, func.count(FlowRun.id), func.max(FlowRun.flow_id))
        .outerjoin(FlowRun, FlowRun.member_id == Member.id)
        .group_by(Member.id)
        .order_by(Member.id)
    )
    async with db.reading() as session:
        expected = (await session.execute(statement)).all()
    async with db.reading() as session:
        loaded = await loading.every(session, statement, {})
        assert [(m.id, m.display_name, n, f) for m, n, f in loaded] == [
            (m.id, m.display_name, n, f) for m, n, f in expected
        ]
        assert [n for _, n, _ in loaded] == [1, 0] and loaded[1][0].id == other.id
        assert all(inspect(m).persistent for m, _, _ in loaded)
    async with db.reading() as session:
        assert await loading.every(session, statement.where(Member.id < 0), {}) == []


async def test_only_whole_entities_then_plain_columns_load() -> None:
    with pytest.raises(TypeError, match="whole entities"):
        loading._shape(select(Identity.platform, Member))
    with pytest.raises(TypeError, match="whole entities"):
        loading._shape(select(Member.id, Member.display_name))
    with pytest.raises(TypeError, match="whole entities"):
        loading._shape(select(func.count(), Member).group_by(Member.id))
    with pytest.raises(TypeError, match="whole entities"):
        loading._shape(select(Member, Identity.platform, FlowRun))
    # A statement that is not a SELECT of entities is refused too.
    with pytest.raises((TypeError, AttributeError)):
        loading._shape(update(Member).where(Member.id == bindparam("id")))
    shape = loading._shape(_FIND_WITH_RUN)
    assert [p.mapper.class_ for p in shape.parts] == [
        Identity,
        Member,
        FlowRun,
    ] and not shape.columns


async def test_a_new_object_is_inserted_as_a_flush_inserts_it(db: Database) -> None:
    async with db.transaction() as session:
        ours = Member(
            display_name="Zoë Ñandú", locale="pt-BR", created_at=WHEN, last_active_at=WHEN
        )
        await loading.add_new(session, ours)
        state = inspect(ours)
        assert ours.id is not None and state.persistent and not state.modified
        assert state.session is session.orm
        # the mapper's before_insert hook ran (the name key), every column came back
        assert ours.name_key == "zoë ñandú" and ours.roles == [] and ours.created_at == WHEN
        ours.locale = "fr"  # tracked like any loaded object
        with pytest.raises(ValueError, match="only a new object"):
            await loading.add_new(session, ours)
        theirs = Member(
            display_name="Zoë Ñandú", locale="pt-BR", created_at=WHEN, last_active_at=WHEN
        )
        session.add(theirs)
        await session.flush()
    async with db.reading() as session:
        mine, flushed = await session.get(Member, ours.id), await session.get(Member, theirs.id)
        assert mine is not None and flushed is not None and mine.locale == "fr"
        mine.locale = flushed.locale
        assert {k: v for k, v in _values(mine).items() if k != "id"} == {
            k: v for k, v in _values(flushed).items() if k != "id"
        }


async def test_written_back_and_kept_an_object_is_clean_and_tracks_later_changes(
    db: Database,
) -> None:
    member_id = await _member(db, run=True)
    async with db.transaction() as session:
        loaded = await loading.first(session, _FIND_WITH_RUN, WHERE)
        assert loaded is not None
        _, member, run = loaded
        run.status, member.locale = RunStatus.COMPLETED, "fr"
        await writeback.write_back(session, keep=True)
        assert inspect(run).persistent and not inspect(run).modified
        assert not session.orm.dirty
        # a query in the same transaction sees what was written
        counted = await session.core(
            select(func.count()).select_from(FlowRun).where(FlowRun.status == "completed"), {}
        )
        assert counted.first()[0] == 1
        member.display_name = "Zoé"  # changed after: still written at the end
        await writeback.write_back(session)
    async with db.reading() as session:
        stored = await session.get(Member, member_id)
        assert stored is not None and (stored.locale, stored.display_name) == ("fr", "Zoé")
        assert (await session.get(FlowRun, run.id)).status == RunStatus.COMPLETED  # type: ignore[union-attr]
