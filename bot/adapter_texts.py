"""The bot's own texts an adapter prints itself (the console's goodbye), in a member's language."""

from __future__ import annotations

from bot.adapter import SystemText
from flows.content import ContentTree
from flows.system_texts import BARE_SYSTEM_TEXTS
from flows.text import render


def adapter_texts(content: ContentTree) -> SystemText:
    """What the runtime hands an adapter's `set_texts`: only texts that take no variables,
    since an adapter knows no member (flows/system_texts.py, BARE_SYSTEM_TEXTS)."""
    default_locale = content.community.default_locale

    def text(key: str, locale: str | None) -> str:
        if key not in BARE_SYSTEM_TEXTS:
            raise KeyError(f"{key!r} is not a system text without variables (BARE_SYSTEM_TEXTS)")
        return render(content.system[key], locale, default_locale, {})

    return text
