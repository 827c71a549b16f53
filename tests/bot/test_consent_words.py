"""Announcements are stopped and started with words typed in any shipped language."""

from __future__ import annotations

import pytest

from bot.consent import TYPED, wanted


@pytest.mark.parametrize(
    ("typed", "on"),
    [
        ("stop announcements", False),
        ("arrêter les annonces", False),
        ("parar los anuncios", False),
        ("parar os anúncios", False),
        ("receber anúncios", True),
        ("أوقف الإعلانات", False),
        ("استقبل الإعلانات", True),
        ("sitisha matangazo", False),
        ("pokea matangazo", True),
        ("announcements on", True),
    ],
)
def test_typed_in_each_language(typed: str, on: bool) -> None:
    found = TYPED.fullmatch(typed)
    assert found is not None
    assert wanted(found.group("args")) is on


@pytest.mark.parametrize("text", ["announcements", "matangazo", "الإعلانات", "anúncios"])
def test_the_noun_alone_stays_an_answer(text: str) -> None:
    assert TYPED.fullmatch(text) is None
