"""Badges: earned when a count reaches its number (content/badges.yaml), or given by a flow's
`award_badge` action; each once, told to the member and announced where configured."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from bot.registry import Registry
from bot.turn import Turn
from flows.feature_settings import Badge
from flows.markup import Markdown, escape
from flows.text import render
from storage import consent
from storage import recognition as store
from storage.models import FlowRun


def badge_name(turn: Turn, badge: Badge, locale: str | None = None) -> Markdown:
    name = render(
        badge.name, locale or turn.member.locale, turn.content.community.default_locale, {}
    )
    return Markdown(f"{escape(badge.emoji)} {name}".strip())


async def progress(turn: Turn, badge: Badge) -> int:
    """How far the member is towards the badge's number."""
    when = badge.when
    member_id = turn.member.id or 0
    if when is None:
        return 0
    if when.kudos_received is not None or when.kudos_given is not None:
        received = when.kudos_received is not None
        return await store.kudos_count(
            turn.session, member_id, received=received, category=when.category
        )
    if when.flows_completed is not None:
        return await store.flows_completed(turn.session, member_id, when.flow)
    return await store.mentorships_completed(turn.session, member_id)


async def check(turn: Turn, *kinds: str, category: str | None = None) -> None:
    """Award every badge of these kinds (kudos_received, kudos_given, flows_completed,
    mentorships_completed) the member has now reached; after a kudos, only the badges its
    `category` counts towards."""
    await check_each([(turn, kinds)], category=category)


async def check_each(
    checks: Sequence[tuple[Turn, Sequence[str]]], *, category: str | None = None
) -> None:
    """`check` for several members at once (a kudos' receiver and giver): the badges they
    already have are read in one query, and none at all when no badge counts these kinds."""
    wanted = [(turn, _counting(turn, kinds, category)) for turn, kinds in checks]
    wanted = [(turn, badges) for turn, badges in wanted if badges]
    if not wanted:
        return
    members = [turn.member.id or 0 for turn, _ in wanted]
    have = await store.badges_of_each(wanted[0][0].session, members)
    for turn, badges in wanted:
        for badge in badges:
            if badge.id in have[turn.member.id or 0]:
                continue
            assert badge.when is not None
            if await progress(turn, badge) >= badge.when.target:
                await give(turn, badge)


def _counting(turn: Turn, kinds: Sequence[str], category: str | None) -> list[Badge]:
    """The content's badges that count one of these kinds (and, after a kudos, its category)."""
    counting = []
    for badge in turn.content.badges.badges:
        when = badge.when
        if when is None or not any(getattr(when, kind) is not None for kind in kinds):
            continue
        if category is not None and when.category not in (None, category):
            continue  # counts kudos of another kind: this one changed nothing towards it
        counting.append(badge)
    return counting


async def give(turn: Turn, badge: Badge) -> bool:
    if not await store.award(turn.session, turn.member.id or 0, badge.id, turn.now):
        return False
    turn.audit("badge.awarded", badge=badge.id)
    turn.reply(turn.system_text("badge_earned", badge=badge_name(turn, badge)))
    recognition = turn.content.recognition
    channel = recognition.shout_out_channels.get(turn.identity.platform)
    if recognition.announce_badges and channel and await _listed(turn):
        locale = turn.content.community.default_locale
        turn.reply(
            turn.system_text(
                "badge_announced",
                locale=locale,
                member=turn.name_of(turn.member, locale),
                badge=badge_name(turn, badge, locale),
            ),
            to=channel,
        )
    return True


async def _listed(turn: Turn) -> bool:
    """Whether the member allows `leaderboards`, which announcing their badge in the
    recognition channel is part of (as shout-outs are)."""
    default = turn.content.community.consent_default(store.LEADERBOARDS)
    member = turn.member.id or 0
    return await consent.allowing(turn.session, [member], store.LEADERBOARDS, default) == {member}


class BadgeParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    badge: str


async def award_badge(turn: Turn, parameters: BadgeParameters) -> None:
    badge = turn.content.badges.badge(parameters.badge)
    if badge is None:
        raise LookupError(f"badge {parameters.badge!r} is not in content/badges.yaml")
    await give(turn, badge)


async def flow_completed(turn: Turn, run: FlowRun) -> None:
    await check(turn, "flows_completed")


def register(registry: Registry) -> None:
    """The award_badge action, and badges counted when a flow is completed."""
    registry.action(
        "award_badge", "give the member a badge of content/badges.yaml", BadgeParameters
    )(award_badge)
    registry.on_completed(flow_completed)
