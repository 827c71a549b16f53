"""Every status a stored row can be in, named.

Each is a `StrEnum` whose values are the strings the columns have always held, so rows written
before these names existed read back unchanged, and a name compares equal to its string
(RunStatus.ACTIVE == "active"), so code that still writes the string keeps working. The
columns stay plain strings (`storage.types.StatusColumn`), so the migrations do not change.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """A flow run: active; paused while another flow runs; then how it ended."""

    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


# In an outbox row's payload: a message that must not outlive its delivery (the last message to
# a member being erased, a member's data export): the sender deletes it once it is delivered or
# given up on, and scrubs it from the database's files; /stop deletes it (bot/messages.py).
DELETE_ONCE_SETTLED = "delete_once_settled"
FAREWELL = "farewell"  # its name in rows queued before it had a general one
SETTLED_FLAGS = (DELETE_ONCE_SETTLED, FAREWELL)


class OutboxStatus(StrEnum):
    """A queued message: pending → sending (leased) → sent, failed or cancelled."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


# An outbox row still to be delivered, as SQL: the condition of the partial index of open
# rows (`ix_outbox_open`), which a query uses only when it states the same condition.
OUTBOX_OPEN_SQL = "status IN ('pending', 'sending')"


class DeliveryStatus(StrEnum):
    """What a platform said of a sent message later (WhatsApp's status callbacks)."""

    SENT = "sent"
    FAILED = "failed"
    DELIVERED = "delivered"
    READ = "read"


class DueStatus(StrEnum):
    """Due work: pending → running (leased) → done, skipped or failed; or cancelled."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"


class OfferStatus(StrEnum):
    """A mentor offer: offered, then accepted, declined, expired or withdrawn."""

    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class MentorshipStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class RequestStatus(StrEnum):
    """A newcomer's request for a mentor: waiting → offered → matched, or cancelled."""

    WAITING = "waiting"
    OFFERED = "offered"
    MATCHED = "matched"
    CANCELLED = "cancelled"


class CampaignState(StrEnum):
    """A campaign send: (awaiting approval →) planning → scheduled → sending → done, or
    cancelled. `draft` is only the column's default: planning sets a state when it adds the
    row."""

    DRAFT = "draft"
    AWAITING_APPROVAL = "awaiting_approval"
    PLANNING = "planning"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class RecipientStatus(StrEnum):
    """A campaign's recipient: planned → queued → sent → delivered → read; or failed,
    cancelled, expired, or excluded when planned (with the reason)."""

    PLANNED = "planned"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    EXCLUDED = "excluded"


class FailedEventStatus(StrEnum):
    """A failed event: failed until an operator runs it again."""

    FAILED = "failed"
    RETRIED = "retried"
