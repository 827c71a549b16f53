"""Segments compiled to SQL: every test, every combination and every exclusion reason, the
same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.campaigns import planning
from bot.campaigns.segments import Reach, segment_query
from flows.campaigns import Campaign
from flows.content import ContentTree, load_tree_or_raise
from storage.members import create_member
from storage.models import Consent, FlowRun, Kudos, Member, MentorProfile, Mentorship
from storage.privacy import forget_member
from storage.session import Database
from tests.conftest import CONTENT
from tests.features import ACTIONS

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def content() -> ContentTree:
    return load_tree_or_raise(CONTENT, actions=ACTIONS)


async def people(db: Database) -> dict[str, int]:
    """A small community with one of everything; names -> member ids."""
    ids: dict[str, int] = {}

    async def person(
        name: str,
        platform: str = "slack",
        *,
        locale: str = "en",
        timezone: str | None = "Europe/Paris",
        consent: bool = True,
        dm: bool = True,
        wrote: timedelta | None = timedelta(hours=1),
        **fields: Any,
    ) -> None:
        async with db.transaction() as session:
            identity, member = await create_member(
                session,
                platform=platform,
                workspace="",
                external_id=name,
                display_name=name.title(),
                conversation=f"dm-{name}" if dm else None,
                now=fields.pop("joined", NOW - timedelta(days=30)),
            )
            identity.last_inbound_at = NOW - wrote if wrote is not None else None
            member.locale, member.timezone = locale, timezone
            member.last_active_at = fields.pop("active", NOW - timedelta(days=1))
            for key, value in fields.items():
                setattr(member, key, value)
            if consent:
                session.add(Consent(member_id=member.id, purpose="announcements", granted=True))
            ids[name] = member.id or 0

    await person("ada", profile={"interests": ["docs", "code"]}, roles=["manager"])
    await person("bea", "telegram", locale="fr", timezone="Africa/Nairobi")
    await person("cy", "telegram", dm=False)  # seen in a group only: never wrote to the bot
    await person("dee", "whatsapp", locale="es", timezone="America/Lima", wrote=timedelta(days=3))
    await person("eve", "whatsapp", locale="es", timezone="America/Lima")
    await person("fay", "zulip", consent=False, profile={"interests": ["design"]})
    await person("gus", "zulip", opted_out=True)
    await person(
        "hal", timezone=None, joined=NOW - timedelta(days=400), active=NOW - timedelta(days=200)
    )
    async with db.transaction() as session:
        session.add(MentorProfile(member_id=ids["hal"], topics=["code"], languages=["en"]))
        session.add(Mentorship(newcomer_id=ids["bea"], mentor_id=ids["hal"]))
        flow = "onboarding"
        session.add(FlowRun(member_id=ids["ada"], flow_id=flow, status="completed"))
        stale = NOW - timedelta(days=10)
        session.add(
            FlowRun(member_id=ids["eve"], flow_id=flow, step_id="timezone", updated_at=stale)
        )
        recent = NOW - timedelta(hours=1)
        session.add(
            FlowRun(member_id=ids["dee"], flow_id=flow, step_id="interests", updated_at=recent)
        )
        for giver in ("ada", "bea", "cy"):
            session.add(
                Kudos(giver_id=ids[giver], receiver_id=ids["eve"], category="docs", reason="x")
            )
        old = Kudos(giver_id=ids["ada"], receiver_id=ids["fay"], category="docs", reason="x")
        old.created_at = NOW - timedelta(days=100)
        session.add(old)
    # A member with no platform account left (their identity was removed).
    async with db.transaction() as session:
        lonely = Member(display_name="Ivy", locale="en")
        session.add(lonely)
        await session.flush()
        session.add(Consent(member_id=lonely.id, purpose="announcements", granted=True))
        ids["ivy"] = lonely.id or 0
    return ids


def campaign(segment: dict[str, Any], **extra: Any) -> Campaign:
    return Campaign.model_validate(
        {"id": "test", "title": "Test", "segment": segment, "message": "Hi", **extra}
    )


REACH = Reach(no_first_message=("telegram",), reply_windows=(("whatsapp", 24.0),))


async def run(
    db: Database, content: ContentTree, segment: dict[str, Any], reach: Reach = REACH, **extra: Any
) -> dict[int, str | None]:
    """member id -> why they are left out (None: they are sent it)."""
    async with db.reading() as session:
        dialect = session.get_bind().dialect.name
        statement = segment_query(campaign(segment, **extra), content, NOW, dialect, reach)
        rows = (await session.execute(statement)).all()
    return {row.member_id: row.reason for row in rows}


async def test_every_reason_to_leave_a_member_out(db: Database, content: ContentTree) -> None:
    ids = await people(db)
    found = await run(db, content, {"not": {"platform": ["nowhere"]}})
    by_name = {name: found.get(member, "absent") for name, member in ids.items()}
    assert by_name == {
        "ada": None,
        "bea": None,
        "cy": "never_started",
        "dee": "reply_window",
        "eve": None,
        "fay": "no_consent",
        "gus": "opted_out",
        "hal": None,
        "ivy": "absent",  # no platform: `not platform` cannot hold (unknown), so not in it
    }
    everyone = await run(db, content, {"joined": {"after": "1000d"}})
    assert everyone[ids["ivy"]] == "no_account"
    # With a template, WhatsApp's closed window is no obstacle; a platform not enabled is.
    template = {"whatsapp_template": {"name": "call"}}
    reach = Reach(("telegram",), (("whatsapp", 24.0),), enabled=("slack", "telegram", "whatsapp"))
    found = await run(db, content, {"joined": {"after": "1000d"}}, reach, **template)
    assert found[ids["dee"]] is None
    assert found[ids["fay"]] == "no_consent"  # judged before the platform
    no_consent_zulip = await run(db, content, {"platform": "zulip"}, reach, **template)
    assert no_consent_zulip == {ids["fay"]: "no_consent", ids["gus"]: "opted_out"}


CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"platform": "telegram"}, {"bea", "cy"}),
    ({"platform": ["zulip", "whatsapp"]}, {"dee", "eve", "fay", "gus"}),
    ({"locale": "es"}, {"dee", "eve"}),
    ({"locale": ["fr", "es"]}, {"bea", "dee", "eve"}),
    ({"country": "KE"}, {"bea"}),
    ({"country": ["pe", "KE"]}, {"bea", "dee", "eve"}),
    ({"timezone": "America/Lima"}, {"dee", "eve"}),
    ({"utc_offset": {"from": 2, "to": 4}}, {"bea"}),
    ({"utc_offset": {"from": -6, "to": 1}}, {"ada", "cy", "dee", "eve", "fay", "gus"}),
    ({"role": "manager"}, {"ada"}),
    ({"role": "mentor"}, {"hal"}),
    ({"role": ["mentor", "manager"]}, {"ada", "hal"}),
    ({"interests": "docs"}, {"ada"}),
    ({"interests": ["design", "code"]}, {"ada", "fay"}),
    ({"joined": {"before": "2025-12-01"}}, {"hal"}),
    ({"joined": {"after": "100d"}}, {"ada", "bea", "cy", "dee", "eve", "fay", "gus", "ivy"}),
    ({"last_active": {"before": "90d"}}, {"hal"}),
    ({"onboarding": "completed"}, {"ada"}),
    ({"onboarding": "in_progress"}, {"dee", "eve"}),
    ({"stalled": {"for": "7d"}}, {"eve"}),
    ({"stalled": {"for": "7d", "at": "interests"}}, set()),
    ({"stalled": {"for": "7d", "at": "timezone"}}, {"eve"}),
    ({"mentorship": "active"}, {"bea", "hal"}),
    ({"kudos_received": {"at_least": 3}}, {"eve"}),
    ({"kudos_received": {"at_least": 1, "within": "30d"}}, {"eve"}),
    ({"kudos_received": {"at_least": 1}}, {"eve", "fay"}),
    ({"consent": "announcements"}, {"ada", "bea", "cy", "dee", "eve", "gus", "hal", "ivy"}),
    ({"all": [{"locale": "es"}, {"stalled": {"for": "7d"}}]}, {"eve"}),
    ({"any": [{"role": "manager"}, {"country": "KE"}]}, {"ada", "bea"}),
    ({"all": [{"platform": "whatsapp"}, {"not": {"onboarding": "completed"}}]}, {"dee", "eve"}),
]


async def test_each_test_selects_its_members(db: Database, content: ContentTree) -> None:
    ids = await people(db)
    by_id = {v: k for k, v in ids.items()}
    wrong = {}
    for segment, expected in CASES:
        found = {by_id[member] for member in await run(db, content, segment)}
        if found != expected:
            wrong[str(segment)] = (found, expected)
    assert wrong == {}


async def test_the_newcomer_role_is_neither_mentor_nor_manager(
    db: Database, content: ContentTree
) -> None:
    ids = await people(db)
    by_id = {v: k for k, v in ids.items()}
    found = {by_id[member] for member in await run(db, content, {"role": "newcomer"})}
    assert found == {"bea", "cy", "dee", "eve", "fay", "gus", "ivy"}


def test_what_each_platform_allows_comes_from_its_adapters_capabilities() -> None:
    found = planning.reach(["slack", "whatsapp"])
    assert found.reply_windows == (("whatsapp", 24.0),)  # WhatsApp's 24-hour window
    assert {"telegram", "whatsapp"} <= set(found.no_first_message)  # they must write first
    assert "slack" not in found.no_first_message
    assert found.enabled == ("slack", "whatsapp")


async def test_an_erased_member_who_comes_back_gets_no_campaign_until_they_agree_again(
    db: Database, content: ContentTree
) -> None:
    """Issue 20: erased, nobody is left to reach; back on their own, they start afresh, with
    no consent to announcements until they give it again."""
    ids = await people(db)
    async with db.transaction() as session:
        ada = await session.get(Member, ids["ada"])
        assert ada is not None
        await forget_member(session, ada, actor="member")
    found = await run(db, content, {"joined": {"after": "1000d"}})
    assert ids["ada"] not in found
    async with db.transaction() as session:
        _, back = await create_member(
            session, platform="slack", workspace="", external_id="ada", display_name="Ada"
        )
    found = await run(db, content, {"joined": {"after": "1000d"}})
    assert found[back.id or 0] == "no_consent"
