"""Numbers members type: one reader for all of them.

`str.isdigit()` is true of "²", "①" and "៣" too, and `int()` then raises on the first two; a
number with a thousand-digit exponent takes minutes to become an `int`. So a member's number is
read here and nowhere else, by two rules:

- a number a **command** takes (`/mentor accept 12`, `/kudos revoke 7`) is written with the
  ASCII digits 0-9 and nothing else (`strict`);
- an **answer** to a question is read forgivingly: full-width and superscript digits are
  normalised (NFKC), and the decimal digits of every script count (Arabic-Indic ٣, Devanagari
  ३, Thai ๓…), as members write numbers the way their keyboard does.

Both are bounded (a few digits, a range), and say why they refused with `NotANumber`, which
the caller turns into a clear answer.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

from babel.numbers import NumberFormatError, parse_decimal

MAX_WHOLE = 999_999_999  # an id, a count, a choice: nine digits are plenty
MAX_DIGITS = 18  # longer is refused before any conversion (leading zeros included)
MAX_MAGNITUDE = Decimal(10) ** 15  # an answer to a number question is below this
MAX_ANSWER_LENGTH = 40

Reason = Literal["empty", "not_digits", "other_digits", "out_of_range"]


@dataclass(frozen=True)
class NotANumber:
    """What was typed is not a number this place takes: `not_digits` (or `empty`) when it is
    no number at all ("one"); `other_digits` when it is written with digits other than 0-9
    where only those are taken ("²", "٣"): tell the member how to write it; `out_of_range`
    when it is a number, but too large or too small."""

    reason: Reason


def whole_number(
    text: str, *, low: int = 0, high: int = MAX_WHOLE, strict: bool = True
) -> int | NotANumber:
    """A whole number from `low` to `high`, written with digits only (surrounding spaces
    aside): the ASCII digits 0-9 if `strict` (commands), any script's decimal digits if not
    (answers)."""
    digits = text.strip() if strict else _ascii_digits(text)
    if not digits:
        return NotANumber("empty")
    if not (digits.isascii() and digits.isdigit()):
        return NotANumber("other_digits" if digits.isdigit() else "not_digits")
    if len(digits) > MAX_DIGITS:
        return NotANumber("out_of_range")
    number = int(digits)
    return number if low <= number <= high else NotANumber("out_of_range")


def answered_number(text: str, locale: str) -> int | float | NotANumber:
    """A number answering a question, as written in the member's language ("1 234,5" in
    French, "1,234.5" in English), in any script's digits; no exponent, no "NaN"."""
    value = unicodedata.normalize("NFKC", text).strip()
    if not value:
        return NotANumber("empty")
    if len(value) > MAX_ANSWER_LENGTH or any(unicodedata.category(c)[0] == "L" for c in value):
        return NotANumber("not_digits")  # letters: an exponent, "NaN", "Infinity", words
    try:
        number = parse_decimal(value, locale=locale)
    except (NumberFormatError, InvalidOperation, ValueError):
        try:
            number = Decimal(value.replace(",", "."))
        except InvalidOperation:
            return NotANumber("not_digits")
    if not number.is_finite():
        return NotANumber("not_digits")
    if abs(number) >= MAX_MAGNITUDE:
        return NotANumber("out_of_range")
    return int(number) if number == number.to_integral_value() else float(number)


def _ascii_digits(text: str) -> str:
    """The text with each decimal digit of any script written 0-9 (other characters kept)."""
    normalised = unicodedata.normalize("NFKC", text).strip()
    if normalised.isascii():
        return normalised
    return "".join(
        str(unicodedata.decimal(c)) if unicodedata.category(c) == "Nd" else c for c in normalised
    )
