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
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from babel import Locale, UnknownLocaleError
from babel.dates import format_timedelta
from sqlalchemy import select
from sqlmodel import col

from bot.adapter import available_adapters
from bot.campaigns import delivery, manage, planning
from bot.campaigns.segments import REASONS, Reach
from bot.clock import SystemWork
from bot.messages import Choice
from bot.registry import Registry
from bot.turn import Turn, member_turn, turn_for
from flows.campaigns import Campaign, Lateness, LocalSendTime, lateness
from flows.markup import Markdown
from flows.text import render
from storage import campaigns as store
from storage import due, members
from storage.models import Campaign as CampaignRow
from storage.models import DueWork

MANAGER = "manager"
CONFIRM = "confirm"
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
        _usage(turn)
        return
    await subcommand(turn, key.casefold(), more.strip().casefold() == CONFIRM)


async def pressed(turn: Turn, step_id: str) -> bool:
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


def _usage(turn: Turn) -> None:
    lines = [
        f"• `{campaign.id}`: {_title(turn, campaign)}"
        for campaign in turn.content.campaigns.values()
    ]
    # The bot's own Markdown (ids and titles from content/): inserted as it is.
    listing = Markdown("\n".join(lines)) if lines else turn.system_text("campaign_none")
    turn.reply(turn.system_text("campaign_usage", campaigns=listing))


async def preview(turn: Turn, key: str, confirmed: bool = False) -> None:
    campaign = _campaign(turn, key)
    if campaign is None:
        return
    shown = await planning.preview_in(turn.session, turn.content, campaign, turn.now, _reach())
    lines = [
        turn.system_text(
            "campaign_preview",
            shown.recipients,
            campaign=key,
            title=_title(turn, campaign),
            when=_when(turn, campaign),
        )
    ]
    for (platform, locale), count in sorted(shown.sending.items()):
        lines.append(f"• {platform} · {_language(locale, turn.locale)}: {count}")
    left_out = sum(shown.excluded.values())
    if left_out:
        lines.append(turn.system_text("campaign_preview_left_out", left_out))
        for reason, count in sorted(shown.excluded.items(), key=lambda item: -item[1]):
            lines.append(f"• {_reason(turn, reason)}: {count}")
    lines += _lateness(turn, campaign, shown.late)
    lines.append(turn.system_text("campaign_preview_sample"))
    turn.reply("\n".join(lines))
    turn.reply(planning.sample_text(turn.content, campaign, turn.locale))
    turn.audit("campaign.previewed", actor=MANAGER, campaign=key, recipients=shown.recipients)


async def send(turn: Turn, key: str, confirmed: bool) -> None:
    campaign = _campaign(turn, key)
    if campaign is None:
        return
    row = await store.by_key(turn.session, key)
    if row is not None:
        _already(turn, row)
    elif lateness(campaign, turn.now).expired:  # refused before its row exists: the id stays free
        _expired(turn, campaign)
    elif confirmed:
        await _request(turn, campaign)
    else:
        shown = await planning.preview_in(turn.session, turn.content, campaign, turn.now, _reach())
        if not shown.recipients:
            turn.reply(turn.system_text("campaign_send_nobody", campaign=key))
            return
        text = turn.system_text(
            "campaign_send_confirm",
            shown.recipients,
            campaign=key,
            title=_title(turn, campaign),
            when=_when(turn, campaign),
        )
        late = _lateness(turn, campaign, shown.late)
        _ask(turn, "\n".join([text, *late]), "send", key, f"/campaign send {key} {CONFIRM}")


def _lateness(turn: Turn, campaign: Campaign, late: Lateness) -> list[str]:
    """Whether the campaign's own times have passed, in the manager's words."""
    until = _utc(campaign.expires_at) if campaign.expires_at else ""
    if late.expired:
        return [turn.system_text("campaign_late_expired", until=until)]
    lines = []
    if late.send_passed:
        lines.append(turn.system_text("campaign_late_send"))
    elif late.send_passed_somewhere:
        lines.append(turn.system_text("campaign_late_send_somewhere"))
    if late.expires_early:
        lines.append(turn.system_text("campaign_late_expires_early", until=until))
    return lines


def _expired(turn: Turn, campaign: Campaign) -> None:
    until = _utc(campaign.expires_at) if campaign.expires_at else ""
    turn.reply(turn.system_text("campaign_send_expired", campaign=campaign.id, until=until))


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
            turn.reply(turn.system_text("campaign_unknown", campaign=key, known=_known(turn)))
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
        _expired(turn, campaign)
        work.queued.extend(await turn.flush())
        return None
    if not result.created:
        _already(turn, result.row)
    elif result.row.state == "awaiting_approval":
        shown = await planning.preview_in(
            work.session, work.content, campaign, work.now, context.reach
        )
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
            title=_title(other, campaign),
        )
        _ask(other, text, "approve", campaign.id, f"/campaign approve {campaign.id}")
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
            _not_sent(turn, key)
        return
    if not result.created:
        _already(turn, result.row)
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
        _not_sent(turn, key)
        return
    rates = await manage.recent_pace(turn.session, row.id or 0, turn.now)
    found = await manage.status_in(turn.session, turn.content, key, rates)
    lines = [
        turn.system_text("campaign_status", campaign=key, title=row.title, state=_state(turn, row))
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
            lines.append(f"• {_reason(turn, reason)}: {count}")
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
        return [turn.system_text("campaign_status_next", when=_utc(later[0]))]
    return []


async def cancel(turn: Turn, key: str, confirmed: bool) -> None:
    row = await store.by_key(turn.session, key)
    if row is None:
        _not_sent(turn, key)
    elif row.state in manage.FINISHED:
        turn.reply(
            turn.system_text("campaign_cancel_finished", campaign=key, state=_state(turn, row))
        )
    elif confirmed:
        stopped = await manage.cancel_in(turn.session, key, turn.now, actor=_actor(turn.member.id))
        turn.reply(turn.system_text("campaign_cancelled", stopped, campaign=key))
    else:
        found = await manage.status_in(turn.session, turn.content, key)
        to_go = found.total("planned") + found.total("queued")
        text = turn.system_text("campaign_cancel_confirm", to_go, campaign=key, title=row.title)
        _ask(turn, text, "cancel", key, f"/campaign cancel {key} {CONFIRM}")


SUBCOMMANDS: dict[str, Subcommand] = {
    "preview": preview,
    "send": send,
    "approve": approve,
    "status": status,
    "cancel": cancel,
}


def _ask(turn: Turn, text: str, action: str, key: str, typed: str) -> None:
    """A question with one button (pressing it confirms; ignoring it, nothing happens), or,
    where the platform has no buttons, the command to type."""
    if _has_buttons(turn.identity.platform):
        label = turn.system_text(f"campaign_{action}_button")
        turn.reply(text, choices=(Choice(CONFIRM, label),), step_id=f"campaign.{action}.{key}")
    else:
        turn.reply(f"{text}\n\n{turn.system_text('campaign_confirm_typed', command=typed)}")


def _reach() -> Reach:
    """What the installed platforms allow. A turn does not know which of them this bot
    serves, so members on an installed platform it does not serve count here as reached; the
    bot's own plan (with the runtime's reach) leaves them out as `platform_off`."""
    return planning.reach()


@functools.cache
def _has_buttons(platform: str) -> bool:
    factory = available_adapters().get(platform)
    return factory is None or factory.capabilities.max_buttons > 0


def _already(turn: Turn, row: CampaignRow) -> None:
    match row.state:
        case "awaiting_approval":
            key = "campaign_already_waiting"
        case "done" | "cancelled":
            key = f"campaign_already_{row.state}"
        case _:
            key = "campaign_already_going"
    turn.reply(turn.system_text(key, campaign=row.key, state=_state(turn, row)))


def _campaign(turn: Turn, key: str) -> Campaign | None:
    found = turn.content.campaigns.get(key)
    if found is None:
        turn.reply(turn.system_text("campaign_unknown", campaign=key, known=_known(turn)))
    return found


def _not_sent(turn: Turn, key: str) -> None:
    if key in turn.content.campaigns:
        turn.reply(turn.system_text("campaign_not_sent", campaign=key))
    else:
        turn.reply(turn.system_text("campaign_unknown", campaign=key, known=_known(turn)))


def _known(turn: Turn) -> Markdown:
    return Markdown(", ".join(f"`{key}`" for key in turn.content.campaigns))


def _title(turn: Turn, campaign: Campaign) -> str:
    return render(campaign.title, turn.locale, turn.content.community.default_locale, {})


def _when(turn: Turn, campaign: Campaign) -> str:
    at = campaign.send_at
    if isinstance(at, datetime):
        return turn.system_text("campaign_when_at", at=_utc(at))
    if isinstance(at, LocalSendTime):
        return turn.system_text("campaign_when_local", time=at.local_time, date=at.date.isoformat())
    return turn.system_text("campaign_when_now")


def _state(turn: Turn, row: CampaignRow) -> str:
    key = f"campaign_state_{row.state}"
    return turn.system_text(key) if key in turn.content.system else row.state


def _reason(turn: Turn, reason: str) -> str:
    """A reason code in the manager's language; a platform's own error as it said it."""
    return turn.system_text(f"campaign_reason_{reason}") if reason in REASONS else reason


def _language(code: str, locale: str) -> str:
    try:
        return Locale.parse(code).get_display_name(locale) or code
    except (UnknownLocaleError, ValueError):
        return code


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


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
