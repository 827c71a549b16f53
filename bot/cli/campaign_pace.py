"""How long a campaign takes to send: each platform's pace, read without its secrets and
without starting anything, and the estimate `onramp campaign preview` and `send` print."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.adapter import AdapterFactory, available_adapters
from bot.campaigns import delivery
from bot.cli.campaign_views import duration_text, out, rounded_text
from bot.settings import Settings


def platform_paces(
    settings: Settings, platforms: Iterable[str]
) -> tuple[dict[str, float], set[str]]:
    """The pace the bot keeps on each platform (`delivery.platform_rates`): the adapter
    class's own `rate_limits` read with the platform's settings; failing that, the adapter
    built (not started), if its secrets are here; else an assumed pace, named as such."""
    factories = available_adapters()
    rates: dict[str, float] = {}
    assumed: set[str] = set()
    for name in sorted(set(platforms)):
        factory = factories.get(name)
        for make in (_stand_in, _built):
            try:
                rates.update(delivery.platform_rates({name: make(factory, settings, name)}))
                break
            except Exception:  # its limits need more than its settings, or its secrets
                continue
        else:
            rates[name] = delivery.UNLIMITED_RATE
            assumed.add(name)
    return rates, assumed


def _stand_in(factory: AdapterFactory | None, settings: Settings, name: str) -> Any:
    """The adapter's class with only its settings section: what `rate_limits` reads."""
    if not isinstance(factory, type):
        raise TypeError(f"no adapter class for {name}")
    adapter: Any = object.__new__(factory)
    adapter.settings = getattr(settings, name, None)
    return adapter


def _built(factory: AdapterFactory | None, settings: Settings, name: str) -> Any:
    if factory is None:
        raise LookupError(f"no adapter for {name}")
    return factory(settings)


def show_estimate(counts: dict[str, int], settings: Settings) -> None:
    """How long sending takes at each platform's pace; platforms go side by side."""
    if not counts:
        return
    rates, assumed = platform_paces(settings, counts)
    longest = 0.0
    out.print("Estimated duration at each platform's pace:")
    for platform, count in sorted(counts.items()):
        seconds = count / rates[platform]
        longest = max(longest, seconds)
        pace = f"{rates[platform]:g} a second"
        if platform in assumed:
            pace += " (assumed: its limits cannot be read here)"
        out.print(
            f"  {platform}: {count} message(s) at {pace}: {duration_text(seconds)}", markup=False
        )
    reserve = settings.campaigns.reserve_share
    busy = longest / (1 - reserve)  # members chatting keep their share of each platform
    if duration_text(busy) == duration_text(longest):
        out.print(f"In all: {duration_text(longest)}.")
        return
    out.print(
        f"In all: {duration_text(longest)}; up to {rounded_text(busy)} while members are chatting "
        f"(a {reserve:.0%} share of each platform is kept for their conversations)."
    )
