"""How `onramp campaign` shows things: segments and send times in words, durations, counts,
samples as each platform renders them, and the status view."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.text import Text

from bot.adapter import available_adapters
from bot.campaigns import manage
from bot.campaigns.previewing import Preview
from bot.campaigns.segments import REASONS
from bot.messages import OutgoingMessage
from bot.plain_table import PlainTable
from flows.campaigns import Between, Campaign, LocalSendTime, Segment
from flows.content import ContentTree
from flows.text import render

out = Console(highlight=False)
# Statuses a recipient ends in: what the progress bars count as done.
DONE = ("sent", "delivered", "read", "failed", "cancelled", "expired")


def duration_text(seconds: float) -> str:
    """How long, roughly: "under a second", "about 40 s", "about 3 min", "about 2 h 05 min"."""
    if seconds < 1:
        return "under a second"
    return f"about {rounded_text(seconds)}"


def rounded_text(seconds: float) -> str:
    if seconds < 90:
        return f"{math.ceil(seconds)} s"
    minutes = math.ceil(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def title_text(content: ContentTree, campaign: Campaign) -> str:
    return render(campaign.title, None, content.community.default_locale, {})


def span_text(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def moment_text(value: datetime | timedelta, word: str) -> str:
    if isinstance(value, timedelta):
        span = span_text(value)
        return f"within the last {span}" if word == "after" else f"more than {span} ago"
    return f"{word} {value.date().isoformat()}"


def between_text(value: Between) -> str:
    parts = [moment_text(v, w) for v, w in ((value.after, "after"), (value.before, "before")) if v]
    return " and ".join(parts)


def segment_text(segment: Segment) -> str:
    name, value = segment.test()
    match name:
        case "all" | "any":
            parts = [segment_text(s) for s in value]
            grouped = [f"({p})" if " and " in p or " or " in p else p for p in parts]
            return f" {'and' if name == 'all' else 'or'} ".join(grouped)
        case "not":
            return f"not ({segment_text(value)})"
        case "joined" | "last_active":
            return f"{name.replace('_', ' ')} {between_text(value)}"
        case "utc_offset":
            return f"UTC offset {value.from_:+g} to {value.to:+g}"
        case "onboarding":
            return f"onboarding {value.replace('_', ' ')}"
        case "stalled":
            where = f" at '{value.at}'" if value.at else ""
            return f"onboarding stalled for {span_text(value.for_)}{where}"
        case "mentorship":
            return "in a mentorship" if value == "active" else "in no mentorship"
        case "kudos_received":
            within = f" within {span_text(value.within)}" if value.within else ""
            return f"{value.at_least}+ kudos{within}"
        case "consent":
            return f"consent: {value}"
    return f"{name}: {', '.join(map(str, value))}"


def when_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def send_time_text(campaign: Campaign) -> str:
    at = campaign.send_at
    if isinstance(at, LocalSendTime):
        return f"{at.local_time} local, {at.date.isoformat()}"
    return when_text(at) if isinstance(at, datetime) else "now"


# onramp campaign list


def state_text(row: Any) -> str:
    if row.finished_at is not None:
        return f"{row.state} {when_text(row.finished_at)}"
    return str(row.state).replace("_", " ")


# onramp campaign preview


def show_counts(shown: Preview) -> None:
    out.print(
        f"{shown.recipients} of {shown.total} member(s) in the segment would receive it; "
        f"not before {when_text(shown.first_send)}."
    )
    if shown.sending:
        table = PlainTable("platform", "language", "recipients")
        for (platform, locale), count in sorted(shown.sending.items()):
            table.add_row(platform, locale, str(count))
        out.print(table)
    if shown.excluded:
        table = PlainTable(
            "left out because", "members", title=f"{sum(shown.excluded.values())} left out"
        )
        for reason, count in sorted(shown.excluded.items(), key=lambda item: -item[1]):
            table.add_row(REASONS.get(reason, reason), str(count))
        out.print(table)


def show_lateness(shown: Preview) -> None:
    """Whether the campaign's own times have passed, and what that means for a send."""
    late, campaign = shown.late, shown.campaign
    when = send_time_text(campaign)
    until = when_text(campaign.expires_at) if campaign.expires_at else ""
    if late.expired:
        out.print(
            f"Its expiry ({until}) comes before anyone's send time: nobody can be sent it, and "
            "`send` refuses it. Set a later send_at and expires_at in its file.",
            style="yellow",
            markup=False,
        )
        return
    if late.send_passed:
        out.print(
            f"Its send time ({when}) has passed: sent now, it goes at once.",
            style="yellow",
            markup=False,
        )
    elif late.send_passed_somewhere:
        out.print(
            f"Its send time ({when}) has already passed in some time zones: members there get "
            "it at once (out of their quiet hours).",
            style="yellow",
            markup=False,
        )
    if late.expires_early:
        out.print(
            f"Its expiry ({until}) comes before {when} in the time zones furthest west: "
            "members there will not get it.",
            style="yellow",
            markup=False,
        )


def show_samples(shown: Preview) -> None:
    factories = available_adapters()
    for (platform, locale), text in sorted(shown.samples.items()):
        message = OutgoingMessage(platform=platform, recipient="preview", text=text, locale=locale)
        factory = factories.get(platform)
        rendered = factory.render_preview(message) if factory is not None else text
        title = f"{platform} · {locale}" + ("" if factory is not None else " (as written)")
        out.print(Panel(Text(rendered), title=title, title_align="left", expand=False))
    template = shown.campaign.whatsapp_template
    if template is not None and shown.per_platform().get("whatsapp"):
        out.print(
            f"WhatsApp members who last wrote more than 24 hours before their send time get the "
            f"approved template '{template.name}' instead.",
            markup=False,
        )


def status_view(found: manage.Status, now: datetime) -> RenderableType:
    row = found.row
    people = f"asked by {row.requested_by}" + (
        f", approved by {row.approved_by}" if row.approved_by else ""
    )
    lines: list[RenderableType] = [Text(f"{row.key}: {row.title} — {state_text(row)} ({people})")]
    if found.file_changed:
        lines.append(
            Text(
                "Its file has changed since it was planned: what is sent is the plan as it was "
                "then. To send the new version, copy the file under a new id.",
                style="yellow",
            )
        )
    if row.state == "awaiting_approval":
        lines.append(Text(f"Waiting for a second manager: onramp campaign approve {row.key}"))
    table = PlainTable("platform", "progress", "done", "messages")
    for platform, counts in sorted(found.per_platform.items()):
        total = sum(n for status, n in counts.items() if status != "excluded")
        done = sum(counts.get(status, 0) for status in DONE)
        shown = ", ".join(f"{s} {counts[s]}" for s in manage.STATUSES if counts.get(s))
        bar = ProgressBar(total=total, completed=done, width=30) if total else ""
        table.add_row(platform, bar, f"{done}/{total}", shown)
    if found.per_platform:
        lines.append(table)
    for (status, reason), count in sorted(found.reasons.items()):
        lines.append(Text(f"  {status}: {REASONS.get(reason, reason)}: {count}"))
    left = sum(found.remaining(platform) for platform in found.per_platform)
    if left and row.state in ("scheduled", "sending"):
        eta = found.eta_seconds(now)
        pace = duration_text(eta) if eta is not None else "how long, unknown"
        waiting = ", once their send times come" if row.state == "scheduled" else ""
        lines.append(Text(f"{left} message(s) to go: {pace} at each platform's pace{waiting}."))
    return Group(*lines)
