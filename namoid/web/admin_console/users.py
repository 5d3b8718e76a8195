"""``/console/o/{slug}/users``: search, create, disable/enable, revoke sessions, delete; over
``accounts.users`` and ``privacy.erasure`` like the admin API."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from namoid.accounts import users
from namoid.admin import scopes
from namoid.privacy import erasure
from namoid.web.admin_console.auth import Console, console_page, done, notice, requires, services_of

router = APIRouter(prefix="/users")
Reader = Annotated[Console, Depends(requires(scopes.USERS_READ))]
Writer = Annotated[Console, Depends(requires(scopes.USERS_WRITE))]
PAGE = 50
NOTICES = {
    "created": "The user was created. They set a password with “Forgot your password?” on the sign-in page.",
    "disabled": "The user was disabled: their sessions and tokens are revoked.",
    "enabled": "The user was enabled. Their old sessions stay ended.",
    "revoked": "Every session and grant of the user was ended.",
    "deleted": "The user was deleted; the account is purged after the grace period.",
}


def _reason(console: Console) -> str | None:
    return users.validate_reason(console.form.get("reason", "").strip() or None)


@router.get("", include_in_schema=False)
async def search_users(request: Request, console: Reader) -> Response:
    query = request.query_params.get("q", "").strip()[: users.MAX_SEARCH] or None
    found = await users.search(services_of(request).db, console.org.id, query, after=None, limit=PAGE)
    context = {
        "users": found,
        "q": query or "",
        "more": len(found) == PAGE,
        "notice": notice(request, NOTICES),
    }
    return console_page(request, console, "admin_users.html", context)


@router.post("", include_in_schema=False)
async def create_user(request: Request, console: Writer) -> Response:
    """A new account without a password (the user sets one through the reset-by-code page)."""
    form = console.form
    name = form.get("name", "").strip() or None
    db = services_of(request).db
    await users.create(db, console.org.id, email=form.get("email", ""), password=None, phone=None, name=name,
                       actor=console.actor)  # fmt: skip
    return done(console, "/users", "created")


@router.post("/{user_id}/disable", include_in_schema=False)
async def disable_user(request: Request, console: Writer, user_id: uuid.UUID) -> Response:
    await users.disable(services_of(request).db, console.org.id, user_id, console.actor, _reason(console))
    return done(console, "/users", "disabled")


@router.post("/{user_id}/enable", include_in_schema=False)
async def enable_user(request: Request, console: Writer, user_id: uuid.UUID) -> Response:
    await users.enable(services_of(request).db, console.org.id, user_id, console.actor)
    return done(console, "/users", "enabled")


@router.post("/{user_id}/sessions/revoke", include_in_schema=False)
async def revoke_sessions(request: Request, console: Writer, user_id: uuid.UUID) -> Response:
    await users.revoke_sessions(services_of(request).db, console.org.id, user_id, console.actor)
    return done(console, "/users", "revoked")


@router.post("/{user_id}/delete", include_in_schema=False)
async def delete_user(request: Request, console: Writer, user_id: uuid.UUID) -> Response:
    await erasure.delete_account(
        services_of(request), console.org.id, user_id, console.actor, _reason(console)
    )
    return done(console, "/users", "deleted")
