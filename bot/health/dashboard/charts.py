"""The dashboard's charts: SVG drawn on the server by pygal, inlined in the page.

No JavaScript reaches the browser: pygal's tooltips need it, so values are printed on the
bars instead, and the configuration script pygal always writes into the SVG is taken out.
Every chart shares one style (one accent colour and its tints, the page's system fonts) and
formats its numbers with the reader's `Formats`.

pygal (and the XML modules it brings, 2.7 MB) is imported when the first chart is drawn:
every process that serves the web app mounts the dashboard, and only managers open it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from markupsafe import Markup

Graph = Any  # pygal's chart classes (pygal has no type hints)

ACCENT = "#0f766e"
# The accent first, then hues far apart from it and from each other (kinds of contribution on a
# stacked bar: twelve, so pygal never has to invent darker copies, which came out black).
SERIES = (
    "#0f766e",
    "#f59e0b",
    "#6366f1",
    "#ec4899",
    "#22c55e",
    "#0ea5e9",
    "#a855f7",
    "#f97316",
    "#64748b",
    "#84cc16",
    "#e11d48",
    "#5eead4",
)
PREVIOUS = "#94a3b8"  # the previous period, beside the accent
FONTS = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'Noto Sans Arabic', sans-serif"


@cache
def _pygal() -> Any:
    import pygal  # type: ignore[import-untyped]  # pygal has no type hints

    # pygal adds an import hook for its map plugins (`pygal.maps.*`, not used here) that only
    # has the finder API Python 3.12 drops: every import after it warns (an error under the
    # tests' `filterwarnings = error`). Without the maps it does nothing, so it goes.
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, pygal.PluginImportFixer)]
    return pygal


@cache
def _style(previous: bool = False) -> Any:
    """Every chart's style; with `previous`, two series: this period and the one before."""
    from pygal.style import Style  # type: ignore[import-untyped]  # pygal has no type hints

    _pygal()
    style = Style(
        background="transparent",
        plot_background="transparent",
        foreground="#334155",
        foreground_strong="#0f172a",
        foreground_subtle="#e2e8f0",
        opacity="1",
        opacity_hover="1",
        transition="0s",
        colors=SERIES,
        # Values printed on the bars: white on the accent, dark on the previous period's grey.
        value_colors=("#ffffff", "#0f172a"),
        font_family=FONTS,
        label_font_family=FONTS,
        major_label_font_family=FONTS,
        value_font_family=FONTS,
        value_label_font_family=FONTS,
        title_font_family=FONTS,
        legend_font_family=FONTS,
        label_font_size=13,
        major_label_font_size=13,
        value_font_size=13,
        value_label_font_size=13,
        legend_font_size=13,
        title_font_size=16,
        tooltip_font_size=13,
    )
    return Style(**{**style.to_dict(), "colors": (ACCENT, PREVIOUS)}) if previous else style


Number = Callable[[float], str]
Series = Sequence[tuple[str, Sequence[float | None]]]


def _config(title: str, number: Number, no_data: str, **more: Any) -> dict[str, Any]:
    return {
        "title": None,  # the section's heading says it; the SVG's <title> still names it
        "js": [],
        "disable_xml_declaration": True,
        "explicit_size": False,  # the viewBox only: the chart takes its column's width
        "width": 800,
        "height": 360,
        "style": _style(),
        "value_formatter": lambda value: "" if value is None else number(value),
        "no_data_text": no_data,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 4,
        "truncate_legend": -1,
        "truncate_label": -1,
        "margin": 8,
        # pygal reserves too little room under the plot for a legend in 13-point text: its
        # last row was cut off.
        "margin_bottom": 28,
        "spacing": 14,
        "print_values": True,
        "print_zeroes": False,
        "show_y_guides": True,
        "show_x_guides": False,
        "min_scale": 1,
        "max_scale": 5,
        "y_labels_major_every": None,
        "tooltip_border_radius": 0,
        "_title": title,
        **more,
    }


def _svg(chart: Graph, title: str) -> Markup:
    """The chart as inline SVG: no script, no generator comments, titled for screen readers."""
    root = chart.render_tree()
    for parent in root.iter():
        for child in list(parent):
            if child.tag in ("script", "{http://www.w3.org/2000/svg}script") or not isinstance(
                child.tag, str
            ):
                parent.remove(child)
            elif child.tag in ("title", "{http://www.w3.org/2000/svg}title"):
                child.text = title
    root.set("role", "img")
    root.set("aria-label", title)
    from pygal.etree import etree  # type: ignore[import-untyped]  # pygal has no type hints

    return Markup(etree.tostring(root, encoding="unicode"))


def _build(kind: type[Graph], config: dict[str, Any]) -> Graph:
    config.pop("_title")
    return kind(**config)


def bars(title: str, labels: Sequence[str], series: Series, number: Number, no_data: str) -> Markup:
    """Vertical bars: a few figures side by side, or one figure per month."""
    style = _style(previous=len(series) == 2)
    config = _config(title, number, no_data, style=style, show_legend=len(series) > 1)
    config["x_label_rotation"] = 30 if len(labels) > 6 else 0
    chart = _build(_pygal().Bar, config)
    chart.x_labels = list(labels)
    for name, values in series:
        chart.add(name, list(values))
    return _svg(chart, title)


def line(title: str, labels: Sequence[str], series: Series, number: Number, no_data: str) -> Markup:
    """A time series: one value per month, joined."""
    config = _config(title, number, no_data, show_legend=len(series) > 1, dots_size=4)
    config["x_label_rotation"] = 30 if len(labels) > 6 else 0
    config["fill"] = False
    config["include_x_axis"] = True  # counts start at zero: 16 → 20 is not a fivefold rise
    config["margin_right"] = 40  # room for the last month's label
    chart = _build(_pygal().Line, config)
    chart.x_labels = list(labels)
    for name, values in series:
        chart.add(name, list(values))
    return _svg(chart, title)


def funnel(
    title: str, steps: Sequence[str], values: Sequence[float], number: Number, no_data: str
) -> Markup:
    """Horizontal bars, the first step on top: how many reached each step."""
    config = _config(title, number, no_data, show_legend=False, height=60 + 44 * len(steps))
    chart = _build(_pygal().HorizontalBar, config)
    # pygal draws a horizontal bar chart's first label at the bottom.
    chart.x_labels = list(reversed(steps))
    chart.add(title, list(reversed(values)) if any(values) else [])
    return _svg(chart, title)


def stacked(
    title: str, labels: Sequence[str], series: Series, number: Number, no_data: str
) -> Markup:
    """Stacked bars: per month, each kind's share of the total."""
    config = _config(title, number, no_data, show_legend=True, print_values=False)
    config["x_label_rotation"] = 30 if len(labels) > 6 else 0
    chart = _build(_pygal().StackedBar, config)
    chart.x_labels = list(labels)
    for name, values in series:
        chart.add(name, list(values))
    return _svg(chart, title)
