"""The dashboard's routes: one page per part of community health, and each chart's figures
as CSV with the same filters.

Every request first asks who is signed in (`bot.health.access.signed_in`); nobody signed in
is sent to the sign-in page, with no figures in the answer. The routes carry their full paths
under `prefix` ("/dashboard" when listed in the app's routes as they are; "" inside a
`Mount("/dashboard", ...)`): links are made from the mount point the request came through.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.health.dashboard.filter_form import FilterForm, read_filters
from bot.health.dashboard.formats import Formats, babel_locale, zone
from bot.health.dashboard.pages import (
    at_risk,
    campaigns,
    mentorship,
    onboarding,
    overview,
    recognition,
    retention,
)
from bot.health.dashboard.rendering import render_page
from bot.health.dashboard.sections import Cell, Page, View
from bot.health.dashboard.source import Source, StorageSource
from bot.health.filters import installed_platforms
from bot.health.viewer import Viewer

if TYPE_CHECKING:
    from bot.runtime import Onramp

SignedIn = Callable[[Request, "Onramp"], Awaitable[Viewer | None]]
Build = Callable[[Any, View], Page]


@dataclass(frozen=True)
class PageKind:
    key: str  # the Source method and the texts' `page_<key>`
    slug: str  # its path below the dashboard ("" for the overview)
    build: Build


PAGES = (
    PageKind("overview", "", overview.build),
    PageKind("onboarding", "onboarding", onboarding.build),
    PageKind("mentorship", "mentorship", mentorship.build),
    PageKind("recognition", "recognition", recognition.build),
    PageKind("retention", "retention", retention.build),
    PageKind("campaigns", "campaigns", campaigns.build),
    PageKind("at_risk", "at-risk", at_risk.build),
)
# Nothing here may be kept by a browser or a proxy, and a page needs nothing from elsewhere:
# its styles and charts are inline, its form goes to itself.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
}


class Dashboard:
    def __init__(self, onramp: Onramp, signed_in: SignedIn, source: Source, prefix: str) -> None:
        self.onramp = onramp
        self.signed_in = signed_in
        self.source = source
        self.platforms = installed_platforms()  # read once: the installed packages stay put
        self.prefix = prefix

    def base(self, request: Request) -> str:
        return f"{request.scope.get('root_path', '')}{self.prefix}"

    async def _guard(self, request: Request) -> Viewer | Response:
        viewer = await self.signed_in(request, self.onramp)
        if viewer is not None:
            return viewer
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = f"{self.base(request)}/sign-in?next={quote(wanted, safe='')}"
        return RedirectResponse(target, status_code=303, headers=HEADERS)

    async def _figures(
        self, request: Request, kind: PageKind, viewer: Viewer
    ) -> tuple[View, FilterForm, Page]:
        content = self.onramp.content
        form = read_filters(
            request.query_params,
            self.onramp.clock(),
            retention=kind.key == "retention",
            platforms=self.platforms,
            locales=content.community.locales,
        )
        locale = viewer.locale or content.community.default_locale
        formats = Formats(
            babel_locale(locale, content.community.default_locale), zone(viewer.timezone)
        )
        view = View(content, locale, formats, form.filters)
        data = await getattr(self.source, kind.key)(form.filters)
        return view, form, kind.build(data, view)

    def page(self, kind: PageKind) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            viewer = await self._guard(request)
            if isinstance(viewer, Response):
                return viewer
            view, form, page = await self._figures(request, kind, viewer)
            html = render_page(
                view,
                page,
                form,
                viewer=viewer,
                current=kind.key,
                links={k.key: self.link(request, k) for k in PAGES},
                base=self.base(request),
                platforms=self.platforms,
                now=self.onramp.clock(),
                query=request.url.query,
            )
            return HTMLResponse(html, headers=HEADERS)

        return endpoint

    def csv(self, kind: PageKind) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            viewer = await self._guard(request)
            if isinstance(viewer, Response):
                return viewer
            _, _, page = await self._figures(request, kind, viewer)
            wanted = request.path_params["chart"]
            section = next((s for s in page.sections if s.key == wanted), None)
            if section is None:
                return PlainTextResponse("No such chart on this page.", 404, headers=HEADERS)
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(section.table.headers)
            for row in section.table.rows:
                writer.writerow([_spreadsheet_safe(_raw(cell)) for cell in row])
            name = f"{kind.slug or 'overview'}-{section.key}.csv"
            return Response(
                "\ufeff" + out.getvalue(),  # the BOM: spreadsheets then read UTF-8 as UTF-8
                media_type="text/csv; charset=utf-8",
                headers={**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
            )

        return endpoint

    def link(self, request: Request, kind: PageKind) -> str:
        return f"{self.base(request)}/{kind.slug}" if kind.slug else self.base(request) or "/"


def _raw(cell: Cell) -> object:
    """A CSV value: the plain figure; empty where there is none ("–" on the page)."""
    if cell.raw is not None:
        return cell.raw
    return "" if cell.number else cell.shown


def _spreadsheet_safe(value: object) -> object:
    """A text a spreadsheet would run as a formula (`=`, `+`, `-`, `@`) is kept as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def routes(
    onramp: Onramp,
    signed_in: SignedIn | None = None,
    source: Source | None = None,
    prefix: str = "/dashboard",
) -> list[BaseRoute]:
    """The dashboard's pages and CSV downloads. `signed_in` says who is looking (by default
    bot.health.access's sessions); `source` gives the figures (by default the database)."""
    if signed_in is None:
        from bot.health import access  # its own module: loaded only when the dashboard is

        signed_in = access.signed_in
    dashboard = Dashboard(onramp, signed_in, source or StorageSource(onramp), prefix)
    found: list[BaseRoute] = []
    for kind in PAGES:
        path = f"{prefix}/{kind.slug}" if kind.slug else prefix or "/"
        found.append(Route(path, dashboard.page(kind), methods=["GET", "HEAD"]))
        folder = f"{prefix}/{kind.slug or 'overview'}"
        found.append(Route(folder + "/{chart}.csv", dashboard.csv(kind), methods=["GET", "HEAD"]))
    return found
