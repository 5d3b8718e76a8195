"""Administrative roles of users in one organization (issue 16)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import UserRole
from namoid.storage.repos import rows


async def add(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, role: str) -> UserRole:
    return await rows.insert(session, org_id, UserRole(user_id=user_id, role=role))


async def of_user(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> Sequence[str]:
    query = select(UserRole.role).where(UserRole.org_id == org_id, UserRole.user_id == user_id)
    return (await session.scalars(query.order_by(UserRole.role))).all()
