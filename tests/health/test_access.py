"""Signing in to the dashboard: the one-time link, its confirmation page, the session cookie,
the role checked at every request, signing out, and every refusal a clear page with no data.

The web app is the real one (`bot.web.create_app`) on the test's clock, spoken to over ASGI;
on SQLite, and on PostgreSQL when ONRAMP_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col
from starlette.requests import Request

from bot.health.access import local_path
from bot.health.signing import LinkSigner, secret_key
from bot.health.viewer import COOKIE, Viewer, sign_out_token, signed_in
from bot.runtime import Onramp
from bot.settings import Settings
from bot.web import create_app
from storage.models import AuditLog, DashboardLink, DashboardSession, Member
from tests.clock import FakeClock

SECRET = "a test secret, never a real one"
SITE = "https://onramp.example.org"


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    settings.database.url = database_url
    settings.web.public_url = SITE
    return settings


@pytest.fixture
async def web(onramp: Onramp, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("ONRAMP_SECRET_KEY", SECRET)
    transport = httpx.ASGITransport(app=create_app(onramp))
    async with httpx.AsyncClient(transport=transport, base_url=SITE) as client:
        yield client


async def member(
    onramp: Onramp, clock: FakeClock, name: str, *, manager: bool = True, locale: str = "en"
) -> int:
    async with onramp.db.transaction() as session:
        row = Member(
            display_name=name,
            locale=locale,
            roles=["manager"] if manager else [],
            created_at=clock.now,
            last_active_at=clock.now,
        )
        session.add(row)
        await session.flush()
        assert row.id is not None
        return row.id


async def link_for(onramp: Onramp, clock: FakeClock, member_id: int) -> str:
    """A link as /dashboard would send it (signed with the same secret, on the same clock)."""
    async with onramp.db.transaction() as session:
        token, _ = await LinkSigner(SECRET, clock, 15).new_link(session, member_id, clock.now)
    return token


async def confirm(client: httpx.AsyncClient, token: str, next_page: str = "") -> str:
    """Open the link as a browser (or a chat's link preview) does: the hidden proof field."""
    page = await client.get(f"/dashboard/sign-in/{token}", params={"next": next_page})
    assert page.status_code == 200
    found = re.search(r'name="proof" value="([0-9a-f]+)"', page.text)
    assert found is not None, page.text
    return found[1]


async def press(
    client: httpx.AsyncClient, token: str, proof: str, next_page: str = ""
) -> httpx.Response:
    return await client.post(
        f"/dashboard/sign-in/{token}", data={"proof": proof, "next": next_page}
    )


async def sign_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await press(client, token, await confirm(client, token))


async def rows(onramp: Onramp, table: type, *where: object) -> list:
    async with onramp.db.reading() as session:
        return list((await session.execute(select(table).where(*where))).scalars())


async def audits(onramp: Onramp, action: str) -> list[AuditLog]:
    return await rows(onramp, AuditLog, col(AuditLog.action) == action)


def request_with(cookie: str | None) -> Request:
    headers = [(b"cookie", f"{COOKIE}={cookie}".encode())] if cookie else []
    return Request({"type": "http", "method": "GET", "path": "/dashboard", "headers": headers})


async def test_the_link_opens_a_page_with_a_button_and_only_the_button_signs_in(
    onramp: Onramp, web: httpx.AsyncClient, clock: FakeClock
) -> None:
    ada = await member(onramp, clock, "Ada")
    token = await link_for(onramp, clock, ada)

    for _ in range(2):  # a chat's preview, then the manager: neither uses the link
        page = await web.get(f"/dashboard/sign-in/{token}")
        assert page.status_code == 200
        assert '<form method="post"' in page.text and "<button" in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "no-store"
    assert [link.used_at for link in await rows(onramp, DashboardLink)] == [None]
    assert await rows(onramp, DashboardSession) == []

    answer = await sign_in(web, token)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for flag in ("HttpOnly", "Path=/dashboard", "SameSite=lax", "Secure", "Max-Age=43200"):
        assert flag in cookie, cookie
    value = web.cookies[COOKIE]
    [stored] = await rows(onramp, DashboardSession)
    assert stored.member_id == ada
    assert stored.token_hash == hashlib.sha256(value.encode()).hexdigest() != value
    [used] = await rows(onramp, DashboardLink)
    assert used.used_at == clock.now

    viewer = await signed_in(request_with(value), onramp)
    assert viewer == Viewer(ada, "Ada", "en", None, sign_out_token(value))
    [audit] = await audits(onramp, "dashboard.signed_in")
    assert (audit.member_id, audit.actor) == (ada, f"member:{ada}")
    assert token not in str(audit.detail) and value not in str(audit.detail)


async def test_next_takes_the_manager_back_to_a_dashboard_page_and_nowhere_else(
    onramp: Onramp, web: httpx.AsyncClient, clock: FakeClock
) -> None:
    ada = await member(onramp, clock, "Ada")
    token = await link_for(onramp, clock, ada)
    proof = await confirm(web, token, "/dashboard/mentorship?since=90d")
    answer = await press(web, token, proof, "/dashboard/mentorship?since=90d")
    assert answer.headers["location"] == "/dashboard/mentorship?since=90d"

    for elsewhere in ("https://evil.example/dashboard", "//evil.example/dashboard", "/admin"):
        assert local_path(elsewhere) is None
    assert local_path("/\\evil.example") is None
    assert local_path("/dashboard") == "/dashboard"
    assert local_path("/dashboards") is None


async def test_a_link_works_once(onramp: Onramp, web: httpx.AsyncClient, clock: FakeClock) -> None:
    ada = await member(onramp, clock, "Ada")
    token = await link_for(onramp, clock, ada)
    assert (await sign_in(web, token)).status_code == 303
    web.cookies.clear()

    again = await sign_in(web, token)
    assert again.status_code == 410
    assert "already used" in again.text
    assert COOKIE not in again.headers.get("set-cookie", "")
    assert len(await rows(onramp, DashboardSession)) == 1
    [refused] = await audits(onramp, "dashboard.sign_in_refused")
    assert (refused.member_id, refused.detail) == (ada, {"reason": "used"})


async def test_an_expired_link_is_refused(
    onramp: Onramp, web: httpx.AsyncClient, clock: FakeClock
) -> None:
    ada = await member(onramp, clock, "Ada", locale="fr")
    token = await link_for(onramp, clock, ada)
    proof = await confirm(web, token)
    clock.advance(minutes=15, seconds=1)

    late = await press(web, token, proof)
    assert late.status_code == 410
    assert 'lang="fr"' in late.text and "expiré" in late.text  # in the manager's language
    assert "Ada" not in late.text
    assert await rows(onramp, DashboardSession) == []
    [refused] = await audits(onramp, "dashboard.sign_in_refused")
    assert (refused.member_id, refused.detail) == (ada, {"reason": "expired"})


@pytest.mark.parametrize("damage", ["tampered", "unsigned", "truncated", "huge"])
async def test_a_link_not_signed_by_this_bot_is_refused(
    onramp: Onramp, web: httpx.AsyncClient, clock: FakeClock, damage: str
) -> None:
    ada = await member(onramp, clock, "Ada")
    token = await link_for(onramp, clock, ada)
    payload, stamp, signature = token.split(".")
    bad = {
        "tampered": f"{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}"
        f".{stamp}.{signature}",
        "unsigned": payload,
        "truncated": token[:-5],
        "huge": token * 20,
    }[damage]
    answer = await sign_in(web, bad)
    assert answer.status_code == 400
    assert "not valid" in answer.text and 'lang="en"' in answer.text
    assert await rows(onramp, DashboardSession) == []
    [refused] = await audits(onramp, "dashboard.sign_in_refused")
    assert refused.detail["reason"] in {"invalid", "forged_form"}
    assert refused.actor == "web" and refused.member_id is None


async def test_a_form_posted_from_elsewhere_is_refused(
    onramp: Onramp, web: httpx.AsyncClient, clock: FakeClock
) -> None:
    ada = await member(onramp, clock, "Ada")
    token = await link_for(onramp, clock, ada)
    without_proof = await press(web, token, "0" * 64)
    assert without_proof.status_code == 400
    proof = await confirm(web, token)
    from_elsewhere = await web.post(
        f"/dashboard/sign-in/{token}",
        data={"proof": proof},
        headers={"origin": "https://evil.example"},
    )
    assert from_elsewhere.status_code == 400
    assert await rows(onramp, DashboardSession) == []
    assert (await sign_in(web, token)).status_code == 303  # the link itself was not spent


async def test_a_member_who_is_not_a_manager_is_refused(
    onramp: Onramp, web: httpx.AsyncClient, clock: FakeClock
) -> None:
    bob = await member(onramp, clock, "Bob", manager=False, locale="ar")
    token = await link_for(onramp, clock, bob)
    answer = await sign_in(web, token)
    assert answer.status_code == 403
    assert 'dir="rtl"' in answer.text and 'lang="ar"' in answer.text
    assert await rows(onramp, DashboardSession) == []
    [refused] = await audits(onramp, "dashboard.sign_in_refused")
    assert (refused.member_id, refused.detail) == (bob, {"reason": "not_a_manager"})


async def test_losing_the_role_loses_access_at_the_next_request(
    onramp: Onramp, web: httpx.AsyncClient, clock: FakeClock
) -> None:
    ada = await member(onramp, clock, "Ada")
    await sign_in(web, await link_for(onramp, clock, ada))
    value = web.cookies[COOKIE]
    assert await signed_in(request_with(value), onramp) is not None

    async with onramp.db.transaction() as session:
        found = await session.get(Member, ada)
        assert found is not None
        found.roles = ["mentor"]
    page = await web.get("/dashboard")  # the dashboard's own pages ask `signed_in`
    assert page.status_code == 303
    assert page.headers["location"].startswith("/dashboard/sign-in")
    assert await signed_in(request_with(value), onramp) is None
    assert await rows(onramp, DashboardSession) == []  # the session ended with the role
    [ended] = await audits(onramp, "dashboard.session_ended")
    assert (ended.member_id, ended.detail) == (ada, {"reason": "not_a_manager"})


async def test_a_session_lasts_its_hours_and_is_seen_once_a_minute(
    onramp: Onramp, web: httpx.AsyncClient, clock: FakeClock
) -> None:
    ada = await member(onramp, clock, "Ada")
    await sign_in(web, await link_for(onramp, clock, ada))
    value = web.cookies[COOKIE]
    signed_at = clock.now

    clock.advance(seconds=30)
    assert await signed_in(request_with(value), onramp) is not None
    [row] = await rows(onramp, DashboardSession)
    assert row.last_seen_at == signed_at
    clock.advance(seconds=31)
    assert await signed_in(request_with(value), onramp) is not None
    [row] = await rows(onramp, DashboardSession)
    assert row.last_seen_at == clock.now

    clock.now = signed_at + onramp_hours(onramp)
    assert await signed_in(request_with(value), onramp) is None
    assert await signed_in(request_with("made-up"), onramp) is None
    assert await signed_in(request_with(None), onramp) is None


def onramp_hours(onramp: Onramp) -> object:
    from datetime import timedelta

    return timedelta(hours=onramp.settings.dashboard.session_hours)


async def test_signing_out_ends_the_session_only_from_a_page_of_that_session(
    onramp: Onramp, web: httpx.AsyncClient, clock: FakeClock
) -> None:
    ada = await member(onramp, clock, "Ada")
    await sign_in(web, await link_for(onramp, clock, ada))
    value = web.cookies[COOKIE]

    forged = await web.post("/dashboard/sign-out", data={"proof": "0" * 64})
    assert forged.status_code == 303
    assert len(await rows(onramp, DashboardSession)) == 1

    out = await web.post("/dashboard/sign-out", data={"proof": sign_out_token(value)})
    assert out.status_code == 200
    assert "signed out" in out.text.casefold()
    assert "Max-Age=0" in out.headers["set-cookie"] or "expires=" in out.headers["set-cookie"]
    assert await rows(onramp, DashboardSession) == []
    assert await signed_in(request_with(value), onramp) is None
    [audit] = await audits(onramp, "dashboard.signed_out")
    assert audit.member_id == ada


async def test_the_sign_in_page_says_how_to_get_a_link_and_shows_nothing_else(
    onramp: Onramp, web: httpx.AsyncClient, clock: FakeClock
) -> None:
    await member(onramp, clock, "Ada")
    page = await web.get("/dashboard/sign-in")
    assert page.status_code == 200
    assert "/dashboard" in page.text and "Ada" not in page.text
    assert "<form" not in page.text


async def test_expired_links_and_sessions_are_pruned(
    onramp: Onramp, web: httpx.AsyncClient, clock: FakeClock
) -> None:
    from storage.housekeeping import prune_dashboard_access

    ada = await member(onramp, clock, "Ada")
    await sign_in(web, await link_for(onramp, clock, ada))
    await link_for(onramp, clock, ada)
    clock.advance(minutes=16)
    async with onramp.db.transaction() as session:
        assert await prune_dashboard_access(session, now=clock.now) == (2, 0)
    clock.advance(hours=12)
    async with onramp.db.transaction() as session:
        assert await prune_dashboard_access(session, now=clock.now) == (0, 1)


def test_without_the_variable_a_secret_is_made_once_and_kept_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("ONRAMP_SECRET_KEY", raising=False)
    kept = tmp_path / "data" / "secret_key"
    with caplog.at_level(logging.WARNING, logger="onramp.dashboard"):
        first = secret_key(kept)
    assert len(first) >= 40
    assert kept.stat().st_mode & 0o777 == 0o600
    assert "ONRAMP_SECRET_KEY" in caplog.text
    assert secret_key(kept) == first
    assert list(kept.parent.iterdir()) == [kept]  # nothing left aside
    monkeypatch.setenv("ONRAMP_SECRET_KEY", "from the environment")
    assert secret_key(kept) == "from the environment"


async def test_forgetting_a_manager_takes_their_links_and_sessions_with_them(
    onramp: Onramp, web: httpx.AsyncClient, clock: FakeClock
) -> None:
    from storage.privacy import forget_member

    ada = await member(onramp, clock, "Ada")
    await sign_in(web, await link_for(onramp, clock, ada))
    await link_for(onramp, clock, ada)
    value = web.cookies[COOKIE]
    async with onramp.db.transaction() as session:
        found = await session.get(Member, ada)
        assert found is not None
        await forget_member(session, found, actor="cli")
    assert await rows(onramp, DashboardLink) == []
    assert await rows(onramp, DashboardSession) == []
    assert await signed_in(request_with(value), onramp) is None
