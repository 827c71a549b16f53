"""Checks of campaign files a schema alone cannot make: translations, the flow and step they
name, the platforms and locales of their segment, and each platform's message length."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from importlib.metadata import entry_points
from typing import Any

from flows.campaigns import Campaign, LocalSendTime, Segment, lateness, utc_text
from flows.content import ContentTree
from flows.problems import Problem, did_you_mean
from flows.schema import ANY_LOCALE
from flows.template_scopes import CAMPAIGN_TITLES, campaign_scope
from flows.text import render
from flows.text_checks import TextChecker
from flows.yamlfile import PathKey

ADAPTER_GROUP = "onramp.adapters"
# A name as long as any member's display name (the column's width) stands in for
# {{ member.name }} when lengths are checked.
LONGEST_NAME = "W" * 200


@functools.cache
def platform_limits() -> dict[str, int]:
    """Each installed platform's longest message, from its adapter's declared capabilities."""
    limits = {}
    for entry in entry_points(group=ADAPTER_GROUP):
        try:
            capabilities = getattr(entry.load(), "capabilities", None)
        except Exception:  # an adapter that cannot load is reported by `onramp run`
            continue
        if capabilities is not None:
            limits[entry.name] = int(capabilities.max_text_length)
    return limits


def segment_tests(segment: Segment, path: PathKey = ("segment",)) -> list[tuple[PathKey, str, Any]]:
    """Every test in a segment with its path in the file, combinations opened up."""
    name, value = segment.test()
    if name in ("all", "any"):
        return [
            found
            for number, part in enumerate(value)
            for found in segment_tests(part, (*path, name, number))
        ]
    if name == "not":
        return segment_tests(value, (*path, "not"))
    return [((*path, name), name, value)]


def check_campaigns(
    tree: ContentTree, unparsed: set[str], now: datetime | None = None
) -> list[Problem]:
    """Every campaign's problems; whether its times have passed is judged at `now` (by
    default the moment of the check: `onramp check`, the bot's start)."""
    now = now or datetime.now(UTC)
    problems: list[Problem] = []
    for campaign_id, campaign in tree.campaigns.items():
        document = tree.documents[tree.campaign_files[campaign_id]]
        checker = TextChecker(tree, document, campaign_scope(tree))
        _check_one(tree, campaign, checker, unparsed, now)
        problems.extend(checker.problems)
    return problems


def _check_one(
    tree: ContentTree, campaign: Campaign, checker: TextChecker, unparsed: set[str], now: datetime
) -> None:
    checker.text(campaign.title, ("title",), None, scope=CAMPAIGN_TITLES)
    if campaign.message is not None:
        checker.text(campaign.message, ("message",), None)
        _check_lengths(tree, campaign, checker)
    if campaign.flow is not None and campaign.flow not in {*tree.flows, *unparsed}:
        checker.add(
            ("flow",),
            None,
            f"flow '{campaign.flow}' does not exist",
            did_you_mean(campaign.flow, tree.flows),
        )
    if campaign.whatsapp_template is not None:
        for number, parameter in enumerate(campaign.whatsapp_template.parameters):
            checker.template(parameter, ("whatsapp_template", "parameters", number), None)
    purposes = list(getattr(tree.community, "consent_purposes", ["announcements"]))
    if campaign.purpose not in purposes:
        checker.add(
            ("purpose",),
            None,
            f"purpose '{campaign.purpose}' is not one of community.yaml's consent_purposes",
            did_you_mean(campaign.purpose, purposes) or f"use one of: {', '.join(purposes)}",
        )
    _check_times(campaign, checker, now)
    _check_segment(tree, campaign, checker, purposes)


def _check_times(campaign: Campaign, checker: TextChecker, now: datetime) -> None:
    """A campaign whose time has passed is stale, not invalid: a warning, so that an old file
    left in campaigns/ never stops the bot; `onramp campaign send` refuses an expired one."""
    late = lateness(campaign, now)
    when = send_time_words(campaign)
    if late.expired:
        assert campaign.expires_at is not None
        why = "has passed" if campaign.expires_at <= now else f"comes before {when} everywhere"
        checker.add(
            ("expires_at",),
            None,
            f"expires_at {utc_text(campaign.expires_at)} {why}: nobody can be sent it",
            "`onramp campaign send` refuses it; set a later send_at and expires_at, or remove "
            "the file",
            "warning",
        )
    elif late.send_passed:
        checker.add(
            ("send_at",),
            None,
            f"send_at {when} has passed",
            "`onramp campaign send` would send it at once; set a later time to schedule it",
            "warning",
        )
    if late.expires_early:
        assert campaign.expires_at is not None
        checker.add(
            ("expires_at",),
            None,
            f"expires_at {utc_text(campaign.expires_at)} comes before {when} in the time zones "
            "furthest west: members there would not get it",
            "set a later expires_at, or an earlier send_at",
            "warning",
        )


def send_time_words(campaign: Campaign) -> str:
    """The file's send time as a manager wrote it: "2026-12-01 10:00 UTC", or "10:00 local
    on 2026-12-01"."""
    at = campaign.send_at
    if isinstance(at, LocalSendTime):
        return f"{at.local_time} local on {at.date.isoformat()}"
    return utc_text(at) if isinstance(at, datetime) else "now"


def _check_segment(
    tree: ContentTree, campaign: Campaign, checker: TextChecker, purposes: list[str]
) -> None:
    platforms = sorted(platform_limits())
    onboarding = tree.flows.get(tree.community.onboarding_flow)
    steps = [step.id for step in onboarding.steps] if onboarding else []
    for path, name, value in segment_tests(campaign.segment):
        if name == "platform":
            for platform in value:
                if platforms and platform not in platforms:
                    checker.add(
                        path,
                        None,
                        f"unknown platform '{platform}'",
                        did_you_mean(platform, platforms) or f"use one of: {', '.join(platforms)}",
                    )
        elif name == "locale":
            for locale in value:
                if locale not in tree.community.locales:
                    checker.add(
                        path,
                        None,
                        f"'{locale}' is not a locale of this community",
                        did_you_mean(locale, tree.community.locales)
                        or f"use one of: {', '.join(tree.community.locales)}",
                    )
        elif name == "stalled" and value.at is not None and steps and value.at not in steps:
            checker.add(
                (*path, "at"),
                None,
                f"the onboarding flow has no step '{value.at}'",
                did_you_mean(value.at, steps),
            )
        elif name == "consent" and value not in purposes:
            checker.add(
                path,
                None,
                f"purpose '{value}' is not one of community.yaml's consent_purposes",
                did_you_mean(value, purposes) or f"use one of: {', '.join(purposes)}",
            )


def _check_lengths(tree: ContentTree, campaign: Campaign, checker: TextChecker) -> None:
    """The message, with the opt-out hint and the longest name, fits every platform it may
    go to (those of a top-level `platform` test, else every installed one)."""
    assert campaign.message is not None
    limits = platform_limits()
    name, value = campaign.segment.test()
    if name == "platform":
        limits = {p: limit for p, limit in limits.items() if p in value}
    if not limits:
        return
    hint = tree.system.get("campaign_opt_out")
    variables = {
        "member": {"name": LONGEST_NAME},
        "community": {"name": tree.community.name, "links": dict(tree.community.links)},
        "answers": {},
        "context": {},
        "count": None,
    }
    default = tree.community.default_locale
    locales = tree.community.locales if ANY_LOCALE in campaign.message else list(campaign.message)
    for locale in locales:
        try:
            text = render(campaign.message, locale, default, variables)
            if hint is not None:
                text += "\n\n" + render(hint, locale, default, variables)
        except Exception:  # template errors are reported by the text checks
            return
        platform, limit = min(limits.items(), key=lambda item: item[1])
        if len(text) > limit:
            key: PathKey = ("message",) if ANY_LOCALE in campaign.message else ("message", locale)
            checker.add(
                key,
                None,
                f"the '{locale}' message is {len(text)} characters with the opt-out hint and a "
                f"long name; {platform} allows {limit}",
                "shorten it, or send a flow that says it in several messages",
            )
