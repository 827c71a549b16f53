"""A request POSTed to `/slack/events` checked before anything reads it: its signature, as
Bolt checks it (which it does again). A request Slack cannot have sent is turned away with a
4xx and a logged reason (adapters/http.py), never a 500."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from adapters.http import reject

if TYPE_CHECKING:
    from slack_sdk.signature import SignatureVerifier

PLATFORM = "slack"
MAX_AGE_SECONDS = 5 * 60  # Slack's replay window for signed requests
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # seconds since 1970, in ASCII digits
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")  # HMAC-SHA256, in hex


def verify(verifier: SignatureVerifier, headers: Mapping[str, str], body: bytes) -> None:
    """Refuse a request whose signature is missing, stale or wrong. Headers arrive as
    Latin-1: anything else than Slack's ASCII digits and hex is turned away before it meets
    `int()` or `hmac`."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not timestamp or not signature:
        reject(PLATFORM, 401, "bad_signature", "no X-Slack-Signature or X-Slack-Request-Timestamp")
    if not _TIMESTAMP.fullmatch(timestamp):
        reject(PLATFORM, 401, "bad_signature", "X-Slack-Request-Timestamp is not a number")
    if not _SIGNATURE.fullmatch(signature):
        reject(PLATFORM, 401, "bad_signature", "X-Slack-Signature is not a v0 signature")
    if abs(time.time() - int(timestamp)) > MAX_AGE_SECONDS:
        reject(PLATFORM, 401, "stale", "X-Slack-Request-Timestamp is more than 5 minutes away")
    try:
        text = body.decode("utf-8")  # Slack signs UTF-8 text; anything else is not Slack's
    except UnicodeDecodeError:
        reject(PLATFORM, 400, "malformed", "the body is not UTF-8 text")
    if not verifier.is_valid(body=text, timestamp=timestamp, signature=signature):
        reject(PLATFORM, 401, "bad_signature", "the signature does not match SLACK_SIGNING_SECRET")
