"""Time zones as people say them (flows/timezones.py), on the real geonames, CLDR and tz data."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flows.timezone_sources import fold, fold_all
from flows.timezones import LABEL_WIDTH, describe, label, lookup
from tests.clock import START  # Monday 2 March 2026, 10:00 UTC: 15:30 in India

LOCALES = ["en", "fr", "es", "pt", "ar", "sw"]


@pytest.mark.parametrize(
    ("answer", "zone"),
    [
        ("Mumbai", "Asia/Kolkata"),
        ("Delhi", "Asia/Kolkata"),
        ("New Delhi", "Asia/Kolkata"),
        ("India", "Asia/Kolkata"),  # a country with one zone
        ("IST", "Asia/Kolkata"),
        ("ist", "Asia/Kolkata"),
        ("Beijing", "Asia/Shanghai"),
        ("Lisboa", "Europe/Lisbon"),
        ("Genève", "Europe/Zurich"),
        ("Geneva", "Europe/Zurich"),  # the most populous Geneva
        ("Brasilia", "America/Sao_Paulo"),
        ("Brasília", "America/Sao_Paulo"),
        ("Paris, France", "Europe/Paris"),
        ("Paris France", "Europe/Paris"),
        ("Paris, Texas", "America/Chicago"),
        ("paris", "Europe/Paris"),
        ("Europe/Paris", "Europe/Paris"),
        ("europe_paris", "Europe/Paris"),
        ("Córdoba, Spain", "Europe/Madrid"),
        ("Porto", "Europe/Lisbon"),  # Porto's own name, not another city's other name
        ("São Paulo", "America/Sao_Paulo"),
        ("sao paulo", "America/Sao_Paulo"),
        ("nairobi", "Africa/Nairobi"),
        ("Africa/Nairobi", "Africa/Nairobi"),
        ("New_York", "America/New_York"),
        ("Asia/Calcutta", "Asia/Kolkata"),  # an old IANA name, to today's
        ("Japan", "Asia/Tokyo"),
        ("UTC", "UTC"),
        ("GMT+0", "UTC"),
        ("Nairobii", "Africa/Nairobi"),  # a small typo
        ("Bogot", "America/Bogota"),
    ],
)
def test_a_clear_answer_gives_one_zone(answer: str, zone: str) -> None:
    assert lookup(answer, "en") == [zone]


@pytest.mark.parametrize(
    ("answer", "zone"),
    [
        ("القاهرة", "Africa/Cairo"),
        ("الهند", "Asia/Kolkata"),
        ("مومباي", "Asia/Kolkata"),
        ("نيروبي", "Africa/Nairobi"),
        ("الرياض", "Asia/Riyadh"),
        ("नई दिल्ली", "Asia/Kolkata"),
        ("北京", "Asia/Shanghai"),
        ("Le Caire", "Africa/Cairo"),
        ("Ginebra", "Europe/Zurich"),
    ],
)
def test_names_in_other_languages_and_scripts(answer: str, zone: str) -> None:
    assert lookup(answer, "ar") == [zone]


@pytest.mark.parametrize("answer", ["UTC+5:30", "UTC+05:30", "GMT+5.5", "+0530", "utc + 5:30"])
def test_an_offset_gives_the_real_zones_with_it(answer: str) -> None:
    assert lookup(answer, "en") == ["Asia/Kolkata", "Asia/Colombo"]


def test_a_whole_hour_offset_gives_real_zones_where_summer_time_still_works() -> None:
    paris = lookup("UTC+1", "fr")
    assert "Europe/Paris" in paris and 1 < len(paris) <= 6
    july = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    assert "UTC+2" in describe("Europe/Paris", "fr", july)
    minus_three = lookup("GMT-3", "pt")
    assert minus_three[:2] == ["America/Sao_Paulo", "America/Argentina/Buenos_Aires"]
    assert "America/Fortaleza" not in minus_three  # Brazil's zones on São Paulo's time: one


def test_an_offset_no_zone_keeps_gives_an_etc_zone_or_nothing() -> None:
    assert lookup("UTC-12", "en") == ["Etc/GMT+12"]  # the Etc/ zones invert the sign
    assert lookup("UTC+5:15", "en") == []
    assert lookup("UTC+15", "en") == []


def test_an_offset_puts_first_where_the_members_language_is_spoken() -> None:
    swahili, arabic = lookup("UTC+3", "sw"), lookup("UTC+3", "ar")
    assert swahili[0] == "Africa/Nairobi"
    assert arabic[0] == "Asia/Riyadh"
    for zones in (swahili, arabic):
        assert {"Europe/Moscow", "Europe/Istanbul", "Asia/Baghdad"} <= set(zones)
        assert len(zones) == 6


def test_an_abbreviation_several_zones_share_gives_them_all() -> None:
    zones = lookup("CST", "en")
    assert {"America/Chicago", "Asia/Shanghai", "America/Havana", "America/Mexico_City"} <= set(
        zones
    )
    assert {"America/Los_Angeles", "Asia/Manila"} <= set(lookup("PST", "en"))
    assert lookup("ET", "en")[0] == "America/New_York"
    assert lookup("et", "fr") == []  # two letters are an abbreviation only in capitals


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Brazil", {"America/Sao_Paulo", "America/Manaus", "America/Rio_Branco"}),
        ("Brésil", {"America/Sao_Paulo", "America/Manaus"}),
        ("USA", {"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"}),
        ("Estados Unidos", {"America/New_York", "America/Los_Angeles"}),
        ("Australia", {"Australia/Sydney", "Australia/Perth", "Australia/Brisbane"}),
    ],
)
def test_a_country_with_several_zones_gives_one_per_clock(answer: str, expected: set[str]) -> None:
    zones = lookup(answer, "en")
    assert expected <= set(zones)
    assert len(zones) <= 6
    # one zone per clock: São Paulo, not also Fortaleza or Recife, which keep the same time
    assert not {"America/Fortaleza", "America/Recife", "Australia/Melbourne"} & set(zones)


def test_a_countrys_zones_come_most_populous_first() -> None:
    assert lookup("Brazil", "pt")[0] == "America/Sao_Paulo"
    assert lookup("USA", "en")[:3] == ["America/New_York", "America/Chicago", "America/Los_Angeles"]


@pytest.mark.parametrize("answer", ["", "   ", "?!", "blorf", "hello", "maybe", "no", "ok"])
def test_what_is_no_place_gives_nothing(answer: str) -> None:
    assert lookup(answer, "en") == []


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("en", "India, UTC+5:30, 3:30\u202fPM"),
        ("fr", "Inde, UTC+5:30, 15:30"),
        ("es", "India, UTC+5:30, 15:30"),
        ("pt", "Índia, UTC+5:30, 15:30"),
        ("ar", "الهند، UTC+5:30، 3:30 م"),
        ("sw", "India, UTC+5:30, 15:30"),
    ],
)
def test_describe_names_the_place_the_offset_and_the_time_there(locale: str, words: str) -> None:
    assert describe("Asia/Kolkata", locale, START) == words


def test_describe_takes_cldr_names_babel_misses() -> None:
    assert describe("America/Argentina/Buenos_Aires", "en", START).startswith(
        "Buenos Aires (Argentina), UTC−3, 7:00"
    )
    assert describe("Etc/GMT-3", "en", START) == "UTC+3, 1:00\u202fPM"
    assert describe("UTC", "fr", START) == "UTC, 10:00"
    # a country with several zones: the city and the country, in the member's language
    assert (
        describe("America/Chicago", "fr", START, with_time=False) == "Chicago (États-Unis), UTC−6"
    )


def test_a_label_is_short_enough_for_a_list_row() -> None:
    assert label("America/Chicago", "en", START) == "Chicago (UTC−6, 4:00\u202fAM)"
    assert label("America/Chicago", "ar", START) == "شيكاغو (UTC−6، 4:00 ص)"
    assert label("America/Los_Angeles", "en", START) == "Los Angeles (UTC−8)"
    for locale in LOCALES:
        for answer in ("CST", "USA", "UTC+3", "Brazil", "Australia", "GMT-3"):
            for zone in lookup(answer, locale):
                assert len(label(zone, locale, START)) <= LABEL_WIDTH, (zone, locale)


def test_folding_forgives_case_accents_punctuation_and_arabic_spellings() -> None:
    assert fold("  São-Paulo!! ") == "sao paulo"
    assert fold("Łódź") == "lodz"
    assert fold("الْقَاهِرَة") == fold("القاهره") == "القاهره"
    assert fold_all(["Genève", "Port-au-Prince", "St. John's"]) == [
        "geneve",
        "port au prince",
        "st johns",
    ]
