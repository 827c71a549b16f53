"""The dashboard's secret and its signed one-time sign-in links.

The secret comes from `ONRAMP_SECRET_KEY`; without it, one is made once and kept in
`data/secret_key` (owner-only), with a warning: several replicas must share one secret, so
they need the environment variable. A link's token is signed with itsdangerous and carries
the link row's nonce and the member's id; its time is the bot's clock, so tests move it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import logging
import os
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from bot.settings import Settings
from storage import access
from storage.session import Session

log = logging.getLogger("onramp.dashboard")
SECRET_VARIABLE = "ONRAMP_SECRET_KEY"
SECRET_FILE = Path("data") / "secret_key"
SALT = "onramp.dashboard.sign-in"
SIGN_IN_PATH = "/dashboard/sign-in"

Clock = Callable[[], datetime]


class LinkInvalid(Exception):
    """Not a token this bot signed (tampered, truncated, another secret)."""


class LinkExpired(Exception):
    """Signed by this bot, but too long ago; `link` is whom it was for, when it says so."""

    def __init__(self, link: Link | None) -> None:
        super().__init__("sign-in link expired")
        self.link = link


def secret_key(path: Path = SECRET_FILE) -> str:
    """`ONRAMP_SECRET_KEY`, else the key kept at `path`, made there the first time."""
    from_environment = os.environ.get(SECRET_VARIABLE, "").strip()
    if from_environment:
        return from_environment
    with contextlib.suppress(FileNotFoundError):
        kept = path.read_text(encoding="ascii").strip()
        if kept:
            return kept
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside (mkstemp makes it owner-only) and linked into place, so two processes
    # starting at once agree on one key and neither reads a half-written file.
    handle, aside = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")
    try:
        with os.fdopen(handle, "w", encoding="ascii") as file:
            file.write(secrets.token_urlsafe(48))
        try:
            os.link(aside, path)
        except FileExistsError:
            return path.read_text(encoding="ascii").strip()
    finally:
        os.unlink(aside)
    log.warning(
        "no ONRAMP_SECRET_KEY: made a dashboard secret and kept it in a file; set the variable"
        " when several replicas serve the dashboard",
        extra={"file": str(path)},
    )
    return path.read_text(encoding="ascii").strip()


@dataclass(frozen=True)
class Link:
    nonce: str
    member_id: int


class LinkSigner:
    """Signs and reads sign-in tokens, on the bot's clock."""

    def __init__(self, secret: str | Callable[[], str], clock: Clock, minutes: int) -> None:
        self._secret = secret
        self.clock = clock
        self.lifetime = timedelta(minutes=minutes)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> LinkSigner:
        """The secret is looked up (or made) when first needed: a web server that nobody
        signs in to never writes one."""
        return cls(secret_key, clock, settings.dashboard.link_minutes)

    @functools.cached_property
    def secret(self) -> str:
        return self._secret if isinstance(self._secret, str) else self._secret()

    @functools.cached_property
    def _serializer(self) -> URLSafeTimedSerializer:
        clock = self.clock

        class _OnTheClock(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock().timestamp())

        return URLSafeTimedSerializer(self.secret, salt=SALT, signer=_OnTheClock)

    def sign(self, link: Link) -> str:
        return str(self._serializer.dumps({"n": link.nonce, "m": link.member_id}))

    def read(self, token: str) -> Link:
        """The link a token names; `LinkExpired` past its lifetime, `LinkInvalid` if it is
        not one of ours."""
        try:
            payload = self._serializer.loads(token, max_age=int(self.lifetime.total_seconds()))
        except SignatureExpired as exc:
            try:
                expired = _link(self._serializer.load_payload(exc.payload or b""))
            except (BadSignature, LinkInvalid):
                expired = None
            raise LinkExpired(expired) from exc
        except BadSignature as exc:
            raise LinkInvalid from exc
        return _link(payload)

    def proof(self, purpose: str, value: str) -> str:
        """A value only this server can derive from `value`: the hidden field of a form."""
        message = f"{purpose}:{value}".encode()
        return hmac.new(self.secret.encode(), message, hashlib.sha256).hexdigest()

    def matches(self, purpose: str, value: str, given: str) -> bool:
        return hmac.compare_digest(self.proof(purpose, value), given)

    async def new_link(
        self, session: Session, member_id: int, now: datetime
    ) -> tuple[str, datetime]:
        """A one-time link for the member, recorded in `session`'s transaction: its token
        and when it stops working."""
        expires_at = now + self.lifetime
        row = await access.new_link(session, member_id, now, expires_at)
        return self.sign(Link(row.nonce, member_id)), expires_at


def _link(payload: object) -> Link:
    if not isinstance(payload, dict):
        raise LinkInvalid
    nonce, member_id = payload.get("n"), payload.get("m")
    if not isinstance(nonce, str) or not isinstance(member_id, int) or isinstance(member_id, bool):
        raise LinkInvalid
    return Link(nonce, member_id)


def sign_in_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{SIGN_IN_PATH}/{token}"
