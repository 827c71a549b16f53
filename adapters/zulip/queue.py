"""Zulip's event queue, read in a thread: register, catch up, long-poll, register again.

Every queue gets every event, so only one replica reads one (the adapter's `lead()`). The
queue lives on the server: an event stays in it until a later poll's `last_event_id` says it
was handled, and each event is handed over, and committed by the core, before the next poll.
So an event that was not committed comes again, on the next poll of the same queue.

What does not survive is the queue itself. Zulip deletes a queue nobody has polled for 10
minutes (the next poll gets `BAD_EVENT_QUEUE_ID`), and a restarted process, or the replica
that takes over from a dead leader, does not know the old queue's id. A new queue holds only
what happens after it was registered. To close that gap, each new queue is followed by a
catch-up: the joins (`date_joined`) and the direct messages and @-mentions of the last
`catch_up_seconds` (default 10 minutes) are handed over too. Most of them were handled before;
the core recognises them by their keys (the user, the message id) and they change nothing.
What happened longer ago than that while no queue was read is missed. A process that loses
leadership but lives on keeps its queue, and carries on from where it was if it leads again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from adapters.zulip.api import Answer, Api, call_errors

log = logging.getLogger("onramp.zulip")
JSON = dict[str, Any]
Deliver = Callable[[JSON], None]  # hands one event over; returns once it is committed
CATCH_UP_MESSAGES = 100  # the newest of each kind (direct, @-mentions) looked at
DEFAULT_LONGPOLL_SECONDS = 90.0
MIN_PAUSE, MAX_PAUSE = 1.0, 30.0


class Stopped(Exception):
    """The consumer was told to stop while handing an event over."""


class _Wait(Exception):
    """Zulip could not be asked, or said no: wait (`seconds`, or a backoff), then try again."""

    def __init__(self, reason: str, seconds: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.seconds = reason, seconds


@dataclass
class Position:
    """A registered queue, how far it has been read, and its catch-up still to hand over
    (None: not fetched yet)."""

    queue_id: str
    last_event_id: int
    longpoll_seconds: float
    catch_up: list[JSON] | None = field(default=None, repr=False)
    users: list[Any] = field(default_factory=list, repr=False)  # as register fetched them


class EventQueue:
    """The bot's event queue on one Zulip server, and where reading it has got to."""

    def __init__(self, api: Api, *, joins: bool, catch_up_seconds: float) -> None:
        self.api = api
        self.joins = joins
        self.catch_up_seconds = catch_up_seconds
        self.position: Position | None = None

    def run(self, stopping: threading.Event, deliver: Deliver) -> None:
        """Read until `stopping` is set (blocking). Raises what `deliver` raised: the event
        stays unconfirmed, and comes again when this runs next."""
        api = self.api.fork()
        pause = MIN_PAUSE
        try:
            while not stopping.is_set():
                try:
                    position, events, catching_up = self._next(api)
                except _Wait as wait:
                    log.warning("zulip event queue: %s", wait.reason[:300])
                    stopping.wait(wait.seconds if wait.seconds is not None else pause)
                    pause = min(pause * 2, MAX_PAUSE)
                    continue
                pause = MIN_PAUSE
                self._hand_over(position, events, catching_up, stopping, deliver)
        except Stopped:
            pass
        finally:
            api.close()

    def deregister(self) -> None:
        """Delete the queue on the server (blocking, best effort): the bot is stopping."""
        position, self.position = self.position, None
        if position is None:
            return
        api = self.api.fork()
        try:
            api.call("events", "DELETE", {"queue_id": position.queue_id}, timeout=3)
        except call_errors() as exc:
            log.info("zulip event queue not deleted: %s", type(exc).__name__)
        finally:
            api.close()

    def _next(self, api: Api) -> tuple[Position, list[JSON], bool]:
        """The next events to hand over: a new queue's catch-up (True), or a poll's."""
        if self.position is None:
            self.position = self._register(api)
        position = self.position
        if position.catch_up is None:
            position.catch_up = self._catch_up(api, position)
        if position.catch_up:
            return position, list(position.catch_up), True
        return position, self._poll(api, position), False

    def _hand_over(
        self,
        position: Position,
        events: list[JSON],
        catching_up: bool,
        stopping: threading.Event,
        deliver: Deliver,
    ) -> None:
        for event in events:
            if stopping.is_set():
                raise Stopped
            if event.get("type") != "heartbeat":
                deliver(event)
            if catching_up and position.catch_up:  # handed over: not again
                position.catch_up.pop(0)
            elif isinstance(event.get("id"), int):  # confirmed by the next poll
                position.last_event_id = max(position.last_event_id, event["id"])

    def _register(self, api: Api) -> Position:
        types = ["message", "realm_user"] if self.joins else ["message"]
        request = {
            "event_types": types,
            "fetch_event_types": ["realm_user"] if self.joins and self.catch_up_seconds else [],
            "apply_markdown": False,
            "client_gravatar": True,
        }
        answer = _asked(api, "register", "POST", request)
        queue_id, last_event_id = answer.body.get("queue_id"), answer.body.get("last_event_id")
        if not isinstance(queue_id, str) or not isinstance(last_event_id, int):
            raise _Wait("register answered without queue_id or last_event_id")
        longpoll = answer.body.get("event_queue_longpoll_timeout_seconds")
        log.info("zulip event queue registered")
        users = answer.body.get("realm_users")
        return Position(
            queue_id,
            last_event_id,
            float(longpoll) if isinstance(longpoll, int | float) else DEFAULT_LONGPOLL_SECONDS,
            catch_up=None if self.catch_up_seconds else [],
            users=users if isinstance(users, list) else [],
        )

    def _catch_up(self, api: Api, position: Position) -> list[JSON]:
        """What may have been missed before the queue existed, as events, oldest first."""
        since = time.time() - self.catch_up_seconds
        joined = sorted(
            (u for u in position.users if isinstance(u, dict) and not u.get("is_bot")),
            key=lambda u: _joined_at(u) or 0.0,
        )
        events: list[JSON] = [
            {"type": "realm_user", "op": "add", "person": user}
            for user in joined
            if (_joined_at(user) or 0.0) >= since
        ]
        direct = "dm" if api.feature_level >= 177 else "private"
        messages: dict[int, JSON] = {}
        for operand in (direct, "mentioned"):
            request = {
                "anchor": "newest",
                "num_before": CATCH_UP_MESSAGES,
                "num_after": 0,
                "narrow": [{"operator": "is", "operand": operand}],
                "apply_markdown": False,
            }
            for message in _asked(api, "messages", "GET", request).body.get("messages") or []:
                if _recent(message, since):
                    messages[message["id"]] = message
        events += [
            {"type": "message", "message": m, "flags": m.get("flags", [])}
            for _, m in sorted(messages.items())
        ]
        position.users = []
        if events:
            log.info("zulip catch-up", extra={"events": len(events)})
        return events

    def _poll(self, api: Api, position: Position) -> list[JSON]:
        request = {"queue_id": position.queue_id, "last_event_id": position.last_event_id}
        try:
            answer = api.call("events", "GET", request, timeout=position.longpoll_seconds)
        except call_errors() as exc:
            raise _Wait(f"polling failed: {type(exc).__name__}") from exc
        if answer.code == "BAD_EVENT_QUEUE_ID":
            log.info("zulip event queue expired; registering a new one")
            self.position = None
            return []
        if not answer.ok:
            raise _Wait(answer.reason, answer.retry_after())
        events = answer.body.get("events")
        if not isinstance(events, list):
            raise _Wait("events answered without events")
        return [e for e in events if isinstance(e, dict)]


def _asked(api: Api, url: str, method: str, request: JSON) -> Answer:
    try:
        answer = api.call(url, method, request)
    except call_errors() as exc:
        raise _Wait(f"{url} failed: {type(exc).__name__}") from exc
    if not answer.ok:
        raise _Wait(answer.reason, answer.retry_after())
    return answer


def _recent(message: Any, since: float) -> bool:
    if not isinstance(message, dict) or not isinstance(message.get("id"), int):
        return False
    timestamp = message.get("timestamp")
    return isinstance(timestamp, int | float) and timestamp >= since


def _joined_at(user: JSON) -> float | None:
    try:
        return datetime.fromisoformat(str(user.get("date_joined"))).timestamp()
    except ValueError:
        return None
