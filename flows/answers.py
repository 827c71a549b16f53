"""Turning what a member typed into an answer: choices by number or label, and validators."""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email
from pydantic import AnyHttpUrl, TypeAdapter, ValidationError
from rapidfuzz import fuzz, process

from flows import timezones
from flows.numbers import NotANumber, answered_number, whole_number
from flows.schema import AskStep, Choice

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
# Between the parts of a multiple answer: commas and the like in Latin, Arabic and CJK
# scripts, and "and" as a word in the shipped languages (en, fr, es/pt, sw, ar).
_SEPARATORS = re.compile(r"\s*(?:[,;/&+\n\u060c\u061b\u3001]|\b(?:and|et|y|e|na|و)\b)\s*")
_url = TypeAdapter(AnyHttpUrl)
MAX_CHOICE_REPLY = 2000  # no honest answer to a choice is longer


@dataclass(frozen=True)
class Rejected:
    """Why an input was not accepted: a system text key and the values it needs."""

    reason: str
    count: int = 0
    part: str | None = None  # the part of a multiple answer that matched nothing


def clean(text: str) -> str:
    """Remove control and direction-override characters, normalise, trim."""
    return _CONTROL.sub("", unicodedata.normalize("NFKC", text)).strip()


def fold(text: str) -> str:
    """Case- and accent-insensitive form, without emoji or punctuation, for matching labels."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = (c for c in decomposed if unicodedata.category(c)[0] in "LN" or c.isspace())
    return " ".join("".join(kept).split())


@dataclass(frozen=True)
class Suggested:
    """Nothing matched, but one option is close ("espanyol"): ask whether it was meant.
    `ids` is the whole answer with that option in it (the other parts of a multiple answer
    kept), `choice_id` the option suggested."""

    choice_id: str
    ids: tuple[str, ...]


@dataclass(frozen=True)
class AnswerWords:
    """The words that mean yes, no and skip, in every language of the content, folded."""

    yes: frozenset[str] = frozenset()
    no: frozenset[str] = frozenset()
    skip: frozenset[str] = frozenset()

    @classmethod
    def from_lists(cls, yes: Iterable[str], no: Iterable[str], skip: Iterable[str]) -> AnswerWords:
        """From comma-separated lists ("yes, y, ok"), one per language."""

        def words(lists: Iterable[str]) -> frozenset[str]:
            return frozenset(w for text in lists for w in (fold(p) for p in text.split(",")) if w)

        return cls(words(yes), words(no), words(skip))

    def skips(self, text: str) -> bool:
        return fold(text) in self.skip


NO_WORDS = AnswerWords()
MIN_GUESS = 3  # shorter than this, a word or prefix of a label is too likely by chance
TYPO_SCORE = 80  # rapidfuzz ratio (0-100) from which a reply is taken for a typo of a label


def _labels(choice: Choice) -> list[str]:
    return [fold(str(label)) for label in choice.label.values()]


def _symbols(text: str) -> str:
    """The emoji and symbols of a text, without variation selectors and spaces."""
    return "".join(c for c in text if unicodedata.category(c)[0] == "S")


def _emoji(choice: Choice) -> list[str]:
    return [_symbols(str(label)) for label in choice.label.values()]


def match_choice(
    text: str, choices: list[Choice], words: AnswerWords = NO_WORDS, *, guess: bool = True
) -> Choice | None:
    """The choice a reply names: by its number (in any script's digits: "2", "٢", "２"), its
    id or its label in any language; and if `guess`, by a yes or no word at a yes/no question
    ("oui", "نعم"), an emoji or a word or prefix of a label only one option has ("🌍", "doc",
    "port")."""
    cleaned = clean(text).rstrip(".)")
    index = whole_number(cleaned, low=1, high=len(choices), strict=False)
    if isinstance(index, int):
        return choices[index - 1]
    if index.reason == "out_of_range":  # a number, but no option's
        return None
    wanted = fold(cleaned)
    if not wanted:
        symbols = _symbols(cleaned) if guess else ""
        return _only(c for c in choices if symbols and any(symbols in s for s in _emoji(c)))
    for choice in choices:
        if wanted == fold(choice.id) or wanted in _labels(choice):
            return choice
    if not guess:
        return None
    for said, meaning in ((words.yes, "yes"), (words.no, "no")):
        meant = _only(c for c in choices if _means(c, meaning, said)) if wanted in said else None
        if meant is not None:
            return meant
    if len(wanted) < MIN_GUESS:
        return None
    return _only(c for c in choices if any(_starts(label, wanted) for label in _labels(c)))


def _means(choice: Choice, meaning: str, said: frozenset[str]) -> bool:
    """Whether an option is the yes (or no) of a question: its id, or a label starting with
    such a word ("Oui, volontiers", "Sí, por favor")."""
    return choice.id == meaning or any(
        label.split(" ", 1)[0] in said for label in _labels(choice) if label
    )


ARABIC_ARTICLE = "ال"  # written joined to its noun: "ترجمة" is a word of "الترجمة" too


def _starts(label: str, wanted: str) -> bool:
    return label.startswith(wanted) or any(
        word.startswith(wanted) or (word.startswith(ARABIC_ARTICLE) and word[2:].startswith(wanted))
        for word in label.split(" ")
    )


def _only(found: Iterable[Choice]) -> Choice | None:
    unique = {c.id: c for c in found}
    return next(iter(unique.values())) if len(unique) == 1 else None


def close_choice(text: str, choices: list[Choice]) -> Choice | None:
    """The option a reply is most likely a typo of ("espanyol" for Español), if one is
    clearly closest; None for what is no label's typo ("xyz", "hello")."""
    wanted = fold(clean(text))
    if len(wanted) <= MIN_GUESS:
        return None
    candidates: list[tuple[str, str]] = []
    for choice in choices:
        for label in {fold(choice.id), *_labels(choice)}:
            candidates.append((label, choice.id))
            candidates.extend((w, choice.id) for w in label.split(" ") if len(w) > MIN_GUESS)
    found = process.extract(
        wanted, [c[0] for c in candidates], scorer=fuzz.ratio, score_cutoff=TYPO_SCORE, limit=None
    )
    if not found:
        return None
    best = max(score for _, score, _ in found)
    ids = {candidates[i][1] for _, score, i in found if score == best}
    if len(ids) != 1:
        return None
    (only,) = ids
    return next(c for c in choices if c.id == only)


def parse_choices(
    step: AskStep, text: str, words: AnswerWords = NO_WORDS
) -> list[str] | Rejected | Suggested:
    choices = step.choices or []
    if len(text) > MAX_CHOICE_REPLY:
        return Rejected("invalid_choices" if step.multiple else "invalid_choice", len(choices))
    # A label may itself contain "&", "/" or "and"; only parts are guessed at ("doc, 🌍").
    whole = match_choice(text, choices, words, guess=not step.multiple)
    if whole is not None:
        return [whole.id]
    if not step.multiple:
        close = close_choice(text, choices)
        if close is None:
            return Rejected("invalid_choice", len(choices))
        return Suggested(close.id, (close.id,))
    parts = [p for p in _SEPARATORS.split(clean(text)) if p]
    if len(parts) == 1 and re.fullmatch(r"[\d\s]+", parts[0]):
        parts = parts[0].split()
    if not parts:
        return Rejected("invalid_choices", len(choices))
    picked = [match_choice(part, choices, words) for part in parts]
    unknown = [part for part, choice in zip(parts, picked, strict=True) if choice is None]
    if not unknown:
        return list(dict.fromkeys(c.id for c in picked if c is not None))
    close = close_choice(unknown[0], choices) if len(unknown) == 1 else None
    if close is not None:
        ids = (c.id if c is not None else close.id for c in picked)
        return Suggested(close.id, tuple(dict.fromkeys(ids)))
    part = unknown[0] if len(parts) > 1 else None
    return Rejected("invalid_choices", len(choices), part=_shortened(part))


def _shortened(part: str | None, limit: int = 40) -> str | None:
    if part is None or len(part) <= limit:
        return part
    return part[: limit - 1].rstrip() + "…"


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


MAX_ZONES = 6  # a longer list of time zones is no help: ask for the city instead


def zone_candidates(text: str, locale: str) -> list[str]:
    """The IANA zones a reply may mean, best first: one for a clear answer, several when it
    is ambiguous ("CST", "UTC+3", "Brazil"), none when nothing matches. An IANA name is taken
    as it is; anything else (a place, an abbreviation, an offset) goes to flows/timezones.py,
    which maps an offset to the real zones that have it, so summer time still works."""
    value = clean(text)
    exact = timezone_name(value)
    if exact is not None and not exact.startswith("Etc/"):
        # A zone's name, or its city as the tz database names it ("Lima", "nairobi"): taken
        # as it is, without building the gazetteer's index (a second, once per process).
        return [exact]
    found = list(dict.fromkeys(timezones.lookup(value, locale)))
    if found:
        return found[:MAX_ZONES]
    return [exact] if exact else []


def zone_label(zone: str, locale: str, now: datetime | None) -> str:
    """A zone as an option of a list of candidates ("Chicago (UTC−6, 08:05)"); its IANA name
    where there is no time to say it at."""
    return zone if now is None else timezones.label(zone, locale, now)


WORD_TEXTS = ("yes_words", "no_words", "skip_words")  # in content/system.yaml


def answer_words(system: Mapping[str, Mapping[str, object]]) -> AnswerWords:
    """The yes, no and skip words of content/system.yaml, every language's together: a
    French member's "ok" and an English member's "oui" are understood too."""
    yes, no, skip = (
        [t for t in (system.get(key) or {}).values() if isinstance(t, str)] for key in WORD_TEXTS
    )
    return AnswerWords.from_lists(yes, no, skip)
