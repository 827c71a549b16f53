"""The `zulip` client, made fit for a bot that serves.

- `connect` builds a `zulip.Client` (which first GETs `/server_settings`) and asks who the bot
  is (`users/me`). A bad zuliprc or refused credentials are an `AdapterConfigError`; a server
  that cannot be reached is `Unreachable`, which the adapter keeps retrying.
- The client is synchronous: every call runs in a worker thread. It returns only the JSON
  body, so a response hook on its requests session keeps each response's status and headers
  for the thread that made the request (`Api.call` returns them together as an `Answer`).
- The same hook reads `X-RateLimit-Remaining` and `X-RateLimit-Reset` into one `RateState`
  shared by all of the bot's sessions (Zulip counts every request of a user), and a 429's
  `retry-after` empties it until then: the client itself does not handle 429.
- The client's own retries are off (`retry_on_errors=False`): it would repeat a send after a
  5xx that may have posted it. The outbox decides what is tried again.

`zulip` and `requests` are imported where a client is made or a call has failed: every process
that checks content imports the adapter for its capabilities alone.
"""

from __future__ import annotations

import configparser
import copy
import functools
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from adapters.zulip.events import BotUser
from bot.adapter import AdapterConfigError, DeliveryError

if TYPE_CHECKING:
    import requests
    import zulip

JSON = dict[str, Any]
CLIENT_NAME = "Onramp"
_REFUSED = {"UNAUTHORIZED", "INVALID_API_KEY", "USER_DEACTIVATED", "REALM_DEACTIVATED"}


class ZulipConfigError(AdapterConfigError):
    pass


class Unreachable(Exception):
    """The Zulip server did not answer, or not as Zulip does; worth trying again later."""


@dataclass(frozen=True)
class Credentials:
    email: str | None
    api_key: str | None
    site: str | None
    zuliprc: str | None  # a zuliprc file; explicit values above win over its own


@dataclass(frozen=True)
class Answer:
    """One response: its HTTP status (0 if none came back) and the JSON body."""

    status: int
    body: JSON
    headers: Mapping[str, str]

    @property
    def ok(self) -> bool:
        return self.body.get("result") == "success"

    @property
    def code(self) -> str:
        return str(self.body.get("code") or "")

    @property
    def reason(self) -> str:
        """What went wrong, for logs and the outbox (Zulip's own message, shortened)."""
        msg = str(self.body.get("msg") or self.body.get("result") or "not a Zulip answer")
        return f"zulip: {self.status} {self.code or 'error'}: {msg[:300]}"

    def retry_after(self) -> float | None:
        """Seconds Zulip asked us to wait, if this is its rate limit speaking."""
        if self.status != 429 and self.code != "RATE_LIMIT_HIT":
            return None
        for value in (self.body.get("retry-after"), self.headers.get("Retry-After")):
            try:
                return max(0.0, float(value))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue
        return 1.0


class RateState:
    """What Zulip's headers say about the bot's rate limit, shared by threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._remaining: int | None = None
        self._reset_at = 0.0  # Unix time

    def observe(self, headers: Mapping[str, str]) -> None:
        remaining, reset = headers.get("X-RateLimit-Remaining"), headers.get("X-RateLimit-Reset")
        if remaining is None or reset is None:
            return
        try:
            left, at = int(float(remaining)), float(reset)
        except ValueError:
            return
        with self._lock:
            self._remaining, self._reset_at = left, at

    def throttled(self, seconds: float) -> None:
        with self._lock:
            self._remaining = 0
            self._reset_at = max(self._reset_at, time.time() + seconds)

    def hold(self) -> float:
        """Seconds to hold back before the next request (0: go ahead)."""
        with self._lock:
            if self._remaining is None or self._remaining > 0:
                return 0.0
            return max(0.0, self._reset_at - time.time())


class Api:
    """One `zulip.Client` and its session; `call` runs in the calling thread."""

    def __init__(self, client: zulip.Client, rate: RateState, pool_size: int = 16) -> None:
        from requests.adapters import HTTPAdapter

        self.client = client
        self.rate = rate
        self._last = threading.local()
        client.ensure_session()
        session = client.session
        assert session is not None
        session.hooks["response"].append(self._observe)
        # One connection per concurrent sender; a long poll has a session of its own.
        transport = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
        session.mount("https://", transport)
        session.mount("http://", transport)

    @property
    def feature_level(self) -> int:
        return int(self.client.feature_level or 0)

    def fork(self) -> Api:
        """The same client with a session of its own (for the long poll)."""
        twin = copy.copy(self.client)
        twin.session = None
        return Api(twin, self.rate, pool_size=2)

    def close(self) -> None:
        if self.client.session is not None:
            self.client.session.close()

    def call(
        self,
        url: str,
        method: str = "POST",
        request: JSON | None = None,
        timeout: float | None = None,
        files: list[IO[bytes]] | None = None,
    ) -> Answer:
        """One request (with `files`, multipart/form-data: each file a part named by its
        `name`). Network failures raise `requests.RequestException` (or the client's
        `UnrecoverableNetworkError`); every answer, success or error, comes back."""
        self._last.status, self._last.headers = 0, {}
        body = self.client.call_endpoint(
            url=url, method=method, request=request, timeout=timeout, files=files
        )
        status = self._last.status or int(body.get("status_code") or 0)
        answer = Answer(status, body, self._last.headers)
        wait = answer.retry_after()
        if wait is not None:
            self.rate.throttled(wait)
        return answer

    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last.status, self._last.headers = response.status_code, response.headers
        self.rate.observe(response.headers)


def connect(credentials: Credentials, timeout: float) -> tuple[Api, BotUser]:
    """A client for the bot, and who the bot is (blocking: run it in a thread)."""
    import requests
    import zulip

    try:
        client = zulip.Client(
            email=credentials.email,
            api_key=credentials.api_key,
            config_file=credentials.zuliprc,
            site=credentials.site,
            client=CLIENT_NAME,
            retry_on_errors=False,
        )
    except (zulip.ConfigNotFoundError, zulip.MissingURLError, configparser.Error) as exc:
        hint = "see ZULIP_EMAIL, ZULIP_API_KEY, ZULIP_SITE and [zulip] zuliprc"
        raise ZulipConfigError(f"zulip: {exc} ({hint})") from exc
    except OSError as exc:  # the zuliprc could not be read
        raise ZulipConfigError(f"zulip: cannot read {credentials.zuliprc}: {exc}") from exc
    except (zulip.UnrecoverableNetworkError, requests.RequestException) as exc:
        raise Unreachable(f"zulip: cannot reach {credentials.site or 'the server'}: {exc}") from exc
    except AssertionError:  # the client's check that /server_settings names a zulip_version
        where = credentials.site or "the server"
        raise Unreachable(f"zulip: {where} does not answer like a Zulip server") from None
    api = Api(client, RateState())
    try:
        answer = api.call("users/me", "GET", timeout=timeout)
    except (zulip.UnrecoverableNetworkError, requests.RequestException) as exc:
        raise Unreachable(f"zulip: users/me failed: {exc}") from exc
    if answer.status == 401 or answer.code in _REFUSED:
        api.close()
        raise ZulipConfigError(f"Zulip refused ZULIP_EMAIL and ZULIP_API_KEY ({answer.reason})")
    me = answer.body
    if not answer.ok or not isinstance(me.get("user_id"), int):
        api.close()
        raise Unreachable(answer.reason)
    return api, BotUser(me["user_id"], str(me.get("full_name") or ""), str(me.get("email") or ""))


@functools.cache
def call_errors() -> tuple[type[Exception], ...]:
    """What a call may raise when it got no answer (an `except call_errors()` clause asks only
    once something was raised, so no SDK is imported before)."""
    import requests
    import zulip

    return (requests.RequestException, zulip.ZulipError)


def refusal(answer: Answer) -> DeliveryError:
    """A send Zulip answered with an error. Throttled: wait as told. Refused (an invalid user,
    a deactivated account, bad credentials: any other 4xx): permanent. Anything else (5xx, a
    proxy's error page): try again."""
    wait = answer.retry_after()
    if wait is not None:
        return DeliveryError(answer.reason, retry_after=wait)
    return DeliveryError(answer.reason, permanent=400 <= answer.status < 500)


def failure(exc: Exception) -> DeliveryError:
    """A send that got no answer. A timeout after the request went out may mean Zulip posted
    it; trying again may then show it twice, which we prefer to losing it."""
    import requests

    if isinstance(exc, requests.Timeout):
        return DeliveryError("zulip: timed out (it may have been delivered)")
    return DeliveryError(f"zulip: {type(exc).__name__}: {str(exc)[:300]}")
