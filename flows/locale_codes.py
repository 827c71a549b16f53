"""Locale codes as people write them (`pt-BR`, `pt_br`, `PT-br`), in the one spelling Babel
and the rest of the bot use (`pt_BR`); an unknown code is an error that says what was meant."""

from __future__ import annotations

import difflib
from functools import cache

from babel import Locale, UnknownLocaleError, localedata


@cache
def _language_names() -> dict[str, str]:
    """English and native language names, lowercased -> code: 'english' -> 'en'."""
    names: dict[str, str] = {}
    for code, name in Locale("en").languages.items():
        names.setdefault(name.lower(), code)
    for code in ("en", "fr", "es", "pt", "ar", "sw", "de", "it", "ru", "zh", "ja", "hi"):
        native = Locale(code).get_display_name()
        if native:
            names.setdefault(native.lower(), code)
    return names


def _suggestion(written: str) -> str:
    named = _language_names().get(written.strip().lower())
    if named is not None:
        return f"; did you mean '{named}'?"
    codes = [c for c in localedata.locale_identifiers() if "_" not in c]
    close = difflib.get_close_matches(written.lower(), codes, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    close = difflib.get_close_matches(written.lower(), list(_language_names()), n=1, cutoff=0.8)
    if close:
        return f"; did you mean '{_language_names()[close[0]]}'?"
    return "; use a language code such as en, fr, es, sw or pt_BR"


@cache
def locale_or_none(written: str) -> str | None:
    """`pt-BR`, `pt_br` -> `pt_BR`; None if it is no locale (a YAML key such as `steps`).
    Cached either way: content walks ask it of every key of every mapping."""
    code = written.strip().replace("-", "_")
    if not code or not code.replace("_", "").isalnum():
        return None
    try:
        parsed = Locale.parse(code)
    except (UnknownLocaleError, ValueError):
        return None
    if parsed.language != code.split("_")[0].lower():  # an alias: 'fre' is read as fr_FR
        return None
    return str(parsed)


def normalise_locale(written: str) -> str:
    """`pt-BR`, `pt_br` -> `pt_BR`. Raises ValueError naming the code, with a did-you-mean."""
    found = locale_or_none(written)
    if found is not None:
        return found
    code = written.strip().replace("-", "_")
    try:
        alias = Locale.parse(code).language if code.replace("_", "").isalnum() else None
    except (UnknownLocaleError, ValueError):
        alias = None
    if alias is not None and alias != code.split("_")[0].lower():
        raise ValueError(f"unknown locale '{written}'; did you mean '{alias}'?")
    raise ValueError(f"unknown locale '{written}'{_suggestion(written)}")


def base_language(locale: str) -> str:
    return locale.replace("-", "_").split("_")[0]


def english_name(locale: str) -> str:
    try:
        return Locale.parse(locale).english_name or locale
    except (UnknownLocaleError, ValueError):
        return locale
