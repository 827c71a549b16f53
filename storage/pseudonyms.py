"""Keyed pseudonyms: who a log line, an audit entry or the erased list is about, without who.

A pseudonym is an HMAC-SHA256 of the member id (or of a platform identity), keyed with a secret
that is not in the data: `ONRAMP_PSEUDONYM_KEY`, or, when the operator sets none, one the bot
makes once and keeps in the database (`app_secret`), with a warning, so that every replica and
every restart agree. Without the key, a pseudonym cannot be turned back into an id by hashing
the ids one by one, as the earlier unkeyed hash could. A key kept in the database protects
only from those who see the logs or an export, not from whoever reads the database itself:
hence the warning, and the variable.

The bot's process installs the key when it starts (`install`); a process that never did (a
test, a tool) uses one made for the process, which keeps its logs consistent but matches
nothing stored. What is stored (audit entries, the erased list) always takes the key through
`key_of(session)`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from datetime import UTC, datetime

from sqlalchemy import select
from sqlmodel import col

from storage.models import AppSecret
from storage.session import Session, dialect_insert

log = logging.getLogger("onramp.privacy")
VARIABLE = "ONRAMP_PSEUDONYM_KEY"
SECRET_NAME = "pseudonym_key"
LENGTH = 16  # hex digits shown: 64 bits, enough to tell members apart in a log

_installed: bytes | None = None
_for_this_process = secrets.token_bytes(32)


def install(key: bytes) -> None:
    global _installed
    _installed = key


def _digest(key: bytes, label: str) -> str:
    return hmac.new(key, label.encode(), hashlib.sha256).hexdigest()[:LENGTH]


def pseudonym(member_id: int, key: bytes | None = None) -> str:
    """A stable label for a member in logs and audit entries: the same for the same member
    under the same key, and not computable from the id without the key."""
    return _digest(key or _installed or _for_this_process, f"member:{member_id}")


def erased_pseudonym(member_id: int, joined: datetime, key: bytes) -> str:
    """The label an erased member keeps in the audit log: their id and when they joined, so
    that it stays theirs alone when SQLite gives their id to the next member who joins (it
    reuses the highest id once its row is gone)."""
    return _digest(key, f"member:{member_id}:{joined.timestamp():.6f}")


def identity_pseudonym(platform: str, workspace: str, external_id: str, key: bytes) -> str:
    """The erased list's label of a platform identity (full length: it is looked up)."""
    label = f"identity:{platform}:{workspace}:{external_id}"
    return hmac.new(key, label.encode(), hashlib.sha256).hexdigest()


async def key_of(session: Session) -> bytes:
    """The pseudonyms' key: the environment's, else the one kept in the database, made now
    (once, whichever replica is first) if there is none."""
    given = os.environ.get(VARIABLE, "").strip()
    if given:
        return given.encode()
    kept = await _kept(session)
    if kept is not None:
        return kept
    made = secrets.token_urlsafe(48)
    dialect = session.get_bind().dialect.name
    await session.execute(
        dialect_insert(dialect)(AppSecret)
        .values(name=SECRET_NAME, value=made, created_at=datetime.now(UTC))
        .on_conflict_do_nothing(index_elements=["name"])
    )
    log.warning(
        "no ONRAMP_PSEUDONYM_KEY: made a key for pseudonyms and kept it in the database; set"
        " the variable so that a copy of the database alone cannot tell who a pseudonym is"
    )
    kept = await _kept(session)  # another replica's, if it was first
    assert kept is not None
    return kept


async def _kept(session: Session) -> bytes | None:
    value = (
        await session.execute(
            select(col(AppSecret.value)).where(col(AppSecret.name) == SECRET_NAME)
        )
    ).scalar_one_or_none()
    return value.encode() if value else None
