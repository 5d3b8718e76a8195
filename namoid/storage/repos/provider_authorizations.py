"""Trips to an upstream's authorization endpoint: found by state hash, used once."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import ProviderAuthorization
from namoid.storage.repos import rows


async def add(session: AsyncSession, org_id: uuid.UUID, row: ProviderAuthorization) -> ProviderAuthorization:
    return await rows.insert(session, org_id, row)


async def find(session: AsyncSession, org_id: uuid.UUID, state_hash: str) -> ProviderAuthorization | None:
    query = select(ProviderAuthorization).where(
        ProviderAuthorization.org_id == org_id, ProviderAuthorization.state_hash == state_hash
    )
    return (await session.scalars(query)).one_or_none()


async def use(session: AsyncSession, org_id: uuid.UUID, row_id: uuid.UUID, now: datetime) -> bool:
    """Mark used; False if it already was (a replayed state)."""
    return await rows.stamp_once(
        session, org_id, ProviderAuthorization.id, row_id, ProviderAuthorization.used_at, now
    )


async def remove_for_provider(session: AsyncSession, org_id: uuid.UUID, provider_id: uuid.UUID) -> None:
    await session.execute(
        delete(ProviderAuthorization).where(
            ProviderAuthorization.org_id == org_id, ProviderAuthorization.provider_id == provider_id
        )
    )
