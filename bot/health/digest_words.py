"""What a manager types after /digest: a day of the week and a time of day, read forgivingly.

A day is its name in any language the community speaks, in English, or CLDR's abbreviations
of either ("lundi", "Mié", "segunda-feira", "segunda", "الإثنين", "Jumatatu", "mon"), without
regard to case or accents. A time is "09:00", "9", "9h", "9h30", "9.30", "9am", "5 pm", in
any script's digits ("٩:٣٠"). Anything else is refused with the part that was not understood,
so the reply can say which.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time
from functools import cache

from babel import Locale, UnknownLocaleError
from babel.dates import get_day_names

from flows.answers import fold

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_ARGUMENTS = 60  # no honest "/digest friday 17:30" is longer

_TIME = re.compile(
    r"^(?P<hour>\d{1,2})(?:\s*[:.hH]\s*(?P<minute>\d{2})?)?\s*(?P<half>[aApP]\.?\s*[mM]\.?)?$"
)


@dataclass(frozen=True)
class Wanted:
    """What /digest asked for: on, off, or a day and/or a time (None: unchanged)."""

    switch: bool | None = None  # True: on, False: off
    day: int | None = None  # 0 = Monday, as datetime.weekday()
    at: time | None = None


@dataclass(frozen=True)
class NotUnderstood:
    """`what` is "day" or "time"; `text` the part of the arguments it could not read."""

    what: str
    text: str


def weekday_of(name: str) -> int | None:
    """0 (Monday) to 6 from an English weekday name as content writes it ("monday")."""
    cleaned = name.strip().lower()
    return WEEKDAYS.index(cleaned) if cleaned in WEEKDAYS else None


def parse_time(text: str) -> time | None:
    """A time of day, or None when `text` is not one."""
    found = _TIME.match(_ascii_digits(text))
    if found is None:
        return None
    hour, minute = int(found["hour"]), int(found["minute"] or 0)
    half = (found["half"] or "").replace(".", "").replace(" ", "").lower()
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def parse_day(text: str, locales: Iterable[str]) -> int | None:
    """A day of the week named in any of `locales` or in English, or None."""
    return _day_names(tuple(sorted({"en", *locales}))).get(fold(text))


def parse(
    arguments: str, locales: Iterable[str], on: Iterable[str], off: Iterable[str]
) -> Wanted | NotUnderstood:
    """`on`, `off` (or the content's yes/no words, folded, in `on`/`off`), `DAY`, `TIME` or
    `DAY TIME` in either order."""
    text = unicodedata.normalize("NFKC", arguments).strip()[:MAX_ARGUMENTS]
    folded = fold(text)
    if folded in {"on", *on}:
        return Wanted(switch=True)
    if folded in {"off", *off}:
        return Wanted(switch=False)
    words = text.split()
    known = tuple(locales)
    # The time is at one end ("friday 17:30", "5 pm friday"), one or two words long.
    for size in (2, 1):
        for at_end in (True, False):
            if len(words) < size:
                continue
            part = words[-size:] if at_end else words[:size]
            rest = words[:-size] if at_end else words[size:]
            at = parse_time(" ".join(part))
            if at is None:
                continue
            if not rest:
                return Wanted(at=at)
            day = parse_day(" ".join(rest), known)
            if day is None:
                return NotUnderstood("day", " ".join(rest))
            return Wanted(day=day, at=at)
    day = parse_day(text, known)
    if day is not None:
        return Wanted(day=day)
    # A day and something else: that something is the time it could not read.
    for cut in range(1, len(words)):
        if parse_day(" ".join(words[:cut]), known) is not None:
            return NotUnderstood("time", " ".join(words[cut:]))
        if parse_day(" ".join(words[cut:]), known) is not None:
            return NotUnderstood("time", " ".join(words[:cut]))
    if any(c.isdigit() for c in text):
        return NotUnderstood("time", text)
    return NotUnderstood("day", text)


@cache
def _day_names(locales: tuple[str, ...]) -> dict[str, int]:
    """Folded names of the days (wide and abbreviated, stand-alone and in a date, and the
    first word of a name of several: "segunda" for "segunda-feira") → 0-6."""
    names: dict[str, int] = {fold(name): number for number, name in enumerate(WEEKDAYS)}
    for code in locales:
        try:
            locale = Locale.parse(code.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            continue
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated", "short"):
                for number, name in get_day_names(width, context, locale).items():
                    for form in (name, name.replace("-", " "), re.split(r"[-\s]", name)[0]):
                        if fold(form):
                            names.setdefault(fold(form), number)
    return names


def _ascii_digits(text: str) -> str:
    """The text with each decimal digit of any script written 0-9."""
    normalised = unicodedata.normalize("NFKC", text).strip()
    return "".join(
        str(unicodedata.decimal(c)) if unicodedata.category(c) == "Nd" else c for c in normalised
    )
