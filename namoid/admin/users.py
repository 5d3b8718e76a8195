"""``/admin/v1/users``: an org's users, over ``accounts.users`` (the CLI's services)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from namoid.accounts import users
from namoid.admin import cursors, scopes
from namoid.admin.access import Admin, requires
from namoid.admin.schemas import Reason, UserCreate, UserOut, UserPage
from namoid.privacy import erasure
from namoid.services import Services
from namoid.storage.models import User

router = APIRouter(prefix="/users", tags=["users"])
Reader = Annotated[Admin, Depends(requires(scopes.USERS_READ))]
Writer = Annotated[Admin, Depends(requires(scopes.USERS_WRITE))]
MAX_PAGE = 200


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _out(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


@router.get("", response_model=UserPage, summary="Search users by email or name")
async def search_users(
    request: Request,
    admin: Reader,
    q: Annotated[
        str | None, Query(max_length=users.MAX_SEARCH, description="Part of the email or name.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=cursors.MAX_CURSOR)] = None,
) -> UserPage:
    query = {"q": q}
    after = None if cursor is None else cursors.decode(cursor, admin.org.id, query)
    found = await users.search(_services(request).db, admin.org.id, q, after=after, limit=limit)
    more = len(found) == limit
    next_cursor = cursors.encode(admin.org.id, query, found[-1].email) if more else None
    return UserPage(items=[_out(u) for u in found], next_cursor=next_cursor)


@router.post("", response_model=UserOut, status_code=201, summary="Create a user")
async def create_user(request: Request, admin: Writer, body: UserCreate) -> UserOut:
    user = await users.create(_services(request).db, admin.org.id, actor=admin.actor, **body.model_dump())
    return _out(user)


@router.get("/{user_id}", response_model=UserOut, summary="One user")
async def get_user(request: Request, admin: Reader, user_id: uuid.UUID) -> UserOut:
    return _out(await users.get(_services(request).db, admin.org.id, user_id))


@router.post("/{user_id}/disable", response_model=UserOut, summary="Disable, ending their sessions")
async def disable_user(
    request: Request, admin: Writer, user_id: uuid.UUID, body: Reason | None = None
) -> UserOut:
    reason = body.reason if body else None
    return _out(await users.disable(_services(request).db, admin.org.id, user_id, admin.actor, reason))


@router.post("/{user_id}/enable", response_model=UserOut, summary="Enable again")
async def enable_user(request: Request, admin: Writer, user_id: uuid.UUID) -> UserOut:
    return _out(await users.enable(_services(request).db, admin.org.id, user_id, admin.actor))


@router.post(
    "/{user_id}/password/reset",
    response_model=UserOut,
    summary="Remove the password and end everything; the user sets a new one by emailed code",
)
async def reset_password(request: Request, admin: Writer, user_id: uuid.UUID) -> UserOut:
    return _out(await users.reset_password(_services(request).db, admin.org.id, user_id, admin.actor))


@router.post("/{user_id}/sessions/revoke", response_model=UserOut, summary="End every session and grant")
async def revoke_sessions(request: Request, admin: Writer, user_id: uuid.UUID) -> UserOut:
    return _out(await users.revoke_sessions(_services(request).db, admin.org.id, user_id, admin.actor))


@router.delete(
    "/{user_id}",
    response_model=UserOut,
    summary="Delete: at once soft, ending sessions, tokens and provider connections; purged after the grace",
)
async def delete_user(
    request: Request,
    admin: Writer,
    user_id: uuid.UUID,
    reason: Annotated[str | None, Query(min_length=1, max_length=users.MAX_REASON)] = None,
) -> UserOut:
    deleted = await erasure.delete_account(_services(request), admin.org.id, user_id, admin.actor, reason)
    return _out(deleted.user)
