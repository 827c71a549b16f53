"""The dashboard in a real browser: Debian's Chromium driven by Playwright signs in through
the link `onramp dashboard` prints, opens every page, changes the filters, and finds charts and
tables and no errors in the page's console; a screenshot of each page (desktop, phone, and
Arabic, right to left) is kept under test-artifacts/dashboard/ for people to look at.

The community is bench/metrics.py's, small: members over a year on four platforms in six
languages, onboarding, mentorships, kudos, campaigns and a survey.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bench.metrics_seed import NOW, Community
from storage.migrate import upgrade
from storage.session import Database
from tests.clock import FakeClock
from tests.conftest import ROOT
from tests.health.test_dashboard_cli import Start, free_port, printed_link, served  # noqa: F401

ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PAGES = {
    "overview": "/dashboard",
    "onboarding": "/dashboard/onboarding",
    "mentorship": "/dashboard/mentorship",
    "recognition": "/dashboard/recognition",
    "retention": "/dashboard/retention",
    "campaigns": "/dashboard/campaigns",
    "at-risk": "/dashboard/at-risk",
}

if CHROMIUM is None:
    if os.environ.get("ONRAMP_TEST_REQUIRE_BROWSER"):
        raise RuntimeError("the browser test needs Debian's chromium package (.ci/run installs it)")
    pytestmark = pytest.mark.skip(reason="Chromium is not installed (apt-get install chromium)")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ONRAMP_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'onramp.db'}",
        "ONRAMP_LOGGING__FILE": str(tmp_path / "onramp.log"),
        "ONRAMP_SECRET_KEY": "a test secret",
    }


async def seeded(tmp_path: Path) -> None:
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'onramp.db'}")
    try:
        await upgrade(db.engine)
        await Community(db, members=600, kudos=6000, platforms=4).seed()
    finally:
        await db.dispose()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            await launched.close()


async def test_a_manager_signs_in_and_reads_every_page(
    tmp_path: Path,
    served: Start,  # noqa: F811 (the fixture, imported)
    browser: Any,
) -> None:
    await seeded(tmp_path)
    port = free_port()
    process = served("--as", "1", "--port", str(port))
    _, path, _ = printed_link(process)
    base = f"http://127.0.0.1:{port}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # Unsigned: the sign-in page, with no figures on it.
    await page.goto(f"{base}/dashboard")
    assert "/dashboard/sign-in" in page.url
    assert await page.locator("svg").count() == 0

    # The link shows a confirmation; only its button signs in.
    await page.goto(base + path)
    assert await page.locator("form button").count() == 1
    await page.screenshot(path=str(ARTIFACTS / "sign-in-confirm.png"))
    async with page.expect_navigation(timeout=120_000):
        await page.locator("form button").click()
    assert page.url == f"{base}/dashboard", (page.url, await page.content())

    for name, url in PAGES.items():
        response = await page.goto(base + url)
        assert response is not None and response.status == 200, name
        assert await page.locator("h1").count() >= 1, name
        assert await page.locator("table").count() >= 1, name
        if name != "at-risk":
            assert await page.locator("svg").count() >= 1, name
            assert await page.locator("a[href$='.csv'], a[href*='.csv?']").count() >= 1, name
        assert await page.locator("script").count() == 0, name  # pages need no JavaScript
        await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    # Filters changed through the form: a year, one platform, one language.
    await page.goto(f"{base}/dashboard/recognition")
    await page.fill("#since", "365d")
    await page.select_option("#platform", "telegram")
    await page.select_option("#locale", "fr")
    await page.locator("form.filters [type=submit]").click()
    await page.wait_for_load_state()
    assert "since=365d" in page.url and "platform=telegram" in page.url and "locale=fr" in page.url
    assert await page.locator("svg").count() >= 1
    await page.screenshot(path=str(ARTIFACTS / "recognition-filtered.png"), full_page=True)

    # A nonsense filter: the page still answers, and says what was wrong.
    response = await page.goto(f"{base}/dashboard/onboarding?since=soon&locale=xx")
    assert response is not None and response.status == 200
    assert "soon" in await page.content()

    # A CSV download.
    csv = await page.request.get(f"{base}/dashboard/recognition/kudos.csv?since=365d")
    assert csv.status == 200 and "text/csv" in csv.headers["content-type"]

    # On a phone, and in Arabic (right to left).
    phone = await browser.new_context(
        viewport={"width": 390, "height": 844}, storage_state=await context.storage_state()
    )
    small = await phone.new_page()
    small.on("pageerror", lambda exc: errors.append(str(exc)))
    for name in ("overview", "onboarding", "retention"):
        await small.goto(base + PAGES[name])
        width = await small.evaluate("document.documentElement.scrollWidth")
        assert width <= 400, f"{name} is {width}px wide on a phone"
        await small.screenshot(path=str(ARTIFACTS / f"phone-{name}.png"), full_page=True)
    # The manager's language is read on every request: in Arabic, the page turns right to left.
    with sqlite3.connect(tmp_path / "onramp.db") as database:
        database.execute("UPDATE member SET locale = 'ar' WHERE id = 1")
    await small.goto(f"{base}/dashboard/mentorship")
    assert await small.get_attribute("html", "dir") == "rtl"
    assert await small.get_attribute("html", "lang") == "ar"
    await small.screenshot(path=str(ARTIFACTS / "phone-mentorship-ar.png"), full_page=True)
    await page.goto(f"{base}/dashboard")
    await page.screenshot(path=str(ARTIFACTS / "overview-ar.png"), full_page=True)

    assert errors == []
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=20)
