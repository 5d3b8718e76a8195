"""Security events: insert and read only (the table is append-only, like the audit log)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import SecurityEvent


async def add(
    session: AsyncSession,
    org_id: uuid.UUID | None,
    *,
    name: str,
    subject: dict[str, Any],
    payload: dict[str, Any],
) -> SecurityEvent:
    """Record an event of ``org_id`` (None: outside any organization) and flush it."""
    event = SecurityEvent(org_id=org_id, name=name, subject=subject, payload=payload)
    session.add(event)
    await session.flush()
    return event


async def list_recent(
    session: AsyncSession, org_id: uuid.UUID | None, limit: int = 100
) -> Sequence[SecurityEvent]:
    org_match = SecurityEvent.org_id.is_(None) if org_id is None else SecurityEvent.org_id == org_id
    query = select(SecurityEvent).where(org_match).order_by(SecurityEvent.occurred_at.desc()).limit(limit)
    return (await session.scalars(query)).all()


async def page(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    name: str | None,
    since: datetime | None,
    until: datetime | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[SecurityEvent]:
    """``org_id``'s events, newest first, filtered, from after the (occurred_at, id) position."""
    query = select(SecurityEvent).where(SecurityEvent.org_id == org_id)
    if name is not None:
        query = query.where(SecurityEvent.name == name)
    if since is not None:
        query = query.where(SecurityEvent.occurred_at >= since)
    if until is not None:
        query = query.where(SecurityEvent.occurred_at < until)
    if after is not None:
        at, event_id = after
        query = query.where(
            or_(
                SecurityEvent.occurred_at < at,
                and_(SecurityEvent.occurred_at == at, SecurityEvent.id < event_id),
            )
        )
    query = query.order_by(SecurityEvent.occurred_at.desc(), SecurityEvent.id.desc()).limit(limit)
    return (await session.scalars(query)).all()
