"""`/campaign`: community managers preview, send and follow campaigns from chat.

    /campaign [help]        the subcommands, and the campaigns of content/campaigns/
    /campaign preview ID    who would get it, per platform and language; who is left out, and
                            why; then the message as this platform shows it
    /campaign send ID       how many would get it, and a button to confirm
    /campaign approve ID    the second manager's approval ([campaigns] require_approval)
    /campaign status ID     per platform counts, the time left, whether the file changed
    /campaign cancel ID     stop what is not sent yet, once confirmed

Only members with the manager role may use it; anyone else is refused, and the refusal is
audited. Where the platform has no buttons, a confirmation is typed: `/campaign send ID
confirm`. A confirmed send is recorded in the manager's turn as due work (`campaign.request`)
that the bot runs right after, with its own settings and the platforms it serves: the turn
commits at once, a crash loses nothing, and a second click or a second manager finds the
campaign already on its way. The plan itself is the bot's work too (`delivery.resume_plan`).
This module is what each subcommand does and `register`; how it is worded, `chat_views`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from babel.dates import format_timedelta
from sqlalchemy import select
from sqlmodel import col

from bot.campaigns import delivery, manage, planning
from bot.campaigns.chat_views import (
    CONFIRM,
    ask_to_confirm,
    campaign_named,
    known_text,
    language_text,
    lateness_lines,
    reason_text,
    say_already,
    say_expired,
    say_not_sent,
    state_text,
    title_text,
    usage,
    when_text,
)
from bot.campaigns.previewing import preview_in, sample_text
from bot.campaigns.segments import Reach
from bot.clock import SystemWork
from bot.registry import Registry
from bot.turn import Turn, member_turn, turn_for
from flows.campaigns import Campaign, lateness, utc_text
from storage import campaigns as store
from storage import due, members
from storage.models import DueWork

MANAGER = "manager"
REQUEST_KIND = "campaign.request"
NOW = timedelta(0)  # the bot plans a send confirmed in chat at once
# Without a slash, where commands are typed (Zulip, WhatsApp): "campaign status hello".
TYPED = re.compile(
    r"(?is)campaign\s+(?P<args>(?:help|preview|send|approve|status|cancel)\b.*)",
)

Subcommand = Callable[[Turn, str, bool], Awaitable[None]]


async def campaign_command(turn: Turn, args: str) -> None:
    word, _, rest = args.strip().partition(" ")
    word = word.casefold()
    if not _manager(turn, word or "help"):
        return
    key, _, more = rest.strip().partition(" ")
    subcommand = SUBCOMMANDS.get(word)
    if subcommand is None or not key:
        usage(turn)
        return
    await subcommand(turn, key.casefold(), more.strip().casefold() == CONFIRM)


async def pressed(turn: Turn, step_id: str, choice_ids: tuple[str, ...] = ()) -> bool:
    """A button of ours: `campaign.send.ID`, `campaign.approve.ID` or `campaign.cancel.ID`.
    Pressed twice, the second press finds the first one's work done and says so."""
    prefix, _, rest = step_id.partition(".")
    action, _, key = rest.partition(".")
    if prefix != "campaign" or action not in ("send", "approve", "cancel") or not key:
        return False
    if _manager(turn, action):
        await SUBCOMMANDS[action](turn, key, True)
    return True


def _manager(turn: Turn, what: str) -> bool:
    if MANAGER in turn.member.roles:
        return True
    turn.reply(turn.system_text("campaign_managers_only"))
    turn.audit("campaign.refused", command=what[:32])
    return False


async def preview(turn: Turn, key: str, confirmed: bool = False) -> None:
    campaign = campaign_named(turn, key)
    if campaign is None:
        return
    shown = await preview_in(turn.session, turn.content, campaign, turn.now, _reach())
    lines = [
        turn.system_text(
            "campaign_preview",
            shown.recipients,
            campaign=key,
            title=title_text(turn, campaign),
            when=when_text(turn, campaign),
        )
    ]
    for (platform, locale), count in sorted(shown.sending.items()):
        lines.append(f"• {platform} · {language_text(locale, turn.locale)}: {count}")
    left_out = sum(shown.excluded.values())
    if left_out:
        lines.append(turn.system_text("campaign_preview_left_out", left_out))
        for reason, count in sorted(shown.excluded.items(), key=lambda item: -item[1]):
            lines.append(f"• {reason_text(turn, reason)}: {count}")
    lines += lateness_lines(turn, campaign, shown.late)
    lines.append(turn.system_text("campaign_preview_sample"))
    turn.reply("\n".join(lines))
    turn.reply(sample_text(turn.content, campaign, turn.locale))
    turn.audit("campaign.previewed", actor=MANAGER, campaign=key, recipients=shown.recipients)


async def send(turn: Turn, key: str, confirmed: bool) -> None:
    campaign = campaign_named(turn, key)
    if campaign is None:
        return
    row = await store.by_key(turn.session, key)
    if row is not None:
        say_already(turn, row)
    elif lateness(campaign, turn.now).expired:  # refused before its row exists: the id stays free
        say_expired(turn, campaign)
    elif confirmed:
        await _request(turn, campaign)
    else:
        shown = await preview_in(turn.session, turn.content, campaign, turn.now, _reach())
        if not shown.recipients:
            turn.reply(turn.system_text("campaign_send_nobody", campaign=key))
            return
        text = turn.system_text(
            "campaign_send_confirm",
            shown.recipients,
            campaign=key,
            title=title_text(turn, campaign),
            when=when_text(turn, campaign),
        )
        late = lateness_lines(turn, campaign, shown.late)
        ask_to_confirm(
            turn, "\n".join([text, *late]), "send", key, f"/campaign send {key} {CONFIRM}"
        )


async def _request(turn: Turn, campaign: Campaign) -> None:
    """Record the confirmed send as the bot's work: it decides, with its own settings,
    whether the send waits for a second manager's approval."""
    key = campaign.id
    if await _requested(turn, key):
        turn.reply(turn.system_text("campaign_send_preparing_already", campaign=key))
        return
    await due.schedule(
        turn.session,
        key=f"{REQUEST_KIND}:{key}:{turn.member.id}",
        kind=REQUEST_KIND,
        due_at=turn.now,
        payload={"campaign": key, "member": turn.member.id, "turn": turn.key},
    )
    turn.reply(turn.system_text("campaign_send_preparing", campaign=key))


async def _requested(turn: Turn, key: str) -> bool:
    """A send of this campaign that a manager confirmed and the bot has yet to open."""
    statement = select(col(DueWork.id)).where(
        col(DueWork.key).startswith(f"{REQUEST_KIND}:{key}:", autoescape=True),
        col(DueWork.status).in_(("pending", "running")),
    )
    return (await turn.session.execute(statement.limit(1))).first() is not None


async def requested(work: SystemWork) -> datetime | None:
    """A send confirmed in chat: opened (planned at once, or put to the other managers), and
    the manager told where it stands."""
    payload = work.work.payload
    key, member_id = str(payload["campaign"]), int(payload["member"])
    turn = await member_turn(
        work.session,
        work.db,
        work.content,
        member_id,
        work.now,
        f"{REQUEST_KIND}:{payload['turn']}",
        work.runner.registry,
    )
    campaign = work.content.campaigns.get(key)
    if turn is None or campaign is None:  # the manager was forgotten, or the file removed
        if turn is not None:
            turn.reply(turn.system_text("campaign_unknown", campaign=key, known=known_text(turn)))
            work.queued.extend(await turn.flush())
        return None
    context = delivery.context_of(work)
    try:
        result = await planning.open_send(
            work.session,
            work.content,
            campaign,
            work.now,
            context.settings,
            actor=_actor(member_id),
            plan_after=NOW,
        )
    except planning.CampaignError as error:  # it expired since the manager confirmed it
        if error.code != "expired":
            raise
        say_expired(turn, campaign)
        work.queued.extend(await turn.flush())
        return None
    if not result.created:
        say_already(turn, result.row)
    elif result.row.state == "awaiting_approval":
        shown = await preview_in(work.session, work.content, campaign, work.now, context.reach)
        await _ask_approval(turn, campaign, shown.recipients)
    else:
        turn.reply(turn.system_text("campaign_send_started", campaign=key))
    work.queued.extend(await turn.flush())
    return None


async def _ask_approval(turn: Turn, campaign: Campaign, recipients: int) -> None:
    """Put the send to every other manager who can be reached, with an Approve button."""
    asked = []
    for manager in await members.with_role(turn.session, MANAGER):
        other = None if manager.id == turn.member.id else await turn_for(turn, manager.id or 0)
        if other is None:
            continue
        text = other.system_text(
            "campaign_approve_request",
            recipients,
            name=other.name_of(turn.member),
            campaign=campaign.id,
            title=title_text(other, campaign),
        )
        ask_to_confirm(other, text, "approve", campaign.id, f"/campaign approve {campaign.id}")
        asked.append(turn.name_of(manager))
    if asked:
        turn.reply(
            turn.system_text("campaign_send_waiting", campaign=campaign.id, names=", ".join(asked))
        )
    else:
        turn.reply(turn.system_text("campaign_send_waiting_alone", campaign=campaign.id))


async def approve(turn: Turn, key: str, confirmed: bool = True) -> None:
    try:
        result = await planning.approve_in(
            turn.session, key, turn.now, actor=_actor(turn.member.id), plan_after=NOW
        )
    except planning.CampaignError as error:
        if error.code == "own_request":
            turn.reply(turn.system_text("campaign_approve_own"))
        elif error.code == "expired":
            turn.reply(turn.system_text("campaign_approve_expired", campaign=key))
        else:
            say_not_sent(turn, key)
        return
    if not result.created:
        say_already(turn, result.row)
        return
    turn.reply(turn.system_text("campaign_approved", campaign=key))
    requester = _member_of(result.row.requested_by)
    other = await turn_for(turn, requester) if requester is not None else None
    if other is not None and other is not turn:
        other.reply(
            other.system_text(
                "campaign_approved_notice", name=other.name_of(turn.member), campaign=key
            )
        )


async def status(turn: Turn, key: str, confirmed: bool = False) -> None:
    row = await store.by_key(turn.session, key)
    if row is None:
        say_not_sent(turn, key)
        return
    rates = await manage.recent_pace(turn.session, row.id or 0, turn.now)
    found = await manage.status_in(turn.session, turn.content, key, rates)
    lines = [
        turn.system_text(
            "campaign_status", campaign=key, title=row.title, state=state_text(turn, row)
        )
    ]
    for platform, counts in sorted(found.per_platform.items()):
        shown = [
            turn.system_text(f"campaign_count_{state}", counts[state])
            for state in manage.STATUSES
            if counts.get(state)
        ]
        lines.append(f"• {platform}: {', '.join(shown)}")
    if found.reasons:
        lines.append(turn.system_text("campaign_status_reasons"))
        for (_, reason), count in sorted(found.reasons.items(), key=lambda item: -item[1]):
            lines.append(f"• {reason_text(turn, reason)}: {count}")
    lines += await _time_left(turn, found)
    if found.file_changed:
        lines.append(turn.system_text("campaign_status_changed", campaign=key))
    turn.reply("\n".join(lines))
    turn.audit("campaign.viewed", actor=MANAGER, campaign=key, state=row.state)


async def _time_left(turn: Turn, found: manage.Status) -> list[str]:
    """How long what is left should take, at the pace it has been going; else when the next
    messages are due to go."""
    if found.row.state not in ("scheduled", "sending"):
        return []
    eta = found.eta_seconds(turn.now)
    if eta:
        left = format_timedelta(timedelta(seconds=eta), locale=turn.locale)
        return [turn.system_text("campaign_status_eta", eta=left)]
    later = [at for at in await store.send_times(turn.session, found.row.id or 0) if at > turn.now]
    if later:
        return [turn.system_text("campaign_status_next", when=utc_text(later[0]))]
    return []


async def cancel(turn: Turn, key: str, confirmed: bool) -> None:
    row = await store.by_key(turn.session, key)
    if row is None:
        say_not_sent(turn, key)
    elif row.state in manage.FINISHED:
        turn.reply(
            turn.system_text("campaign_cancel_finished", campaign=key, state=state_text(turn, row))
        )
    elif confirmed:
        stopped = await manage.cancel_in(turn.session, key, turn.now, actor=_actor(turn.member.id))
        turn.reply(turn.system_text("campaign_cancelled", stopped, campaign=key))
    else:
        found = await manage.status_in(turn.session, turn.content, key)
        to_go = found.total("planned") + found.total("queued")
        text = turn.system_text("campaign_cancel_confirm", to_go, campaign=key, title=row.title)
        ask_to_confirm(turn, text, "cancel", key, f"/campaign cancel {key} {CONFIRM}")


SUBCOMMANDS: dict[str, Subcommand] = {
    "preview": preview,
    "send": send,
    "approve": approve,
    "status": status,
    "cancel": cancel,
}


def _reach() -> Reach:
    """What the installed platforms allow. A turn does not know which of them this bot
    serves, so members on an installed platform it does not serve count here as reached; the
    bot's own plan (with the runtime's reach) leaves them out as `platform_off`."""
    return planning.reach()


def _actor(member_id: int | None) -> str:
    """Who asked, as the campaign and the audit log name them (the two-person rule compares
    these)."""
    return f"member:{member_id}"


def _member_of(actor: str) -> int | None:
    kind, _, number = actor.partition(":")
    return int(number) if kind == "member" and number.isdigit() else None


def register(registry: Registry) -> None:
    """/campaign, its buttons pressed late, and a send confirmed in chat (due work)."""
    registry.command("campaign", "command_campaign", typed=TYPED)(campaign_command)
    registry.on_late_answer(pressed)
    registry.system_due(REQUEST_KIND)(requested)
