"""The weekly digest in chat: each community manager gets the week's numbers, who needs
attention and the dashboard's link, once a week, in their language, at their local time.

It is due work (`health.digest`, one row per manager per week: bot/health/digest_schedule.py),
planned at start-up for every manager (`start_all`), again after each digest, and when a
manager changes it with /digest:

    /digest                 when it comes, or that it is off
    /digest off | on        stop it, or have it again
    /digest friday 17:30    a day and/or a time of their own (in their time zone)

A digest found due in the manager's night waits for their morning (the `[clock]` quiet
hours); one found more than a day late (the bot was down) is not sent, and the next is
planned. The content can turn digests off (`digest: {enabled: false}` in
content/dashboard.yaml): none is planned, and any still planned is not sent.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from typing import Any

from babel import UnknownLocaleError
from babel.dates import format_skeleton, format_time, get_day_names

from bot.clock import SystemWork, quiet_until
from bot.health import chat
from bot.health.digest_message import compose
from bot.health.digest_schedule import (
    KIND,
    MANAGER,
    choice_of,
    content_settings,
    planned_at,
    refresh,
    schedule_next,
    start_all,
    with_choice,
    zone_of,
)
from bot.health.digest_words import WEEKDAYS, NotUnderstood, parse
from bot.registry import Registry
from bot.turn import Turn, member_turn
from flows import timezones

__all__ = ["KIND", "dashboard_link", "register", "start_all"]

log = logging.getLogger("onramp.digest")

GRACE = timedelta(days=1)  # a digest older than this is news no more


def dashboard_link(registry: Registry) -> str | None:
    """The dashboard's address when this bot serves it (bot/web.py tells the registry's
    /dashboard where it is: bot/health/chat.py), else None: no link to give."""
    links = chat.served_links(registry)
    return None if links is None else f"{links.base_url.rstrip('/')}/dashboard"


async def send_due(work: SystemWork) -> datetime | None:
    """One manager's digest of the week: sent (or put off until their morning), and the next
    one planned."""
    row = work.work
    if not content_settings(work.content).enabled:
        log.info("digest not sent: the content turned digests off")
        return None
    turn = await member_turn(
        work.session,
        work.db,
        work.content,
        row.member_id or 0,
        work.now,
        row.key,  # one week, one manager: its messages can never be queued twice
        work.runner.registry,
    )
    if turn is None or choice_of(turn.member, work.content) is None:
        return None  # gone, stopped, no longer a manager, or turned it off
    if work.now - planned_at(row) > GRACE:
        late = int((work.now - planned_at(row)).total_seconds())
        log.warning("digest not sent: too late", extra={"late_seconds": late})
        await schedule_next(work.session, turn.member, work.content, work.now)
        return None
    clock = work.runner.settings
    night = quiet_until(
        work.now, turn.member.timezone, clock.quiet_hours_start, clock.quiet_hours_end
    )
    if night is not None:
        return night
    turn.reply(await compose(turn, work.now, dashboard_link(work.runner.registry)))
    turn.audit("digest.sent", actor="onramp")
    work.queued.extend(await turn.flush())
    await schedule_next(work.session, turn.member, work.content, work.now)
    return None


async def digest_command(turn: Turn, args: str) -> None:
    """/digest [on|off|DAY|TIME|DAY TIME]: a manager's own day and time, or none."""
    if MANAGER not in turn.member.roles:
        turn.reply(turn.system_text("digest_not_manager"))
        return
    if not content_settings(turn.content).enabled:
        turn.reply(turn.system_text("digest_disabled"))
        return
    if args.strip():
        words = turn.content.words
        wanted = parse(args, turn.content.community.locales, words.yes, words.no)
        if isinstance(wanted, NotUnderstood):
            if wanted.what == "day":
                turn.reply(turn.system_text("digest_bad_day", day=wanted.text))
            else:
                turn.reply(turn.system_text("digest_bad_time", time=wanted.text))
            return
        changes: dict[str, Any] = {}
        if wanted.switch is not None:
            changes["enabled"] = wanted.switch
        if wanted.day is not None or wanted.at is not None:
            changes["enabled"] = True
        if wanted.day is not None:
            changes["day"] = WEEKDAYS[wanted.day]
        if wanted.at is not None:
            changes["time"] = wanted.at.strftime("%H:%M")
        with_choice(turn.member, **changes)
        turn.audit("digest.changed", **changes)
    next_at = await refresh(turn.session, turn.member, turn.content, turn.now)
    choice = choice_of(turn.member, turn.content)
    if choice is None or next_at is None:
        turn.reply(turn.system_text("digest_off"))
        return
    zone = zone_of(turn.member)
    turn.reply(
        turn.system_text(
            "digest_on",
            day=_day_name(choice.day, turn.locale),
            time=_time(turn, choice.at),
            zone=timezones.describe(zone.key, turn.locale, turn.now, with_time=False),
            next=_day(turn, next_at),
        )
    )


def _day_name(day: int, locale: str) -> str:
    try:
        return str(get_day_names("wide", "stand-alone", locale)[day])
    except (UnknownLocaleError, ValueError):
        return WEEKDAYS[day].capitalize()


def _time(turn: Turn, at: time) -> str:
    try:
        return str(format_time(at, "short", locale=turn.locale))
    except (UnknownLocaleError, ValueError):
        return at.strftime("%H:%M")


def _day(turn: Turn, moment: datetime) -> str:
    """The next digest's day on the manager's calendar ("Mon, Mar 9", "lun. 9 mars")."""
    try:
        return str(
            format_skeleton("MMMEd", moment, tzinfo=zone_of(turn.member), locale=turn.locale)
        )
    except (UnknownLocaleError, ValueError):
        return moment.date().isoformat()


def register(registry: Registry) -> None:
    """/digest, and the digests themselves as due work about one manager each."""
    registry.command("digest", "command_digest")(digest_command)
    registry.system_due(KIND)(send_due)
