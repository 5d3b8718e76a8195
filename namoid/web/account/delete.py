"""``{issuer}/account/delete``: delete the account, after a fresh sign-in (step-up) and a typed confirmation.

The page says what happens (DPDP Act 2023 s.12(3)): sign-in ends at once, as do every session
and every application's access; relying parties are told; after the organization's grace period
the worker purges the account and keeps only a tombstone, plus what the law requires and why
(``privacy.purge.legal_basis``). The deletion is ``privacy.erasure.delete_account``; the browser
is signed out (its session ended with the account).
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from namoid.privacy import erasure, purge
from namoid.privacy.sections import SECTIONS
from namoid.tenancy import organizations
from namoid.web.account.console_auth import Console, console_page, require_fresh_auth
from namoid.web.cookies import clear_console_cookie, clear_session_cookie, console_cookie_name
from namoid.web.responses import page

router = APIRouter()
Fresh = Annotated[Console, Depends(require_fresh_auth())]
#: What the user types to confirm (a checkbox is too easy to tick by mistake).
CONFIRMATION: Final = "DELETE"


async def _form(request: Request, console: Console, *, error: str | None = None) -> Response:
    # The grace a deletion now would get (the request's org may come from the org cache).
    org = await organizations.require(request.app.state.services.db, console.org.slug)
    context: dict[str, object] = {
        "action": console.url("/delete"),
        "error": error,
        "grace_days": org.erasure_grace_days,
        "kept": [(entry["data"].replace("_", " "), entry["basis"]) for entry in purge.legal_basis(SECTIONS)],
        "confirmation": CONFIRMATION,
    }
    return console_page(request, console, "account_delete.html", context, status_code=400 if error else 200)


@router.get("/account/delete", include_in_schema=False)
async def delete_page(request: Request, console: Fresh) -> Response:
    return await _form(request, console)


@router.post("/account/delete", include_in_schema=False)
async def delete_account(request: Request, console: Fresh) -> Response:
    """Delete the signed-in user's own account (never anyone else's: the user comes from the session)."""
    if console.form.get("confirm", "").strip() != CONFIRMATION:
        return await _form(
            request, console, error=f"Type {CONFIRMATION} in the box to confirm. Nothing was deleted."
        )
    deleted = await erasure.delete_account(
        request.app.state.services, console.org.id, console.user.id, console.actor
    )
    context = {"purge_date": deleted.purge_at.strftime("%Y-%m-%d")}
    response = page(request, "account_deleted.html", context)
    clear_session_cookie(response, console.org.slug)
    clear_console_cookie(response, console_cookie_name(console.org.slug))
    return response
