"""The dashboard's HTML: Jinja2 templates (autoescaped) around a page's cards and sections,
with its stylesheet inlined so that a page needs nothing but itself."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import cache
from importlib.resources import files
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from bot.health.dashboard.filter_form import FilterForm
from bot.health.dashboard.sections import Page, View
from bot.health.viewer import Viewer

_CODE = re.compile(r"`([^`]+)`")


def code_spans(text: str) -> Markup:
    """A sentence whose `backticked` parts are commands, shown as code; the rest escaped."""
    escaped = str(escape(text))
    return Markup(_CODE.sub(lambda match: f"<code>{match[1]}</code>", escaped))


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("bot.health.dashboard", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["code"] = code_spans
    return env


@cache
def stylesheet() -> Markup:
    css = files("bot.health.dashboard").joinpath("templates", "dashboard.css").read_text("utf-8")
    return Markup(css)


def render_page(
    view: View,
    page: Page,
    form: FilterForm,
    *,
    viewer: Viewer,
    current: str,
    links: dict[str, str],
    base: str,
    platforms: list[str],
    now: datetime,
    query: str,
) -> str:
    filters = view.filters
    previous = filters.previous
    formats = view.formats
    given = {name: value for name, value in form.given.items() if value}
    return (
        environment()
        .get_template("page.html")
        .render(
            t=view.t,
            view=view,
            page=page,
            form=form,
            viewer=viewer,
            current=current,
            links=links,
            base=base,
            css=stylesheet(),
            lang=formats.lang,
            dir="rtl" if formats.rtl else "ltr",
            platforms=platforms,
            locales=view.content.community.locales,
            community=view.content.community.name,
            period=view.t(
                "period_shown", start=formats.day(filters.start), end=_last(view, filters.end)
            ),
            previous=view.t(
                "previous_period", start=formats.day(previous.start), end=_last(view, previous.end)
            ),
            generated=view.t("generated_at", time=formats.moment(now), zone=formats.zone_name()),
            query=("?" + urlencode(given)) if given else "",
            csv_folder=links[current].rstrip("/") + ("/overview" if current == "overview" else ""),
            raw_query=query,
        )
    )


def _last(view: View, end: datetime) -> str:
    """The last day a period (`end` exclusive) covers."""
    return view.formats.day(end - timedelta(microseconds=1))
