"""Turning what a member typed into an answer: choices by number or label, and validators."""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email
from pydantic import AnyHttpUrl, TypeAdapter, ValidationError

from flows.numbers import NotANumber, answered_number, whole_number
from flows.schema import AskStep, Choice

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_SEPARATORS = re.compile(r"\s*(?:[,;/&+\n]|\band\b|\bet\b|\by\b)\s*")
_url = TypeAdapter(AnyHttpUrl)
MAX_CHOICE_REPLY = 2000  # no honest answer to a choice is longer


@dataclass(frozen=True)
class Rejected:
    """Why an input was not accepted: a system text key and the values it needs."""

    reason: str
    count: int = 0


def clean(text: str) -> str:
    """Remove control and direction-override characters, normalise, trim."""
    return _CONTROL.sub("", unicodedata.normalize("NFKC", text)).strip()


def fold(text: str) -> str:
    """Case- and accent-insensitive form, without emoji or punctuation, for matching labels."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = (c for c in decomposed if unicodedata.category(c)[0] in "LN" or c.isspace())
    return " ".join("".join(kept).split())


def match_choice(text: str, choices: list[Choice]) -> Choice | None:
    """The choice a reply names: by its number (in any script's digits: "2", "٢", "２"), its
    id or its label in any language."""
    cleaned = clean(text).rstrip(".)")
    index = whole_number(cleaned, low=1, high=len(choices), strict=False)
    if isinstance(index, int):
        return choices[index - 1]
    if index.reason == "out_of_range":  # a number, but no option's
        return None
    wanted = fold(cleaned)
    if not wanted:
        return None
    for choice in choices:
        labels = choice.label.values()
        if wanted == fold(choice.id) or any(wanted == fold(str(label)) for label in labels):
            return choice
    return None


def parse_choices(step: AskStep, text: str) -> list[str] | Rejected:
    choices = step.choices or []
    if not step.multiple:
        picked = match_choice(text, choices) if len(text) <= MAX_CHOICE_REPLY else None
        return [picked.id] if picked else Rejected("invalid_choice", len(choices))
    if len(text) > MAX_CHOICE_REPLY:
        return Rejected("invalid_choices", len(choices))
    whole = match_choice(text, choices)  # a label may itself contain "&", "/" or "and"
    if whole is not None:
        return [whole.id]
    parts = [p for p in _SEPARATORS.split(clean(text)) if p]
    if len(parts) == 1 and re.fullmatch(r"[\d\s]+", parts[0]):
        parts = parts[0].split()
    ids: list[str] = []
    for part in parts:
        picked = match_choice(part, choices)
        if picked is None:
            return Rejected("invalid_choices", len(choices))
        ids.append(picked.id)
    return list(dict.fromkeys(ids)) or Rejected("invalid_choices", len(choices))


def choices_by_id(step: AskStep, ids: Iterable[str]) -> list[str] | Rejected:
    known = {c.id for c in step.choices or []}
    picked = list(dict.fromkeys(i for i in ids if i in known))
    if not picked or len(picked) != len(set(ids)) or (len(picked) > 1 and not step.multiple):
        return Rejected("invalid_choice", len(known))
    return picked


def parse_input(step: AskStep, text: str, locale: str) -> Any | Rejected:
    value = clean(text)
    if not value:
        return Rejected("empty_answer")
    if len(value) > step.max_length:
        return Rejected("answer_too_long", step.max_length)
    match step.input:
        case "email":
            try:
                return validate_email(value, check_deliverability=False).normalized
            except EmailNotValidError:
                return Rejected("invalid_email")
        case "url":
            try:
                return str(_url.validate_python(value if "://" in value else f"https://{value}"))
            except ValidationError:
                return Rejected("invalid_url")
        case "number":
            number = answered_number(value, locale)
            return Rejected("invalid_number") if isinstance(number, NotANumber) else number
        case "timezone":
            return timezone_name(value) or Rejected("invalid_timezone")
        case "language":
            return language_code(value, locale) or Rejected("invalid_language")
        case "regex":
            assert step.pattern is not None
            return value if re.fullmatch(step.pattern, value) else Rejected("invalid_format")
    return value


def _zone_key(text: str) -> str:
    return fold(text.replace("_", " ").replace("/", " ").replace("-", " "))


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    zones: dict[str, str] = {}
    for name in zoneinfo.available_timezones():
        zones.setdefault(_zone_key(name), name)
    for name in sorted(zoneinfo.available_timezones()):
        if "/" in name and not name.startswith("Etc/"):
            zones.setdefault(_zone_key(name.rsplit("/", 1)[1]), name)
    return zones


_OFFSET = re.compile(r"^(?:utc|gmt)?\s*([+-])\s*(\d{1,2})(?::?00)?$")


def timezone_name(text: str) -> str | None:
    """An IANA zone from 'Africa/Nairobi', 'nairobi', 'UTC', or a whole-hour offset 'UTC+3'."""
    key = _zone_key(text)
    zones = _zones()
    if key in zones:
        return zones[key]
    offset = _OFFSET.match(text.casefold().replace(" ", ""))
    if offset:
        sign, hours = offset.groups()
        if int(hours) == 0:
            return "UTC"
        if int(hours) <= 14:
            # The Etc/ zones invert the sign: UTC+3 is Etc/GMT-3.
            return f"Etc/GMT{'-' if sign == '+' else '+'}{int(hours)}"
    return None


def language_code(text: str, locale: str) -> str | None:
    """A language code from a code ('fr', 'pt_BR') or a name in English or the member's language."""
    value = text.strip()
    try:
        parsed = Locale.parse(value.replace("-", "_"))
        return str(parsed)
    except (UnknownLocaleError, ValueError, TypeError):
        pass
    wanted = fold(value)
    for display in ("en", locale):
        try:
            names = Locale.parse(display).languages
        except (UnknownLocaleError, ValueError):
            continue
        for code, name in names.items():
            if fold(name) == wanted:
                return str(code)
    return None
