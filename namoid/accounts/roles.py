"""Administrative roles of users (issue 16): ``org_admin`` and ``auditor`` of their own org.

A role says which admin API scopes the user's console session may use (``namoid.admin.scopes``);
granting one is audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.accounts.users import UserRef, require_in
from namoid.admin.scopes import validate_role
from namoid.conflicts import StateConflict
from namoid.storage.db import Database
from namoid.storage.models import User
from namoid.storage.repos import user_roles


async def grant_in(
    session: AsyncSession, org_id: uuid.UUID, user: User, role: str, actor: audit.Actor
) -> None:
    """Give ``user`` ``role`` in the caller's transaction (audited); ValueError if they hold it."""
    validate_role(role)
    if role in await user_roles.of_user(session, org_id, user.id):
        raise StateConflict(f"user {user.email!r} already has the role {role}")
    await user_roles.add(session, org_id, user.id, role)
    await audit.record(
        session,
        org_id,
        actor=actor,
        action="user.role_granted",
        target_type="user",
        target_id=str(user.id),
        detail={"role": role},
    )


async def grant(db: Database, org_id: uuid.UUID, who: UserRef, role: str, actor: audit.Actor) -> User:
    async with db.tenant(org_id) as session:
        user = await require_in(session, org_id, who)
        await grant_in(session, org_id, user, role, actor)
    return user


async def of_user(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> Sequence[str]:
    return await user_roles.of_user(session, org_id, user_id)
