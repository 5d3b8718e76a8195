"""``{issuer}/account/sessions``: the user's signed-in browsers; sign out one, or everywhere.

Ending a session ends the grants bound to it (``accounts.sessions.end`` through
``oauth.grant_revocation``, OIDC Core §11 for ``offline_access``). What is listed is what
NamoID keeps anyway (start, last sign-in, methods, expiry): no user agent or address is
stored for this page.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from starlette.responses import Response

from namoid.accounts import sessions
from namoid.storage.models import utcnow
from namoid.web.account.console_auth import Console, ConsoleUser, console_page
from namoid.web.cookies import clear_session_cookie
from namoid.web.responses import page

router = APIRouter()
#: RFC 8176 §2 method references, in words.
METHODS = {
    "pwd": "password",  # pragma: allowlist secret
    "otp": "one-time code",
    "sms": "code by SMS",
    "mfa": "two steps",
    "fed": "another provider",
}


async def _render(
    request: Request, console: Console, notice: str | None = None, status: int = 200
) -> Response:
    async with request.app.state.services.db.tenant(console.org.id) as session:
        live = await sessions.live_of_user(session, console.org.id, console.user.id, utcnow())
    rows = [
        {
            "id": str(row.id),
            "current": row.id == console.browser.id,
            "created_at": row.created_at,
            "auth_time": row.auth_time,
            "expires_at": row.expires_at,
            "methods": ", ".join(METHODS.get(method, method) for method in row.amr) or "—",
        }
        for row in live
    ]
    context = {"sessions": rows, "notice": notice, "end_action": console.url("/sessions/end")}
    context["end_all_action"] = console.url("/sessions/end-all")
    return console_page(request, console, "account_sessions.html", context, status_code=status)


@router.get("/account/sessions", include_in_schema=False)
async def sessions_page(request: Request, console: ConsoleUser) -> Response:
    """The user's live sessions, this browser's marked."""
    return await _render(request, console)


def _session_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if len(value) <= 36 else None
    except ValueError:
        return None


@router.post("/account/sessions/end", include_in_schema=False)
async def end_session(request: Request, console: ConsoleUser) -> Response:
    """Sign out one of the user's other browsers."""
    session_id = _session_id(console.form.get("session", ""))
    if session_id is None or session_id == console.browser.id:
        return await _render(request, console, "Choose one of your other sessions below.", 400)
    async with request.app.state.services.db.tenant(console.org.id) as session:
        ended = await sessions.sign_out(
            session, console.org.id, console.user.id, session_id, utcnow(), actor=console.actor
        )
    notice = "That session was signed out." if ended else "That session had already ended."
    return await _render(request, console, notice)


@router.post("/account/sessions/end-all", include_in_schema=False)
async def end_all_sessions(request: Request, console: ConsoleUser) -> Response:
    """Sign out every browser, this one too."""
    async with request.app.state.services.db.tenant(console.org.id) as session:
        await sessions.sign_out_everywhere(
            session, console.org.id, console.user.id, utcnow(), actor=console.actor
        )
    response = page(request, "signed_out.html", {})
    clear_session_cookie(response, console.org.slug)
    return response
