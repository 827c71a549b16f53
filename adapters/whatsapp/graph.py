"""The two Graph API calls the WhatsApp adapter makes, on httpx, and what their errors mean.

Meta's error answers are `{"error": {"message", "type", "code", "error_data": {"details"},
"fbtrace_id"}}`; Meta says to act on `code`, not on the HTTP status, which is how
`delivery_error` reads them:

- throughput (130429, and 131057 while Meta raises a number's throughput): wait
  `throughput_retry_seconds`; the pair rate to one member (131056): wait `pair_retry_seconds`;
  the app's or account's call limits (4, 80007): wait as told, else a minute. None of these
  counts as a failed attempt.
- the access token refused (190, or any 401): retried, since the message is not at fault, and
  the adapter reports itself not ready;
- Meta's own trouble (1, 2, 131000, 131016; any 5xx) and network errors: retried;
- anything else Meta refuses (invalid parameters, a recipient who cannot receive, an unknown
  template): permanent.

131047 (the 24-hour window has closed) is the adapter's to handle: it sends the template.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from bot.adapter import DeliveryError
from bot.settings import WhatsAppSettings

if TYPE_CHECKING:  # httpx is imported when a client is made or a call has failed
    import httpx

JSON = dict[str, Any]
RE_ENGAGEMENT = 131047
THROUGHPUT = frozenset({130429, 131057})
PAIR_RATE = 131056
CALL_LIMITS = frozenset({4, 80007})
TOKEN_REFUSED = frozenset({0, 190})
META_TROUBLE = frozenset({1, 2, 131000, 131016})
CALL_LIMIT_WAIT = 60.0


class GraphError(Exception):
    """Meta refused a call."""

    def __init__(
        self,
        status: int,
        code: int | None,
        message: str,
        details: str = "",
        retry_after: float | None = None,  # from a Retry-After header
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details, self.retry_after = details, retry_after

    def __str__(self) -> str:
        code = f" {self.code}" if self.code is not None else ""
        details = f": {self.details}" if self.details and self.details != self.message else ""
        return f"whatsapp: HTTP {self.status}{code} {self.message}{details}"[:480]

    @property
    def token_refused(self) -> bool:
        return self.status == 401 or self.code in TOKEN_REFUSED


class Graph:
    """An httpx client for one business phone number."""

    def __init__(self, settings: WhatsAppSettings, access_token: str) -> None:
        import httpx

        assert settings.phone_number_id is not None
        self.number_url = f"{settings.graph_url}/{settings.api_version}/{settings.phone_number_id}"
        self.client = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=settings.request_timeout_seconds,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )

    async def phone_number(self) -> JSON:
        """The business number, as Meta has it: says whether the token and id are right."""
        params = {"fields": "display_phone_number,verified_name"}
        return await self._call("GET", self.number_url, params=params)

    async def post_message(self, body: JSON) -> str:
        """Send one message; returns its wamid."""
        answer = await self._call("POST", f"{self.number_url}/messages", json=body)
        messages = answer.get("messages")
        first = messages[0] if isinstance(messages, list) and messages else None
        wamid = first.get("id") if isinstance(first, dict) else None
        if not isinstance(wamid, str) or not wamid:
            raise GraphError(200, None, "an answer without a message id (it may have been sent)")
        return wamid

    async def upload_media(self, name: str, media_type: str, content: bytes) -> str:
        """Upload a file (POST /{phone-number-id}/media, multipart/form-data); returns the
        media id a message then names. Meta keeps it 30 days."""
        form = {"messaging_product": "whatsapp", "type": media_type}
        files = {"file": (name, content, media_type)}
        answer = await self._call("POST", f"{self.number_url}/media", data=form, files=files)
        media_id = answer.get("id")
        if not isinstance(media_id, str) or not media_id:
            raise GraphError(200, None, "an upload's answer without a media id")
        return media_id

    async def close(self) -> None:
        await self.client.aclose()

    async def _call(self, method: str, url: str, **options: Any) -> JSON:
        """Raises GraphError for Meta's refusals, httpx.HTTPError when Meta was not reached."""
        response = await self.client.request(method, url, **options)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.is_success and isinstance(answer, dict):
            return answer
        error = answer.get("error") if isinstance(answer, dict) else None
        error = error if isinstance(error, dict) else {}
        data = error.get("error_data")
        code = error.get("code")
        raise GraphError(
            status=response.status_code,
            code=code if isinstance(code, int) and not isinstance(code, bool) else None,
            message=str(error.get("message") or response.reason_phrase or "no answer")[:300],
            details=str(data.get("details") or "")[:300] if isinstance(data, dict) else "",
            retry_after=_retry_after(response.headers.get("retry-after")),
        )


def passing(error: GraphError) -> bool:
    """Is this trouble that goes away by itself (throttling, Meta's own), not a refusal?"""
    slow_down = error.code in THROUGHPUT or error.code in CALL_LIMITS or error.code == PAIR_RATE
    return slow_down or error.status == 429 or error.status >= 500 or error.code in META_TROUBLE


def delivery_error(error: GraphError, settings: WhatsAppSettings) -> DeliveryError:
    reason = str(error)
    if error.code in THROUGHPUT:
        return DeliveryError(reason, retry_after=settings.throughput_retry_seconds)
    if error.code == PAIR_RATE:
        return DeliveryError(reason, retry_after=settings.pair_retry_seconds)
    if error.code in CALL_LIMITS:
        return DeliveryError(reason, retry_after=error.retry_after or CALL_LIMIT_WAIT)
    if error.status == 429:
        wait = error.retry_after or settings.throughput_retry_seconds
        return DeliveryError(reason, retry_after=wait)
    if error.token_refused:
        return DeliveryError(f"{reason} (check WHATSAPP_ACCESS_TOKEN)")
    if error.status == 200:  # accepted, perhaps, with an answer we cannot read
        return DeliveryError(reason)
    return DeliveryError(reason, permanent=not passing(error))


def network_error(exc: httpx.HTTPError) -> DeliveryError:
    """Meta was not reached, or did not answer: try again. After a timeout Meta may have
    sent the message; trying again may then show it twice, which beats losing it (the Cloud
    API takes no idempotency key)."""
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return DeliveryError(f"whatsapp: {type(exc).__name__} (it may have been delivered)")
    return DeliveryError(f"whatsapp: {type(exc).__name__}: {str(exc)[:200]}")


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    with contextlib.suppress(ValueError):
        seconds = float(value)
        return seconds if seconds > 0 else None
    return None
