"""Audit rows: insert and read only; there is deliberately no update or delete."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import AuditEntry


async def append(session: AsyncSession, org_id: uuid.UUID | None, **fields: Any) -> None:
    """Append an entry for ``org_id`` (None: a system action outside any organization).

    One INSERT statement (it is on every request's path), after the session's pending changes.
    """
    await session.execute(insert(AuditEntry).values(org_id=org_id, **fields))


async def list_recent(
    session: AsyncSession, org_id: uuid.UUID | None, limit: int = 100
) -> Sequence[AuditEntry]:
    org_match = AuditEntry.org_id.is_(None) if org_id is None else AuditEntry.org_id == org_id
    query = select(AuditEntry).where(org_match).order_by(AuditEntry.seq.desc()).limit(limit)
    return (await session.scalars(query)).all()
