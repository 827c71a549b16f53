"""Signing in to the dashboard: the one-time link's pages, the session cookie, signing out.

    GET  /dashboard/sign-in          how to get a link (no data)
    GET  /dashboard/sign-in/<token>  a confirmation page with a button; the token is not used,
                                     since Slack, Telegram and WhatsApp fetch links for previews
    POST /dashboard/sign-in/<token>  checks the link, starts a session, redirects to `next`
    POST /dashboard/sign-out         ends the session

Every refusal is a page in the viewer's language (or the community's) with no data, and an
audit row; every sign-in is audited too. Neither ever records the token.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from babel import Locale, UnknownLocaleError
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.health.dashboard.texts import text
from bot.health.signing import SIGN_IN_PATH, Link, LinkExpired, LinkInvalid, LinkSigner
from bot.health.viewer import COOKIE, sign_out_token, signed_in
from storage import access
from storage.models import AuditLog, Member
from storage.privacy import pseudonym

if TYPE_CHECKING:
    from bot.runtime import Onramp

__all__ = ["SignIn", "local_path", "routes", "signed_in"]  # signed_in: who is looking

log = logging.getLogger("onramp.dashboard")
HOME = "/dashboard"
SIGN_OUT_PATH = "/dashboard/sign-out"
MAX_TOKEN = 1000  # ours are about 120 characters
SIGN_IN_PROOF = "sign-in"
_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "access_templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)
# A refusal's text and status: (text id, HTTP status).
REFUSALS: dict[str, tuple[str, int]] = {
    "invalid": ("link_invalid", 400),
    "forged_form": ("link_invalid", 400),
    "expired": ("link_expired", 410),
    "used": ("link_used", 410),
    "not_a_manager": ("not_a_manager", 403),
}
# The pages hold a one-time form: never cached, never framed, the token never sent on.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}


def routes(onramp: Onramp, signer: LinkSigner | None = None) -> list[BaseRoute]:
    return SignIn(onramp, signer).routes()


class SignIn:
    def __init__(self, onramp: Onramp, signer: LinkSigner | None = None) -> None:
        self.onramp = onramp
        self.signer = signer or LinkSigner.from_settings(onramp.settings, onramp.clock)
        settings = onramp.settings
        self.session_lifetime = timedelta(hours=settings.dashboard.session_hours)
        # No [web] setting says a proxy is trusted, so X-Forwarded-Proto is not: the public
        # address says whether browsers reach us over https.
        self.https = settings.web.base_url().startswith("https://")
        self.public_host = urlsplit(settings.web.base_url()).netloc

    def routes(self) -> list[BaseRoute]:
        return [
            Route(SIGN_IN_PATH, self.how_to_sign_in, methods=["GET"]),
            Route(f"{SIGN_IN_PATH}/{{token}}", self.confirm, methods=["GET"]),
            Route(f"{SIGN_IN_PATH}/{{token}}", self.sign_in, methods=["POST"]),
            Route(SIGN_OUT_PATH, self.sign_out, methods=["POST"]),
        ]

    async def how_to_sign_in(self, request: Request) -> Response:
        return self._page("sign_in_title", "sign_in_body", None)

    async def confirm(self, request: Request) -> Response:
        token = request.path_params["token"]
        form = {
            "action": request.url.path,
            "button": "confirm_button",
            "fields": {
                "proof": self.signer.proof(SIGN_IN_PROOF, token),
                "next": local_path(request.query_params.get("next")) or "",
            },
        }
        return self._page("confirm_title", "confirm_body", None, form=form)

    async def sign_in(self, request: Request) -> Response:
        token = request.path_params["token"]
        fields = await _form(request)
        if not (
            len(token) <= MAX_TOKEN
            and self._same_site(request)
            and hmac.compare_digest(
                self.signer.proof(SIGN_IN_PROOF, token), fields.get("proof", "")
            )
        ):
            return await self._refuse("forged_form", None)
        try:
            link = self.signer.read(token)
        except LinkExpired as expired:
            return await self._refuse("expired", expired.link)
        except LinkInvalid:
            return await self._refuse("invalid", None)
        now = self.onramp.clock()
        async with self.onramp.db.transaction() as session:
            row = await access.link_by_nonce(session, link.nonce)
            member = await session.get(Member, link.member_id)
            reason = None
            if member is None or (row is not None and row.member_id != link.member_id):
                reason = "invalid"
            elif row is None or row.expires_at <= now:  # no row: pruned once expired
                reason = "expired"
            elif row.used_at is not None:
                reason = "used"
            elif not access.is_manager(member):
                reason = "not_a_manager"
            elif not await access.use_link(session, row, now):
                reason = "used"  # another request used it first
            if reason is None:
                cookie = await access.new_session(
                    session, link.member_id, now, now + self.session_lifetime
                )
                session.add(_audit("dashboard.signed_in", link.member_id, now))
        if reason is not None:
            return await self._refuse(reason, link, member)
        log.info("dashboard sign-in", extra={"member": pseudonym(link.member_id)})
        response = RedirectResponse(local_path(fields.get("next")) or HOME, status_code=303)
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=int(self.session_lifetime.total_seconds()),
            path=HOME,
            secure=self.https or request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )
        return response

    async def sign_out(self, request: Request) -> Response:
        cookie = request.cookies.get(COOKIE)
        fields = await _form(request)
        locale = None
        if cookie:
            if not hmac.compare_digest(sign_out_token(cookie), fields.get("proof", "")):
                return RedirectResponse(HOME, status_code=303)  # not from our page: ignored
            now = self.onramp.clock()
            async with self.onramp.db.transaction() as session:
                found = await access.session_of(session, cookie, now)
                member_id = await access.end_session(session, cookie)
                if member_id is not None:
                    session.add(_audit("dashboard.signed_out", member_id, now))
            locale = found[1].locale if found else None
        response = self._page("signed_out", "sign_in_body", locale)
        response.delete_cookie(COOKIE, path=HOME, secure=self.https, httponly=True, samesite="lax")
        return response

    async def _refuse(
        self, reason: str, link: Link | None, member: Member | None = None
    ) -> Response:
        now = self.onramp.clock()
        async with self.onramp.db.transaction() as session:
            if link is not None and member is None:
                member = await session.get(Member, link.member_id)
            member_id = member.id if member is not None else None
            session.add(_audit("dashboard.sign_in_refused", member_id, now, reason=reason))
        log.info("dashboard sign-in refused", extra={"reason": reason})
        text, status = REFUSALS[reason]
        locale = member.locale if member is not None else None
        return self._page("sign_in_title", text, locale, status=status)

    def _same_site(self, request: Request) -> bool:
        """A browser says where a form was posted from; it must be this server."""
        origin = request.headers.get("origin")
        if origin is None or origin == "null":
            # Older browsers send none, and a page with `Referrer-Policy: no-referrer` (ours)
            # makes Chromium send "null": the proof field still has to match.
            return True
        host = urlsplit(origin).netloc
        return host in {request.headers.get("host", ""), self.public_host}

    def _page(
        self,
        title: str,
        body: str | None,
        locale: str | None,
        *,
        status: int = 200,
        form: Mapping[str, Any] | None = None,
    ) -> HTMLResponse:
        content = self.onramp.content
        shown = locale or content.community.default_locale

        def say(key: str) -> str:
            return text(content, key, shown)

        html = _TEMPLATES.get_template("page.html").render(
            lang=shown,
            direction=_direction(shown),
            title=say(title),
            paragraphs=[_spans(paragraph) for paragraph in say(body).split("\n\n")] if body else [],
            form=form and {**form, "button": say(form["button"])},
        )
        return HTMLResponse(html, status_code=status, headers=HEADERS)


def local_path(wanted: str | None) -> str | None:
    """`wanted` if it is a page of the dashboard on this server, else None (no open
    redirect: `//evil.example`, `https://…` and `/\\evil` are not local)."""
    if not wanted or len(wanted) > 2000 or "\\" in wanted or not wanted.isprintable():
        return None
    parts = urlsplit(wanted)
    if parts.scheme or parts.netloc or wanted.startswith("//"):
        return None
    if parts.path != HOME and not parts.path.startswith(f"{HOME}/"):
        return None
    return wanted


async def _form(request: Request) -> dict[str, str]:
    """A small url-encoded form's fields (the first value of each)."""
    body = await request.body()
    try:
        parsed = parse_qs(body.decode("utf-8", "replace"), max_num_fields=20)
    except ValueError:
        return {}
    return {name: values[0] for name, values in parsed.items()}


def _audit(action: str, member_id: int | None, now: Any, **detail: Any) -> AuditLog:
    actor = f"member:{member_id}" if member_id is not None else "web"
    return AuditLog(at=now, actor=actor, action=action, member_id=member_id, detail=detail)


def _spans(paragraph: str) -> list[tuple[str, bool]]:
    """A paragraph as (text, is code) pieces: the texts write `onramp dashboard` as code."""
    return [(piece, odd % 2 == 1) for odd, piece in enumerate(paragraph.split("`")) if piece]


def _direction(locale: str) -> str:
    try:
        order = Locale.parse(locale.replace("-", "_")).character_order
    except (UnknownLocaleError, ValueError):
        return "ltr"
    return "rtl" if order == "right-to-left" else "ltr"
