"""Recognition: kudos per kind of contribution per month, givers and receivers, badges, and
CHAOSS New Contributors (first kudos received) per month."""

from __future__ import annotations

from bot.health.dashboard import charts
from bot.health.dashboard.sections import Cell, Page, Section, Table, View
from flows.schema import Text
from flows.text import pick
from storage.health.types import Recognition


def _name(view: View, names: dict[str, Text], key: str) -> str:
    """A category's or badge's name in the reader's language, from recognition.yaml and
    badges.yaml; its id when the content no longer has it."""
    text = names.get(key)
    if not text:
        return key
    _, translation = pick(text, view.locale, view.content.community.default_locale)
    return translation if isinstance(translation, str) else key


def build(data: Recognition, view: View) -> Page:
    number, no_data = view.formats.number, view.t("no_data")
    categories = {c.id: dict(c.name) for c in view.content.recognition.categories}
    badges = {b.id: dict(b.name) for b in view.content.badges.badges}
    months = sorted({row.month for row in data.kudos})
    kinds = sorted({row.category for row in data.kudos})
    counts = {(row.month, row.category): row.count for row in data.kudos}
    kudos = Section(
        "kudos",
        view.t("kudos_title"),
        view.t("kudos_about"),
        Table(
            [view.t("col_month"), view.t("col_category"), view.t("col_kudos")],
            [
                [
                    view.month(row.month),
                    Cell(_name(view, categories, row.category), row.category),
                    view.count(row.count),
                ]
                for row in sorted(data.kudos, key=lambda r: (r.month, r.category))
            ],
        ),
        charts.stacked(
            view.t("kudos_title"),
            [view.formats.month(month) for month in months],
            [
                (_name(view, categories, kind), [counts.get((m, kind), 0) for m in months])
                for kind in kinds
            ],
            number,
            no_data,
        ),
    )
    people = Section(
        "people",
        view.t("people_title"),
        view.t("people_about"),
        Table(
            [view.t("col_givers"), view.t("col_receivers")],
            [[view.count(data.givers), view.count(data.receivers)]],
        ),
    )
    awarded = sorted(data.badges.items(), key=lambda item: -item[1])
    badge_section = Section(
        "badges",
        view.t("badges_title"),
        view.t("badges_about"),
        Table(
            [view.t("col_badge"), view.t("col_awarded")],
            [[Cell(_name(view, badges, key), key), view.count(n)] for key, n in awarded],
        ),
        charts.bars(
            view.t("badges_title"),
            [_name(view, badges, key) for key, _ in awarded],
            [(view.t("col_awarded"), [n for _, n in awarded])] if awarded else [],
            number,
            no_data,
        ),
    )
    new = Section(
        "new_contributors",
        view.t("new_contributors_title"),
        view.t("new_contributors_about"),
        Table(
            [view.t("col_month"), view.t("col_new_contributors")],
            [[view.month(row.month), view.count(row.count)] for row in data.new_contributors],
        ),
        charts.bars(
            view.t("new_contributors_title"),
            [view.formats.month(row.month) for row in data.new_contributors],
            [(view.t("col_new_contributors"), [r.count for r in data.new_contributors])]
            if data.new_contributors
            else [],
            number,
            no_data,
        ),
    )
    return Page([kudos, people, badge_section, new])
