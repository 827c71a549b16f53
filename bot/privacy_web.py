"""A member's data export, downloaded once from the web app (/privacy in chat sends the link).

    GET  /privacy/export/<token>   a page with a button; the token is not used, since Slack,
                                   Telegram and WhatsApp fetch links for their previews
    POST /privacy/export/<token>   the member's data as a JSON file, once

The token is signed (with the dashboard's secret, under a salt of its own, so it never signs
anyone in) and carries a link row's nonce and the member's id, never the data: the document is
made when the button is pressed. A link works once, for `[dashboard] link_minutes`; its row
goes with the member if they are erased meanwhile. Every download and refusal is audited.
"""

from __future__ import annotations

import functools
import html
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from bot.adapter import Adapter, available_adapters
from bot.registry import Registry
from bot.settings import Settings
from flows.content import ContentTree
from flows.schema import Text
from flows.text import render
from storage import access
from storage.models import AuditLog, Member
from storage.privacy import export_member
from storage.session import Session

if TYPE_CHECKING:
    from bot.runtime import Onramp

log = logging.getLogger("onramp.privacy")
EXPORT_PATH = "/privacy/export"
SALT = "onramp.privacy.export"
EXPORTS = Path("data") / "exports"  # where the console writes a member's export
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}
_PAGE = """<!doctype html>
<html lang="{lang}" dir="{dir}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:36em;margin:3em auto;padding:0 1em}}
button{{font-size:1.1em;padding:.5em 1em}}</style></head>
<body><h1>{title}</h1><p>{body}</p>{form}</body></html>
"""


class Downloads:
    """Signs and reads export links, on the bot's clock."""

    def __init__(
        self, secret: str | Callable[[], str], clock: Callable[[], datetime], minutes: int
    ) -> None:
        self._secret = secret
        self.clock = clock
        self.lifetime = timedelta(minutes=minutes)
        self.base_url = ""

    @functools.cached_property
    def _serializer(self) -> URLSafeTimedSerializer:
        """Made when first needed: a web app nobody downloads from never reads the secret."""
        clock = self.clock
        secret = self._secret if isinstance(self._secret, str) else self._secret()

        class _OnTheClock(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock().timestamp())

        return URLSafeTimedSerializer(secret, salt=SALT, signer=_OnTheClock)

    async def new_link(self, session: Session, member_id: int, now: datetime) -> str:
        """A one-time download link for the member, recorded in `session`'s transaction."""
        row = await access.new_link(session, member_id, now, now + self.lifetime)
        token = self._serializer.dumps({"n": row.nonce, "m": member_id})
        return f"{self.base_url.rstrip('/')}{EXPORT_PATH}/{token}"

    def read(self, token: str) -> tuple[str, int] | None:
        """The (nonce, member id) a token names; None if it is not ours or too old."""
        try:
            payload = self._serializer.loads(token, max_age=int(self.lifetime.total_seconds()))
        except (SignatureExpired, BadSignature):
            return None
        if not isinstance(payload, dict):
            return None
        nonce, member_id = payload.get("n"), payload.get("m")
        if not isinstance(nonce, str) or type(member_id) is not int:
            return None
        return nonce, member_id


@dataclass(frozen=True)
class Served:
    """What /privacy needs from the running bot: its settings (retention), where the console
    writes exports, the download links, when a web app serves them, and the running adapters
    (which of their platforms carry a file, and how big)."""

    settings: Settings
    exports: Path = EXPORTS
    downloads: Downloads | None = None
    adapters: Mapping[str, Adapter] = field(default_factory=dict)

    def max_document_bytes(self, platform: str) -> int:
        """The largest file the bot may send on `platform`: its running adapter's capability
        (a test's adapter may say otherwise than its class), else its installed class's."""
        running = self.adapters.get(platform)
        if running is not None:
            return running.capabilities.max_document_bytes
        factory = available_adapters().get(platform)
        return 0 if factory is None else factory.capabilities.max_document_bytes


_served: WeakKeyDictionary[Registry, Served] = WeakKeyDictionary()


def serve(registry: Registry, served: Served) -> None:
    _served[registry] = served


def served(registry: Registry) -> Served:
    """What the runtime said (bot/runtime.py); for a registry no runtime serves (a test of a
    feature alone), the settings' defaults and no download links."""
    found = _served.get(registry)
    if found is None:
        found = _served[registry] = Served(Settings())
    return found


def routes(onramp: Onramp, downloads: Downloads) -> list[BaseRoute]:
    """The download pages; /privacy in chat then hands out links to them."""
    downloads.base_url = onramp.settings.web.base_url()
    serve(onramp.registry, Served(onramp.settings, downloads=downloads, adapters=onramp.adapters))
    pages = _Pages(onramp, downloads)
    return [
        Route(f"{EXPORT_PATH}/{{token}}", pages.confirm, methods=["GET"]),
        Route(f"{EXPORT_PATH}/{{token}}", pages.download, methods=["POST"]),
    ]


class _Pages:
    def __init__(self, onramp: Onramp, downloads: Downloads) -> None:
        self.onramp = onramp
        self.downloads = downloads

    async def confirm(self, request: Request) -> Response:
        form = '<form method="post"><button type="submit">{}</button></form>'
        return self._page(self.onramp.content.system["privacy_download_body"], None, form=form)

    async def download(self, request: Request) -> Response:
        found = self.downloads.read(request.path_params["token"][:1000])
        if found is None:
            return await self._refuse("invalid", None, status=410)
        nonce, member_id = found
        now = self.onramp.clock()
        async with self.onramp.db.transaction() as session:
            row = await access.link_by_nonce(session, nonce)
            member = await session.get(Member, member_id)
            if member is None or row is None or row.member_id != member_id:
                reason = "gone"  # erased meanwhile (their links went with them), or pruned
            elif row.used_at is not None:
                reason = "used"
            elif row.expires_at <= now:
                reason = "expired"
            elif not await access.use_link(session, row, now):
                reason = "used"  # another request used it first
            else:
                document = await export_member(session, member)
                session.add(_audit("privacy.exported", member_id, now, via="link"))
                body = json.dumps(document, indent=2, ensure_ascii=False, default=str)
                log.info("privacy export downloaded")
                name = f"onramp-data-{now:%Y%m%d}.json"
                headers = {**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
                return Response(body, media_type="application/json", headers=headers)
        locale = member.locale if member is not None else None
        return await self._refuse(reason, member_id if member is not None else None, locale)

    async def _refuse(
        self, reason: str, member_id: int | None, locale: str | None = None, status: int = 410
    ) -> Response:
        async with self.onramp.db.transaction() as session:
            session.add(
                _audit("privacy.export_refused", member_id, self.onramp.clock(), reason=reason)
            )
        log.info("privacy export refused", extra={"reason": reason})
        system = self.onramp.content.system
        if reason == "gone":
            return self._page(system["privacy_download_gone"], locale, status=status)
        return self._page(system["privacy_download_used"], locale, status=status)

    def _page(
        self, body: Text, locale: str | None, *, status: int = 200, form: str = ""
    ) -> HTMLResponse:
        content = self.onramp.content
        shown = locale or content.community.default_locale

        def say(source: Text) -> str:
            return html.escape(text(content, source, shown))

        page = _PAGE.format(
            lang=html.escape(shown),
            dir="rtl" if shown.split("_")[0] in {"ar", "fa", "he", "ur"} else "ltr",
            title=say(content.system["privacy_download_title"]),
            body=say(body).replace("\n", "<br>"),
            form=form.format(say(content.system["privacy_download_button"])),
        )
        return HTMLResponse(page, status_code=status, headers=HEADERS)


def text(content: ContentTree, source: Text, locale: str) -> str:
    """A bare system text (no variables) in `locale`."""
    return str(render(source, locale, content.community.default_locale, {}))


def _audit(action: str, member_id: int | None, now: datetime, **detail: Any) -> AuditLog:
    actor = f"member:{member_id}" if member_id is not None else "web"
    return AuditLog(at=now, actor=actor, action=action, member_id=member_id, detail=detail)
