"""Copies of an erased member's name, words and ids in rows that are not theirs.

A member's data is not only in their own rows: the kudos notice queued for the person they
thanked holds their name and their reason, a shout-out in the recognition channel, a manager's
alert and a mentor's offer hold their name, an audit entry of the kudos they received holds
their id, a dedupe key holds their platform id. `redact` finds every such copy in the columns
that can hold one (`COLUMNS`, whatever the row's status: a failed message too) and rewrites it:
- their name (and their platform handles) becomes `former` ("a former member");
- their own words (answers, kudos reasons, check-in comments, an intro) become "[…]" where
  the bot copied them (a message, an audit entry), not in what others wrote themselves, who
  may have written the same words;
- their platform ids (in a mention, a dedupe key, an error) become their keyed pseudonym, so
  keys that were distinct stay distinct;
- their member id, where a JSON document names a member (`MEMBER_KEYS`), becomes the pseudonym.

Every text column of every table is either listed in `COLUMNS` or, in `STRUCTURAL`, declared
to hold only what the bot or an operator wrote (a test keeps the two lists complete).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Text, and_, cast, or_, select, update
from sqlmodel import SQLModel

from storage.models import (
    Answer,
    AuditLog,
    Campaign,
    CampaignRecipient,
    CheckIn,
    DueWork,
    FailedEvent,
    FlowRun,
    Kudos,
    MentorOffer,
    MentorProfile,
    Outbox,
    ProcessedEvent,
)
from storage.session import Session

WORDS = "[…]"
MEMBER_KEYS = frozenset(
    {"member", "member_id", "receiver", "giver", "mentor", "newcomer", "mentee", "by"}
)
# The JSON documents that name members by id ({"receiver": 42}), as turn.audit and due work
# write them (json's ", " and ": ", which PostgreSQL's jsonb prints too).
ID_DOCUMENTS = frozenset({("audit_log", "detail"), ("due_work", "payload"), ("flow_run", "state")})
# What is rewritten where. A copy (what the bot wrote from her events: a message, an audit
# entry, scheduled work): her name, words and ids. What another member wrote themselves (their
# answer, kudos reason, comment, intro; a failed event of theirs): her name and ids, never
# "her words", which they may simply have written too ("for the review"). A key or a dedupe
# key: her ids only (a name there is someone else's id).
Part = Literal["copy", "authored", "key"]
AUTHORED = frozenset(
    {("answer", "value"), ("kudos", "reason"), ("checkin", "comment"), ("flow_run", "state")}
    | {("mentor_profile", "intro"), ("mentor_offer", "reasons"), ("failed_event", "event")}
    | {("campaign_recipient", "name"), ("campaign", "requested_by"), ("campaign", "approved_by")}
)
KEYS = frozenset(
    {("outbox", "dedupe_key"), ("due_work", "key"), ("failed_event", "dedupe_key")}
    | {("failed_event", "actor"), ("processed_event", "dedupe_key"), ("audit_log", "actor")}
)
RUNS_LOOKED_FOR = 3  # the longest runs of a trace a row must hold to be read
SHORTEST_WORDS = 4  # an answer shorter than this ("1", "Oui") is a choice, not their words
SHORTEST_ENCODED_ID = 8  # a shorter id's base64 forms are too short to tell from chance

# (model, column): the text or JSON columns where a copy of someone's data can be.
COLUMNS: tuple[tuple[type[SQLModel], str], ...] = (
    (Outbox, "payload"),
    (Outbox, "dedupe_key"),
    (Outbox, "last_error"),
    (AuditLog, "actor"),
    (AuditLog, "detail"),
    (DueWork, "key"),
    (DueWork, "payload"),
    (DueWork, "last_error"),
    (FailedEvent, "dedupe_key"),
    (FailedEvent, "actor"),
    (FailedEvent, "event"),
    (ProcessedEvent, "dedupe_key"),
    (Answer, "value"),
    (FlowRun, "state"),
    (Campaign, "requested_by"),
    (Campaign, "approved_by"),
    (CampaignRecipient, "name"),
    (MentorProfile, "intro"),
    (MentorOffer, "reasons"),
    (CheckIn, "comment"),
    (Kudos, "reason"),
)
# Text columns that hold only what the bot, a content author or an operator wrote, or a
# member's own data that goes with their row (their name, their identity): never a copy.
STRUCTURAL: dict[str, frozenset[str]] = {
    "app_secret": frozenset({"name", "value"}),
    "campaign": frozenset({"key", "title", "definition", "definition_hash"}),
    "day_summary": frozenset({"kind"}),
    "erased_identity": frozenset({"key"}),
    "kudos_window": frozenset({"period"}),
    "member": frozenset(
        {"display_name", "name_key", "locale", "timezone", "roles", "profile", "source"}
        | {"mode", "links"}
    ),
    "processed_event": frozenset({"platform"}),
    "audit_log": frozenset({"action"}),
    "badge_award": frozenset({"badge"}),
    "campaign_recipient": frozenset(
        {"platform", "workspace", "recipient", "locale", "reason", "delivery_id"}
    ),
    "consent": frozenset({"purpose", "source"}),
    "dashboard_link": frozenset({"nonce"}),
    "dashboard_session": frozenset({"token_hash"}),
    "due_work": frozenset({"kind"}),
    "failed_event": frozenset({"platform", "workspace", "event_type", "error"}),
    "flow_milestone": frozenset({"flow_id"}),
    "flow_run": frozenset({"flow_id", "step_id"}),
    "identity": frozenset({"platform", "workspace", "external_id", "dm_conversation"})
    | frozenset({"username"}),
    "kudos": frozenset({"category"}),
    "kudos_day_total": frozenset({"category"}),
    "kudos_total": frozenset({"category"}),
    "member_activity": frozenset({"platform"}),
    "mentor_profile": frozenset({"topics", "languages"}),
    "outbox": frozenset({"platform", "recipient", "delivery_id"}),
    "answer": frozenset({"flow_id", "step_id"}),
    "mentorship": frozenset({"end_reason"}),
}


@dataclass
class Traces:
    """What of one member may have been copied into others' rows."""

    member_id: int
    alias: str  # their keyed pseudonym
    former: str  # "a former member", in the community's language
    names: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)
    ids: dict[str, set[str]] = field(default_factory=dict)  # platform: ids, conversations
    # platform: the ids as base64 shows them inside an opaque id (WhatsApp's message ids,
    # `wamid.…`, are base64 holding the sender's number), at each of the three alignments
    encoded: dict[str, set[str]] = field(default_factory=dict)
    _rewriters: dict[tuple[str | None, Part], _Rewriter] = field(default_factory=dict)

    def add_id(self, platform: str, value: str) -> None:
        self.ids.setdefault(platform, set()).add(value)
        if len(value) >= SHORTEST_ENCODED_ID:
            self.encoded.setdefault(platform, set()).update(_base64_forms(value))

    def add_words(self, values: Iterable[Any]) -> None:
        for value in values:
            for text in _strings(value):
                if len(text.strip()) >= SHORTEST_WORDS:
                    self.words.add(text.strip())

    def needles(self, part: Part = "copy") -> list[tuple[str, ...]]:
        """What a LIKE looks for, to find the rows worth reading: for each trace `part`
        rewrites, its longest runs of letters and digits (whatever markup escaped around
        them), all of which a row must hold ("Ada", "Lovelace": not every row with "Ada")."""
        found: set[tuple[str, ...]] = set()
        names, words = self._texts(part)
        for trace in names | words | set().union(*self.ids.values(), *self.encoded.values()):
            runs = sorted(set(re.findall(r"[^\W_]+", trace)), key=len, reverse=True)
            found.add(tuple(runs[:RUNS_LOOKED_FOR]) if runs else (trace,))
        return sorted(found)

    def _texts(self, part: Part) -> tuple[set[str], set[str]]:
        """The names and words rewritten in `part` (see `Part`)."""
        if part == "key":
            return set(), set()
        return self.names, (self.words if part == "copy" else set())

    def rewrite(self, value: str, platform: str | None = None, part: Part = "copy") -> str:
        """`value` with every trace `part` takes replaced: their ids on `platform` (on every
        platform when None), and their names and words as `part` says."""
        rewriter = self._rewriters.get((platform, part))
        if rewriter is None:
            ids = self.ids.get(platform, set()) if platform else set().union(*self.ids.values())
            encoded = (
                self.encoded.get(platform, set())
                if platform
                else set().union(*self.encoded.values())
            )
            names, words = self._texts(part)
            rewriter = _Rewriter(names, words, ids, encoded, self)
            self._rewriters[(platform, part)] = rewriter
        return rewriter.sub(value)

    def rewrite_value(
        self,
        value: Any,
        key: str | None = None,
        platform: str | None = None,
        part: Part = "copy",
    ) -> Any:
        """A JSON document (or a plain value) with its strings rewritten, and the member's id
        replaced by the pseudonym where a key says it names a member."""
        if isinstance(value, str):
            value = value.replace(f"member:{self.member_id}", f"member:{self.alias}")
            return self.rewrite(value, platform, part)
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and key in MEMBER_KEYS and value == self.member_id:
            return self.alias
        if isinstance(value, dict):
            return {k: self.rewrite_value(v, k, platform, part) for k, v in value.items()}
        if isinstance(value, list):
            return [self.rewrite_value(v, key, platform, part) for v in value]
        return value


class _Rewriter:
    """One compiled pattern: a mention of them (`[name](member:ID)`) as a whole; then each
    trace, longest first (a name inside a longer answer goes with the answer), whatever its
    case and however markup escaped it (a backslash before any sign), bounded by non-word
    characters (so that "Ada" leaves "Adam" alone)."""

    def __init__(
        self,
        names: set[str],
        words: set[str],
        ids: set[str],
        encoded: set[str],
        traces: Traces,
    ) -> None:
        self.alias = traces.alias
        self.former = traces.former
        replacements: dict[str, str] = {}
        for trace in words:
            replacements[_plain(trace)] = WORDS
        for trace in ids:
            replacements[_plain(trace)] = traces.alias
        for trace in names:
            replacements[_plain(trace)] = traces.former
        self.replacements = replacements
        parts = []
        if encoded:  # inside a longer opaque id: no boundaries, and case matters in base64
            forms = "|".join(re.escape(e) for e in sorted(encoded, key=len, reverse=True))
            parts.append(rf"(?P<encoded>(?-i:{forms}))")
        if ids:
            alternatives = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
            parts.append(rf"(?P<link>\[(?:\\.|[^\\\]])*\]\(member:(?:{alternatives})\))")
        if replacements:
            ordered = sorted(replacements, key=len, reverse=True)
            body = "|".join(_escapable(trace) for trace in ordered)
            parts.append(rf"(?<!\w)(?P<trace>{body})(?!\w)")
        self.pattern = re.compile("|".join(parts) or r"(?!x)x", re.IGNORECASE)

    def sub(self, value: str) -> str:
        return self.pattern.sub(self._replacement, value)

    def _replacement(self, found: re.Match[str]) -> str:
        if found.groupdict().get("encoded"):
            return self.alias
        if found.groupdict().get("link"):
            by = self.former
        else:
            by = self.replacements[_plain(found.group("trace"))]
        if by == self.former and _starts_sentence(found.string[: found.start()]):
            return by[:1].upper() + by[1:]  # "A former member left…", "🎉 A former member…"
        return by


def _starts_sentence(before: str) -> bool:
    """Whether what follows `before` begins a sentence: nothing but signs and emoji since the
    text's start or the last sentence's end."""
    last = max(before.rfind(end) for end in (". ", "! ", "? ", "\n"))
    return not any(c.isalnum() for c in before[last + 1 :])


def _base64_forms(value: str) -> set[str]:
    """`value` as it reads inside any base64 text, standard or URL-safe: at each of the three
    alignments its bytes can take there, the characters that depend on its bytes alone."""
    raw = value.encode()
    forms = set()
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + raw).decode()
        first, last = -(-pad * 8 // 6), (pad + len(raw)) * 8 // 6
        form = encoded[first:last]
        forms |= {form, form.replace("+", "-").replace("/", "_")}
    return forms


def _plain(text: str) -> str:
    """A trace as found, without markup's escapes, case folded: how replacements are kept."""
    return re.sub(r"\\(.)", r"\1", text).casefold()


def _escapable(trace: str) -> str:
    """A pattern for `trace` that also matches it with a backslash before any sign or
    underscore (the content's Markdown escapes member text so: flows/markup.py)."""
    return "".join(
        re.escape(c) if c.isalnum() or c.isspace() else r"\\?" + re.escape(c) for c in trace
    )


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple | set):
        for item in value:
            yield from _strings(item)


async def redact(session: Session, traces: Traces) -> int:
    """Rewrite every copy of `traces` in rows that are not the member's own (their own are
    deleted). How many rows changed."""
    changed = 0
    dialect = session.get_bind().dialect.name
    for model, name in COLUMNS:
        table = model.__table__  # type: ignore[attr-defined]
        column = table.c[name]
        spot: tuple[str, str] = (table.name, name)
        part: Part = "key" if spot in KEYS else "authored" if spot in AUTHORED else "copy"
        platform = table.c.get("platform")
        primary = list(table.primary_key.columns)
        stored = cast(column, Text)
        conditions = [
            and_(*(_contains(stored, run, dialect) for run in runs))
            for runs in traces.needles(part)
        ]
        if (table.name, name) in ID_DOCUMENTS:
            conditions += [
                stored.like(f'%"{key}": {traces.member_id}{end}%')
                for key in sorted(MEMBER_KEYS)
                for end in (",", "}")
            ]
        if name == "actor":
            conditions.append(column == f"member:{traces.member_id}")
        if not conditions:
            continue
        read = [*primary, column] + ([platform] if platform is not None else [])
        for row in (await session.execute(select(*read).where(or_(*conditions)))).all():
            key = row[: len(primary)]
            value = row[len(primary)]
            on = row[-1] if platform is not None else None
            rewritten = traces.rewrite_value(value, name, on, part)
            if rewritten == value:
                continue
            where = [c == k for c, k in zip(primary, key, strict=True)]
            await session.execute(update(table).where(*where).values({name: rewritten}))
            changed += 1
    return changed


def _contains(stored: Any, needle: str, dialect: str) -> Any:
    """`stored` holds `needle` whatever its case, as typed or as JSON writes it (non-ASCII as
    \\u escapes). SQLite's LIKE already ignores the case of ASCII letters (`ilike` there
    calls lower() on every row); the case of other letters is given as patterns of its own."""
    forms = {needle} if needle.isascii() else {needle, needle.lower(), needle.upper()}
    forms |= {json.dumps(form)[1:-1] for form in forms}
    if dialect != "sqlite":
        return or_(*(stored.ilike(_like(form), escape="\\") for form in sorted(forms)))
    return or_(*(stored.like(_like(form), escape="\\") for form in sorted(forms)))


def _like(needle: str) -> str:
    return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
