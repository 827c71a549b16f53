"""What each kind of text can read, built from the content tree and from what the code declares
it passes (flows/system_texts.py): the scopes `onramp check` type-checks templates in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flows.content import ContentTree
from flows.flow_paths import Arrival, arrivals
from flows.schema import CORE_PROFILE_FIELDS, AskStep, Flow
from flows.system_texts import (
    BARE_SYSTEM_TEXTS,
    COUNTED_SYSTEM_TEXTS,
    FEATURE_FLOW_CONTEXT,
    SYSTEM_TEXT_CONTEXT,
)
from flows.template_types import ALWAYS, MAYBE, Presence, Scope

# What bot/turn.py (`template_variables`, `profile`) gives every member, whatever they did.
BUILT_IN_MEMBER_FIELDS = ("name", *CORE_PROFILE_FIELDS, "roles")
# What a campaign's message knows of its recipient (bot/campaigns/delivery.py `_variables`,
# and the preview's sample member in bot/campaigns/previewing.py).
CAMPAIGN_MEMBER_FIELDS = ("name",)

NO_VARIABLES = "this text is also shown where no member is known, so it can use no variables"
NO_VARIABLES_RECOGNITION = (
    "badge and category names and descriptions are shown without variables (in /badges, "
    "kudos and announcements)"
)


def bare(where: str, why: str = NO_VARIABLES) -> Scope:
    return Scope(where, bare=why)


CAMPAIGN_TITLES = bare(
    "campaign titles", "campaign titles are shown to managers, without variables"
)


def member_fields(tree: ContentTree, set_surely: Iterable[str] = ()) -> dict[str, Presence]:
    """Built-in fields are always there; the community's own only once a flow has set them."""
    fields: dict[str, Presence] = dict.fromkeys(BUILT_IN_MEMBER_FIELDS, ALWAYS)
    surely = set(set_surely)
    for name in tree.community.profile_fields:
        fields.setdefault(name, ALWAYS if name in surely else MAYBE)
    return fields


def _presence(sets: list[tuple[str, ...]]) -> dict[str, Presence]:
    """Keys passed by every one of `sets` are always there; by some, maybe ("key?" too)."""
    if not sets:
        return {}
    plain = [{k for k in keys if not k.endswith("?")} for keys in sets]
    every = set.intersection(*plain)
    some = {k.rstrip("?") for keys in sets for k in keys}
    return {k: ALWAYS if k in every else MAYBE for k in sorted(some)}


def system_scope(tree: ContentTree, key: str) -> Scope:
    where = f"system text '{key}'"
    if key in BARE_SYSTEM_TEXTS:
        return bare(where)
    context = SYSTEM_TEXT_CONTEXT.get(key, ())
    return Scope(
        where,
        member=member_fields(tree),
        member_known=frozenset(member_fields(tree)),
        links=frozenset(tree.community.links),
        context=_presence([context]),
        no_count=None
        if key in COUNTED_SYSTEM_TEXTS
        else f"the code says {key} without a number (flows/system_texts.py)",
    )


def campaign_scope(tree: ContentTree) -> Scope:
    return Scope(
        "campaign messages",
        member=dict.fromkeys(CAMPAIGN_MEMBER_FIELDS, ALWAYS),
        member_known=frozenset(member_fields(tree)),
        links=frozenset(tree.community.links),
        no_count="campaign messages have no count",
    )


class FlowScopes:
    """The scopes of one flow's texts, step by step."""

    def __init__(self, tree: ContentTree, flow: Flow) -> None:
        self.tree = tree
        self.flow = flow
        self.arrivals: Mapping[str, Arrival] = arrivals(flow)
        self.asks = frozenset(s.id for s in flow.steps if isinstance(s, AskStep))
        starts = self.starts()
        self.context = _presence([keys for _, keys in starts]) if starts else None
        self.context_from = "; ".join(
            f"{how}: {', '.join(keys) if keys else 'no context'}" for how, keys in starts
        )

    def starts(self) -> list[tuple[str, tuple[str, ...]]]:
        """Every way the flow starts, with the context keys each passes."""
        flow, tree = self.flow, self.tree
        found: list[tuple[str, tuple[str, ...]]] = []
        trigger = flow.trigger
        if trigger.member_joined:
            found.append(("when a member joins", ()))
        if trigger.command:
            found.append((f"/{trigger.command}", ()))
        if trigger.keywords:
            found.append(("its keywords", ()))
        named = {
            "signup_flow": ("matching.yaml", tree.matching.signup_flow),
            "offer_flow": ("matching.yaml", tree.matching.offer_flow),
            "checkin_flow": ("checkins.yaml", tree.checkins.checkin_flow),
            "feedback_flow": ("checkins.yaml", tree.checkins.feedback_flow),
        }
        for setting, (file, flow_id) in named.items():
            if flow_id == flow.id:
                found.append((f"{file} {setting}", FEATURE_FLOW_CONTEXT.get(setting, ())))
        for campaign_id, campaign in tree.campaigns.items():
            if campaign.flow == flow.id:
                found.append((f"campaign '{campaign_id}'", ()))
        return found

    def title(self) -> Scope:
        return bare(
            f"the title of flow '{self.flow.id}'",
            "flow titles are also shown in command menus, where no member is known, so they "
            "can use no variables",
        )

    def labels(self, step_id: str) -> Scope:
        if self.flow.id == self.tree.matching.signup_flow:
            return bare(
                f"step '{step_id}'",
                "the sign-up flow's choice labels also name topics in offers to mentors, where "
                "they are shown without variables",
            )
        return self.at(step_id, counted=False)

    def at(self, step_id: str, counted: bool) -> Scope:
        arrival = self.arrivals.get(step_id)
        if arrival is None:  # never reached (warned about): judge names, not paths
            answers: dict[str, Presence] = dict.fromkeys(self.asks, ALWAYS)
            set_surely: frozenset[str] = frozenset(self.tree.community.profile_fields)
        else:
            answers = {
                a: ALWAYS if a in arrival.answered_surely else MAYBE for a in arrival.answered_maybe
            }
            set_surely = arrival.set_surely
        return Scope(
            f"flow '{self.flow.id}'",
            member=member_fields(self.tree, set_surely),
            member_known=frozenset(member_fields(self.tree)),
            links=frozenset(self.tree.community.links),
            answers=answers,
            asks=self.asks,
            context=self.context,
            context_from=self.context_from,
            no_count=None
            if counted
            else 'this step has no count; add count: "{{ … }}" to say which number it shows',
        )
