"""The dead letter: an event whose handling kept failing is recorded, its member told, and it
is acknowledged, so it never blocks the events after it (a platform that is answered an error
delivers the same event again, and Telegram's and Zulip's queues hand over nothing after it).

What is recorded says what failed, never what the member wrote; the event itself is kept in a
column of its own only so that `onramp events retry` can run it again once the cause is fixed.
"""

from __future__ import annotations

import logging
from dataclasses import fields
from datetime import datetime
from functools import cache
from typing import Any, get_origin, get_type_hints

from bot import metrics
from bot.events import ChoiceMade, CommandInvoked, Event, MessageReceived, UnsupportedReceived
from bot.registry import Registry
from bot.turn import Turn
from flows.content import ContentTree
from storage import failed_events, members
from storage.models import Identity, Member
from storage.privacy import pseudonym
from storage.session import Database, Session

log = logging.getLogger("onramp.dispatch")
APOLOGY = "event_failed"  # the system text a member whose event failed is sent, once


class UnknownEventError(ValueError):
    """A kept event this version cannot read back (its kind no longer exists)."""


def encode(event: Event) -> dict[str, Any]:
    """The event as JSON: its kind and its fields."""
    document: dict[str, Any] = {"type": type(event).__name__}
    for field in fields(event):
        value = getattr(event, field.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        document[field.name] = value
    return document


def decode(document: dict[str, Any]) -> Event:
    kind = _event_types().get(str(document.get("type")))
    if kind is None:
        raise UnknownEventError(f"no kind of event is called {document.get('type')!r}")
    hints = get_type_hints(kind)
    values: dict[str, Any] = {}
    for field in fields(kind):
        if field.name not in document:
            continue  # a field added since: its default
        value = document[field.name]
        hint = hints[field.name]
        if hint is datetime and isinstance(value, str):
            value = datetime.fromisoformat(value)
        elif get_origin(hint) is tuple and isinstance(value, list):
            value = tuple(value)
        values[field.name] = value
    return kind(**values)


@cache
def _event_types() -> dict[str, type[Event]]:
    found: dict[str, type[Event]] = {}
    waiting: list[type[Event]] = [Event]
    while waiting:
        kind = waiting.pop()
        found[kind.__name__] = kind
        waiting.extend(kind.__subclasses__())
    return found


def error_name(error: BaseException) -> str:
    """The exception's class, never its message (which may quote what a member wrote)."""
    kind = type(error)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


async def record(
    session: Session,
    db: Database,
    content: ContentTree,
    event: Event,
    error: BaseException,
    attempts: int,
    now: datetime,
    locale: str | None,
) -> tuple[int | None, tuple[int, ...]]:
    """Record the event as failed and queue the member's apology, in the caller's transaction
    (which has marked the event processed). Returns the member's id, if they are one, and
    the apology's outbox ids."""
    found = await members.find_identity_and_run(
        session, event.platform, event.workspace, event.actor
    )
    member_id = found[1].id if found is not None else None
    await failed_events.record(
        session,
        dedupe_key=event.dedupe_key,
        platform=event.platform,
        workspace=event.workspace,
        actor=event.actor,
        member_id=member_id,
        event_type=type(event).__name__,
        error=error_name(error),
        attempts=attempts,
        failed_at=now,
        event=encode(event),
    )
    turn = _apology_turn(session, db, content, event, found, now, locale)
    if turn is None:
        return member_id, ()
    try:
        turn.reply(turn.system_text(APOLOGY))
    except Exception:  # the content cannot say it: the record matters more than the apology
        log.warning("no apology for a failed event", exc_info=True)
        return member_id, ()
    return member_id, await turn.flush()


def _apology_turn(
    session: Session,
    db: Database,
    content: ContentTree,
    event: Event,
    found: tuple[Identity, Member, Any] | None,
    now: datetime,
    locale: str | None,
) -> Turn | None:
    """A turn to apologise to whoever did what failed: nobody for what no member did (a
    delivery status, a join), nor for a member who sent /stop, unless it was a command.
    It only says sorry, so it runs no feature: its registry is empty."""
    if not isinstance(event, MessageReceived | CommandInvoked | ChoiceMade | UnsupportedReceived):
        return None
    key = f"failed:{event.dedupe_key}"
    if found is not None:
        identity, member, _ = found
        if member.opted_out and not isinstance(event, CommandInvoked):
            return None
        return Turn(session, db, content, member, identity, now, key=key, registry=Registry())
    if not event.private:  # a stranger in a group: nowhere of theirs to write to yet
        return None
    # Their first event failed, so they are no member yet: answer in their private chat,
    # as the member they are not (nothing of this is stored).
    stranger = Member(display_name=(event.display_name or "")[:200], locale=locale)
    identity = Identity(
        platform=event.platform,
        workspace=event.workspace,
        external_id=event.actor,
        dm_conversation=event.conversation or None,
    )
    return Turn(session, db, content, stranger, identity, now, key=key, registry=Registry())


def log_failure(event: Event, error: BaseException, attempts: int, member_id: int | None) -> None:
    """Once per failed event, at ERROR with the traceback: the operator needs it to fix the
    cause. Never the member's text: the kind of event, its key and who, pseudonymously."""
    metrics.failed_event(event.platform)
    log.error(
        "event failed %d times; recorded as failed (onramp events failed)",
        attempts,
        exc_info=error,
        extra={
            "platform": event.platform,
            "kind": type(event).__name__,
            "dedupe_key": event.dedupe_key,
            "member": pseudonym(member_id) if member_id is not None else None,
            "error": error_name(error),
        },
    )


def log_unrecorded(event: Event, error: BaseException, attempts: int) -> None:
    log.error(
        "event failed %d times and could not be recorded; the platform will deliver it again",
        attempts,
        exc_info=error,
        extra={
            "platform": event.platform,
            "kind": type(event).__name__,
            "dedupe_key": event.dedupe_key,
            "error": error_name(error),
        },
    )
