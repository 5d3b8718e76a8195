"""Tombstones of purged accounts (namoid.privacy.erasure): appended, read, never changed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import Tombstone
from namoid.storage.repos import rows


async def add(session: AsyncSession, org_id: uuid.UUID, tombstone: Tombstone) -> Tombstone:
    return await rows.insert(session, org_id, tombstone)


async def find(session: AsyncSession, org_id: uuid.UUID, subject_mac: str) -> Tombstone | None:
    query = select(Tombstone).where(Tombstone.org_id == org_id, Tombstone.subject_mac == subject_mac)
    return await session.scalar(query)


async def list_for_org(session: AsyncSession, org_id: uuid.UUID) -> Sequence[Tombstone]:
    query = select(Tombstone).where(Tombstone.org_id == org_id).order_by(Tombstone.purged_at)
    return (await session.scalars(query)).all()
