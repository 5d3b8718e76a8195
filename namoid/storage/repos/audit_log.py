"""Audit rows: insert and read only; there is deliberately no update or delete."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
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


async def list_for_target(
    session: AsyncSession,
    org_id: uuid.UUID,
    action: str,
    target: tuple[str, str],
    since: datetime,
    limit: int = 1000,
) -> Sequence[AuditEntry]:
    """The org's ``action`` entries about one target since ``since``, oldest first."""
    query = (
        select(AuditEntry)
        .where(
            AuditEntry.org_id == org_id,
            AuditEntry.action == action,
            AuditEntry.target_type == target[0],
            AuditEntry.target_id == target[1],
            AuditEntry.occurred_at >= since,
        )
        .order_by(AuditEntry.seq)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def count_by_day(
    session: AsyncSession, org_id: uuid.UUID, actions: Sequence[str], since: datetime
) -> list[tuple[str, str, int]]:
    """(UTC day ``YYYY-MM-DD``, action, entries) of the org's ``actions`` since ``since``."""
    moment: Any = AuditEntry.occurred_at
    if session.get_bind().dialect.name == "postgresql":
        moment = func.timezone("UTC", moment)
    day = func.date(moment)
    query = (
        select(day, AuditEntry.action, func.count())
        .where(AuditEntry.org_id == org_id, AuditEntry.action.in_(actions), AuditEntry.occurred_at >= since)
        .group_by(day, AuditEntry.action)
    )
    return [
        (str(found_day), action, count) for found_day, action, count in (await session.execute(query)).all()
    ]
