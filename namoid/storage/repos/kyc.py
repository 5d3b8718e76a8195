"""Aadhaar offline KYC rows: the org's policy and the users' masked records."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import KycPolicy, KycRecord, utcnow


async def get_policy(session: AsyncSession, org_id: uuid.UUID) -> KycPolicy | None:
    return await session.scalar(select(KycPolicy).where(KycPolicy.org_id == org_id))


async def set_policy(session: AsyncSession, org_id: uuid.UUID, enabled: bool, max_age_days: int) -> KycPolicy:
    policy = await get_policy(session, org_id)
    if policy is None:
        policy = KycPolicy(org_id=org_id)
        session.add(policy)
    policy.enabled, policy.max_age_days, policy.updated_at = enabled, max_age_days, utcnow()
    await session.flush()
    return policy


async def get_record(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> KycRecord | None:
    return await session.scalar(
        select(KycRecord).where(KycRecord.org_id == org_id, KycRecord.user_id == user_id)
    )


async def put_record(session: AsyncSession, org_id: uuid.UUID, record: KycRecord) -> KycRecord:
    """Store ``record`` as the user's only one (a new verification replaces the old)."""
    await delete_record(session, org_id, record.user_id)
    record.org_id = org_id
    session.add(record)
    await session.flush()
    return record


async def delete_record(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Erase the user's record; False if there was none."""
    result = await session.execute(
        delete(KycRecord).where(KycRecord.org_id == org_id, KycRecord.user_id == user_id)
    )
    return bool(getattr(result, "rowcount", 0))
