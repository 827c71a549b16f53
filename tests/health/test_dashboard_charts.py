"""The dashboard's charts: SVG with no script, the reader's number format, a no-data text,
and the funnel's first step on top."""

from __future__ import annotations

from babel.numbers import format_decimal

from bot.health.dashboard import charts


def fr(value: float) -> str:
    return format_decimal(value, locale="fr")


def test_a_chart_is_inline_svg_without_script() -> None:
    svg = charts.bars("Kudos <par mois>", ["janv.", "févr."], [("code", [1200, 3])], fr, "Rien")
    assert svg.startswith("<svg") and "<?xml" not in svg
    assert "<script" not in svg and "window.pygal" not in svg and "<!--" not in svg
    assert 'aria-label="Kudos &lt;par mois&gt;"' in svg
    assert "1\u202f200" in svg  # printed the French way


def test_an_empty_chart_says_so() -> None:
    svg = charts.line("Demandes", [], [], fr, "Aucune donnée pour cette période.")
    assert "Aucune donnée pour cette période." in svg


def test_the_funnel_puts_the_first_step_on_top() -> None:
    svg = charts.funnel("Funnel", ["Joined", "Matched"], [10, 4], str, "No data")
    assert svg.index("Matched") < svg.index("Joined")  # drawn bottom-up: first step last


def test_stacked_bars_show_each_kind() -> None:
    svg = charts.stacked(
        "Kudos", ["Jan", "Feb"], [("code", [1, 2]), ("translation", [3, 0])], str, "No data"
    )
    assert "code" in svg and "translation" in svg and "<script" not in svg
