"""The consent ledger (DESIGN.md §8): append and read, never update or delete."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import ConsentRecord
from namoid.storage.repos import rows


async def append(session: AsyncSession, org_id: uuid.UUID, record: ConsentRecord) -> ConsentRecord:
    return await rows.insert(session, org_id, record)


async def list_for_org(
    session: AsyncSession, org_id: uuid.UUID, *, user_id: uuid.UUID | None = None, limit: int = 1000
) -> Sequence[ConsentRecord]:
    query = select(ConsentRecord).where(ConsentRecord.org_id == org_id)
    if user_id is not None:
        query = query.where(ConsentRecord.user_id == user_id)
    return (await session.scalars(query.order_by(ConsentRecord.seq).limit(limit))).all()


async def latest_for_consent(
    session: AsyncSession, org_id: uuid.UUID, consent_id: uuid.UUID
) -> ConsentRecord | None:
    query = (
        select(ConsentRecord)
        .where(ConsentRecord.org_id == org_id, ConsentRecord.consent_id == consent_id)
        .order_by(ConsentRecord.seq.desc())
        .limit(1)
    )
    return (await session.scalars(query)).one_or_none()
