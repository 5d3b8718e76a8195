"""Versioned notices (namoid.privacy.notices): append a version, read the latest; never update."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import Notice
from namoid.storage.repos import rows


async def latest(session: AsyncSession, org_id: uuid.UUID, language: str) -> Notice | None:
    query = (
        select(Notice)
        .where(Notice.org_id == org_id, Notice.language == language)
        .order_by(Notice.version.desc())
        .limit(1)
    )
    return (await session.scalars(query)).one_or_none()


async def add(session: AsyncSession, org_id: uuid.UUID, notice: Notice) -> Notice:
    return await rows.insert(session, org_id, notice)
