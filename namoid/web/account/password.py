"""``{issuer}/account/password``: change the password after a fresh sign-in (step-up).

The step-up replaces asking for the current password (NIST SP 800-63B §6.1.2.2 asks for
re-authentication). The change ends every other session and every grant of the user
(``accounts.users.change_password``); this browser stays signed in.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from namoid.accounts import users
from namoid.storage.models import utcnow
from namoid.web.account.console_auth import Console, console_page, require_fresh_auth

router = APIRouter()
Fresh = Annotated[Console, Depends(require_fresh_auth())]


def _form(
    request: Request, console: Console, *, error: str | None = None, notice: str | None = None
) -> Response:
    context: dict[str, object] = {"action": console.url("/password"), "error": error, "notice": notice}
    context |= {"has_password": console.user.password_hash is not None, "min_length": users.MIN_PASSWORD}
    return console_page(request, console, "account_password.html", context, status_code=400 if error else 200)


@router.get("/account/password", include_in_schema=False)
async def password_page(request: Request, console: Fresh) -> Response:
    return _form(request, console)


@router.post("/account/password", include_in_schema=False)
async def change_password(request: Request, console: Fresh) -> Response:
    """Set the new password (Argon2id) and end the user's other sessions and grants."""
    password, confirm = console.form.get("new_password", ""), console.form.get("confirm_password", "")
    if not hmac.compare_digest(password.encode(), confirm.encode()):
        return _form(request, console, error="The two passwords are not the same. Type them again.")
    try:
        revoked = await users.change_password(
            request.app.state.services.db, console.org.id, console.user.id, password,
            keep_sid=console.browser.sid, now=utcnow(),
        )  # fmt: skip
    except ValueError:
        return _form(request, console, error=f"Use {users.MIN_PASSWORD} to {users.MAX_PASSWORD} characters.")
    others = revoked.sessions
    ended = f" {others} other session{'s' if others != 1 else ''} signed out." if others else ""
    return _form(request, console, notice="Your password was changed." + ended)
