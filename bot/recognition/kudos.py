"""`/kudos`: thanking someone for a contribution, with the rules that keep it honest.

    /kudos @someone for translating the install guide #translation
    /kudos                      your recognition: kudos received by category, and badges
    /kudos top [week|month|all] [#category]   the leaderboard
    /kudos revoke ID            (community managers) take a kudos back

Every refusal says why, and records nothing.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.recognition import badges
from bot.recognition.mentions import MENTION, resolve
from bot.registry import Registry
from bot.turn import Turn, turn_with
from flows.feature_settings import Category
from flows.markup import Markdown, escape, mentions_as_names
from flows.numbers import NotANumber, whole_number
from flows.text import render
from storage import consent, tallies
from storage import recognition as store
from storage.models import Kudos, Member

CATEGORY = re.compile(r"(?:^|\s)#(?P<id>[\w-]{1,32})\s*$")
LEADING_FOR = re.compile(r"^\s*(?:for|pour|por|para)\b\s*", re.IGNORECASE)
# The leaderboards: each period but "all" has its running totals (storage/tallies.py).
PERIODS: dict[str, timedelta | None] = {
    **{period: timedelta(days=days) for period, days in tallies.WINDOWS.items()},
    "all": None,
}
MANAGER = "manager"


# "kudos @ada for …", "kudos top month", "kudos revoke 12" or "kudos" alone, without a slash.
TYPED = re.compile(
    r"(?is)kudos(?:\s+(?P<args>(?:@|\[|top\b|revoke\b).*))?",
)


async def kudos(turn: Turn, args: str) -> None:
    word = args.strip().split(" ", 1)[0].casefold()
    if not args.strip():
        await summary(turn)
    elif word == "top":
        await top(turn, args.strip()[3:].strip())
    elif word == "revoke":
        await revoke(turn, args.strip()[6:].strip())
    else:
        await give(turn, args)


def category_name(turn: Turn, category: Category, locale: str | None = None) -> Markdown:
    name = render(
        category.name, locale or turn.member.locale, turn.content.community.default_locale, {}
    )
    return Markdown(f"{escape(category.emoji)} {name}".strip())


async def give(turn: Turn, args: str) -> None:
    if turn.unreachable_in_private("kudos_in_private", "kudos"):
        return
    recognition = turn.content.recognition
    rules = recognition.rules
    match = MENTION.match(args)
    if match is None:
        turn.reply(turn.system_text("kudos_usage"))
        return
    named = await resolve(turn, match)
    receiver = named.member
    if receiver is None:
        turn.reply(
            turn.system_text(named.problem or "kudos_usage", named.matches, name=named.shown)
        )
        return
    if receiver.id == turn.member.id:
        turn.reply(turn.system_text("kudos_self"))
        return
    if receiver.opted_out:
        turn.reply(turn.system_text("kudos_opted_out", name=named.shown))
        return
    rest = args[match.end() :]
    category = recognition.category(recognition.default_category)
    wanted = CATEGORY.search(rest)
    if wanted is not None:
        category = recognition.category(wanted.group("id").casefold())
        if category is None:
            known = ", ".join(f"#{c.id}" for c in recognition.categories)
            turn.reply(
                turn.system_text("kudos_unknown_category", name=wanted.group("id"), known=known)
            )
            return
        rest = rest[: wanted.start()]
    assert category is not None
    # A mention in the reason is shown as the name it stands for: the reason is the giver's
    # text, which notifies no one (and a `[you](member:ID)` typed as it is mentions no one).
    reason = " ".join(mentions_as_names(LEADING_FOR.sub("", rest)).split())
    if len(reason) < rules.min_reason_length:
        turn.reply(turn.system_text("kudos_reason_short", rules.min_reason_length))
        return
    if len(reason) > rules.max_reason_length:
        turn.reply(turn.system_text("kudos_reason_long", rules.max_reason_length))
        return
    giver_id, receiver_id = turn.member.id or 0, receiver.id or 0
    session = turn.session
    counts = await store.rule_counts(
        session, giver_id, receiver_id, turn.now, rules.reciprocal.window
    )
    if counts.given_today >= rules.daily_per_giver:
        turn.reply(turn.system_text("kudos_daily_cap", rules.daily_per_giver))
        return
    if counts.to_this_week >= rules.weekly_per_pair:
        turn.reply(
            turn.system_text("kudos_pair_cap", rules.weekly_per_pair, name=turn.name_of(receiver))
        )
        return
    # Damped when the two have thanked each other more than `after` times each, lately.
    reciprocal = rules.reciprocal
    mutual = min(counts.to_lately, counts.back_lately) >= reciprocal.after
    weight = reciprocal.weight if mutual else 1.0
    channel = recognition.shout_out_channels.get(turn.identity.platform)
    shout = bool(channel) and counts.shouted < rules.shout_outs_per_hour
    if shout:  # both are named in the channel: only if both allow being listed
        shout = await _both_listed(turn, giver_id, receiver_id)
    kudos_id = await store.give(
        session,
        giver_id=giver_id,
        receiver_id=receiver_id,
        category=category.id,
        reason=reason,
        now=turn.now,
        weight=weight,
        shouted=shout,
    )
    turn.audit("kudos.given", kudos=kudos_id, receiver=receiver_id, category=category.id)
    thanks = turn.system_text(
        "kudos_thanks", name=turn.name_of(receiver), category=category_name(turn, category)
    )
    if weight < 1:
        thanks += "\n" + turn.system_text("kudos_reciprocal")
    turn.reply(thanks)
    assert named.identity is not None
    other = turn_with(turn, receiver, named.identity)
    if other is not None:
        other.reply(
            other.system_text(
                "kudos_received",
                name=other.name_of(turn.member),
                reason=reason,
                category=category_name(other, category),
            )
        )
    if shout and channel:
        locale = turn.content.community.default_locale
        turn.reply(
            turn.system_text(
                "kudos_shout_out",
                locale=locale,
                giver=turn.name_of(turn.member, locale),
                name=turn.name_of(receiver, locale),
                reason=reason,
                category=category_name(turn, category, locale),
            ),
            to=channel,
        )
    # The receiver's badges (only where they can be told), then the giver's: one query.
    received = [(other, ("kudos_received",))] if other is not None else []
    await badges.check_each([*received, (turn, ("kudos_given",))], category=category.id)


async def _both_listed(turn: Turn, giver_id: int, receiver_id: int) -> bool:
    """Whether giver and receiver both allow `leaderboards`, which shout-outs are part of."""
    default = turn.content.community.consent_default(store.LEADERBOARDS)
    pair = {giver_id, receiver_id}
    return await consent.allowing(turn.session, pair, store.LEADERBOARDS, default) == pair


async def summary(turn: Turn) -> None:
    recognition = turn.content.recognition
    received = await store.received_by_category(turn.session, turn.member.id or 0)
    given = await store.kudos_count(turn.session, turn.member.id or 0, received=False)
    have = await store.badges_of(turn.session, turn.member.id or 0)
    lines = [turn.system_text("kudos_summary", sum(received.values()), given=given)]
    for category in recognition.categories:
        if received.get(category.id):
            lines.append(f"• {category_name(turn, category)}: {received[category.id]}")
    earned = [b for b in turn.content.badges.badges if b.id in have]
    if earned:
        names = ", ".join(badges.badge_name(turn, b) for b in earned)
        lines.append(turn.system_text("kudos_summary_badges", len(earned), badges=names))
    turn.reply("\n".join(lines))


async def top(turn: Turn, args: str) -> None:
    recognition = turn.content.recognition
    period, category = "month", None
    for word in args.split():
        if word.casefold() in PERIODS:
            period = word.casefold()
        elif word.startswith("#") and recognition.category(word[1:].casefold()):
            category = recognition.category(word[1:].casefold())
        else:
            known = ", ".join(f"#{c.id}" for c in recognition.categories)
            turn.reply(turn.system_text("kudos_top_usage", name=word, known=known))
            return
    length = PERIODS[period]
    since: datetime | None = turn.now - length if length else None
    standings = await store.leaderboard(
        turn.session,
        since,
        category.id if category else None,
        limit=10,
        window=period if length else None,
        roll=True,
        listed_by_default=turn.content.community.consent_default(store.LEADERBOARDS),
    )
    title = turn.system_text(
        f"kudos_top_{period}", category=category_name(turn, category) if category else ""
    )
    if not standings:
        turn.reply(f"{title}\n{turn.system_text('kudos_top_empty')}")
        return
    medals = {1: "🥇", 2: "🥈", 3: "🥉"}
    lines = [title]
    for line in standings:
        points = f"{line.points:g}"
        you = " ←" if line.member_id == turn.member.id else ""
        name = escape(line.name)  # a member's name: text
        lines.append(f"{medals.get(line.rank, f'{line.rank}.')} {name}: {points}{you}")
    turn.reply("\n".join(lines))


async def revoke(turn: Turn, which: str) -> None:
    if MANAGER not in turn.member.roles:
        turn.reply(turn.system_text("kudos_managers_only"))
        return
    number = whole_number(which.lstrip("#"), low=1)
    if isinstance(number, NotANumber):
        if number.reason == "other_digits":  # "¹", "٣": how to write it
            turn.reply(turn.system_text("number_expected", example="/kudos revoke 12"))
        else:
            turn.reply(turn.system_text("kudos_revoke_unknown", name=which))
        return
    revoked = await store.revoke(turn.session, number, turn.member.id or 0, turn.now)
    if revoked is None:
        turn.reply(turn.system_text("kudos_revoke_unknown", name=which))
        return
    await _audit_revoke(turn, revoked)
    receiver = (
        await turn.session.get(Member, revoked.receiver_id)
        if revoked.receiver_id is not None
        else None  # erased: the text says "someone"
    )
    turn.reply(
        turn.system_text(
            "kudos_revoked",
            name=turn.name_of(receiver),
            reason=revoked.reason,
        )
    )


async def _audit_revoke(turn: Turn, revoked: Kudos) -> None:
    turn.audit(
        "kudos.revoked",
        actor="manager",
        kudos=revoked.id,
        giver=revoked.giver_id,
        receiver=revoked.receiver_id,
    )


async def badges_command(turn: Turn, args: str) -> None:
    """`/badges`: every badge, earned ones first, with progress towards the rest."""
    have = await store.badges_of(turn.session, turn.member.id or 0)
    earned, open_ = [], []
    for badge in turn.content.badges.badges:
        description = render(
            badge.description, turn.member.locale, turn.content.community.default_locale, {}
        )
        line = f"{badges.badge_name(turn, badge)}: {description}"
        if badge.id in have:
            earned.append(f"✅ {line}")
        elif badge.when is not None:
            done = min(await badges.progress(turn, badge), badge.when.target)
            open_.append(f"▫️ {line} ({done}/{badge.when.target})")
        else:
            open_.append(f"▫️ {line}")
    if not earned and not open_:
        turn.reply(turn.system_text("badges_none"))
        return
    heading = turn.system_text("badges_heading", len(earned))
    turn.reply("\n".join([heading, *earned, *open_]))


def register(registry: Registry) -> None:
    """/kudos, then /badges (the menu lists them in this order)."""
    registry.command("kudos", "command_kudos", typed=TYPED)(kudos)
    registry.command("badges", "command_badges")(badges_command)
