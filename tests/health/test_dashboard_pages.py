"""The dashboard's pages over HTTP: each renders for a signed-in manager on an empty and a
small community, in English and in Arabic (right to left), with filters and with nonsense
filters; CSVs parse; nobody signed in gets a redirect and no figures; names only at risk."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request

from bot.features import build_registry
from bot.health.dashboard import routes
from bot.health.dashboard.source import Source
from bot.health.viewer import Viewer
from flows.content import ContentTree, load_tree_or_raise
from tests.clock import FakeClock
from tests.health.dashboard_data import NAME, EmptySource, SmallSource

ROOT = Path(__file__).resolve().parents[2]
PAGES = ("", "/onboarding", "/mentorship", "/recognition", "/retention", "/campaigns", "/at-risk")
CHARTS = {
    "overview": ["figures"],
    "onboarding": ["funnel", "dropoff", "first_message"],
    "mentorship": ["requests", "wait", "offers", "load", "absence", "checkins"],
    "recognition": ["kudos", "people", "badges", "new_contributors"],
    "retention": ["cohorts", "inactive"],
    "campaigns": ["reach", "exclusions", "delivery", "survey"],
    "at-risk": ["stalled", "waiting", "silent"],
}
MANAGER = Viewer(1, "Amina Manager", "en", "Africa/Nairobi")


@pytest.fixture(scope="module")
def content() -> ContentTree:
    return load_tree_or_raise(ROOT / "content", actions=build_registry().actions)


def client(
    content: ContentTree, source: Source, viewer: Viewer | None = MANAGER
) -> httpx.AsyncClient:
    async def signed_in(request: Request, onramp: Any) -> Viewer | None:
        return viewer

    onramp: Any = SimpleNamespace(
        content=content, clock=FakeClock(), adapters={"slack": None, "telegram": None}, db=None
    )
    app = Starlette(routes=routes(onramp, signed_in=signed_in, source=source))
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://dashboard.test")


@pytest.mark.parametrize("source", [EmptySource(), SmallSource()], ids=["empty", "small"])
@pytest.mark.parametrize("path", PAGES)
async def test_every_page_renders_in_english(
    content: ContentTree, source: Source, path: str
) -> None:
    response = await client(content, source).get(f"/dashboard{path}")
    assert response.status_code == 200
    html = response.text
    assert '<html lang="en" dir="ltr">' in html
    assert "Download CSV" in html and "<script" not in html
    assert ("<svg" in html) == (path not in ("/at-risk",))
    assert response.headers["cache-control"] == "no-store"
    assert (NAME in html) == (path == "/at-risk" and isinstance(source, SmallSource))
    # A list cut short says so: one stalled newcomer shown of twelve.
    assert ("The first 1 of 12." in html) == (
        path == "/at-risk" and isinstance(source, SmallSource)
    )
    assert "Amina Manager" in html  # who is signed in, in the header


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_renders_right_to_left_in_arabic(content: ContentTree, path: str) -> None:
    arabic = Viewer(1, "أمينة", "ar", "Asia/Riyadh")
    response = await client(content, SmallSource(), arabic).get(f"/dashboard{path}")
    assert response.status_code == 200
    assert '<html lang="ar" dir="rtl">' in response.text
    assert "تنزيل CSV" in response.text  # Download CSV


async def test_the_overview_shows_trends_against_the_previous_period(content: ContentTree) -> None:
    html = (await client(content, SmallSource()).get("/dashboard")).text
    assert "▲ 25%" in html  # new members: 40 against 32
    assert "▼ 25%" in html  # matched: 9 against 12
    assert "previous period: 32" in html


async def test_mentorship_warns_when_two_mentors_carry_half(content: ContentTree) -> None:
    html = (await client(content, SmallSource()).get("/dashboard/mentorship")).text
    assert "The Mentor Absence Factor is 2" in html
    assert "CHAOSS Time to First Response" in html
    empty = (await client(content, EmptySource()).get("/dashboard/mentorship")).text
    assert "The Mentor Absence Factor is" not in empty


async def test_filters_reach_the_figures_and_stay_in_the_form(content: ContentTree) -> None:
    source = SmallSource()
    query = "since=2026-01-01&until=2026-02-28&platform=slack&locale=fr"
    response = await client(content, source).get(f"/dashboard?{query}")
    assert response.status_code == 200
    filters = source.seen[-1]
    assert (filters.start.date().isoformat(), filters.end.date().isoformat()) == (
        "2026-01-01",
        "2026-03-01",
    )
    assert (filters.platform, filters.locale) == ("slack", "fr")
    assert 'value="2026-01-01"' in response.text
    assert '<option value="slack" selected>' in response.text
    assert f'href="/dashboard/onboarding?{query}"' in response.text.replace("&amp;", "&")


@pytest.mark.parametrize("path", PAGES)
async def test_nonsense_filters_still_render_with_a_message(
    content: ContentTree, path: str
) -> None:
    source = SmallSource()
    query = "since=banana&until=2026-13-45&platform=myspace&locale=xx&inactive_period=-3"
    response = await client(content, source).get(f"/dashboard{path}?{query}")
    assert response.status_code == 200
    html = response.text
    assert "Some filters could not be used" in html
    assert "banana" in html and "myspace" in html


async def test_retention_takes_the_inactivity_period_and_interval(content: ContentTree) -> None:
    response = await client(content, SmallSource()).get(
        "/dashboard/retention?inactive_period=120d&inactive_interval=30d"
    )
    assert "members active in the 120 days before the period" in response.text
    assert "but not in its last 30 days" in response.text
    wrong = await client(content, SmallSource()).get(
        "/dashboard/retention?inactive_period=30d&inactive_interval=120d"
    )
    assert wrong.status_code == 200 and "must be shorter" in wrong.text


@pytest.mark.parametrize("page", sorted(CHARTS))
async def test_every_chart_downloads_as_csv(content: ContentTree, page: str) -> None:
    web = client(content, SmallSource())
    for chart in CHARTS[page]:
        response = await web.get(f"/dashboard/{page}/{chart}.csv?since=90d&platform=slack")
        assert response.status_code == 200, (page, chart)
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert rows and all(len(row) == len(rows[0]) for row in rows), (page, chart)
        assert (NAME in response.text) == (page == "at-risk" and chart == "stalled")
    assert (await web.get(f"/dashboard/{page}/nothing.csv")).status_code == 404


async def test_csv_figures_are_plain_numbers(content: ContentTree) -> None:
    response = await client(content, SmallSource()).get("/dashboard/onboarding/funnel.csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["Step", "Members", "Share of the step before"]
    assert rows[1] == ["joined", "40", ""]
    assert rows[2] == ["consented", "36", "0.9"]


@pytest.mark.parametrize("path", [*PAGES, "/onboarding/funnel.csv", "/at-risk/stalled.csv"])
async def test_nobody_signed_in_is_sent_to_sign_in_with_no_figures(
    content: ContentTree, path: str
) -> None:
    response = await client(content, SmallSource(), viewer=None).get(f"/dashboard{path}?since=30d")
    assert response.status_code == 303
    target = f"/dashboard/sign-in?next=%2Fdashboard{path.replace('/', '%2F')}%3Fsince%3D30d"
    assert response.headers["location"] == target
    assert NAME not in response.text and "40" not in response.text and "<svg" not in response.text
