"""One person's rows for the data export and the purge (DESIGN.md §8): every table, one query shape."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from namoid.storage.models import AuditEntry, RefreshFamily, RefreshToken, SecurityEvent


async def rows_of_user(
    session: AsyncSession,
    org_id: uuid.UUID,
    user_column: InstrumentedAttribute[Any],
    user_id: uuid.UUID,
    order_by: InstrumentedAttribute[Any],
) -> Sequence[Any]:
    """The org's rows of ``user_column``'s table that belong to ``user_id``, in ``order_by`` order."""
    model: Any = user_column.class_
    query = select(model).where(model.org_id == org_id, user_column == user_id).order_by(order_by)
    return (await session.scalars(query)).all()


async def audit_entries_of_user(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, since: datetime
) -> Sequence[AuditEntry]:
    """The org's audit entries since ``since`` whose actor or target is ``user_id``."""
    who = str(user_id)
    query = (
        select(AuditEntry)
        .where(
            AuditEntry.org_id == org_id,
            AuditEntry.occurred_at >= since,
            or_(AuditEntry.actor_id == who, AuditEntry.target_id == who),
        )
        .order_by(AuditEntry.seq)
    )
    return (await session.scalars(query)).all()


async def security_events_of_user(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, since: datetime
) -> Sequence[SecurityEvent]:
    """The org's security events since ``since`` about ``user_id`` (RFC 9493 ``iss_sub``)."""
    query = (
        select(SecurityEvent)
        .where(
            SecurityEvent.org_id == org_id,
            SecurityEvent.occurred_at >= since,
            SecurityEvent.subject["sub"].as_string() == str(user_id),
        )
        .order_by(SecurityEvent.occurred_at)
    )
    return (await session.scalars(query)).all()


async def delete_rows_of_user(
    session: AsyncSession, org_id: uuid.UUID, user_column: InstrumentedAttribute[Any], user_id: uuid.UUID
) -> int:
    """The purge: delete the org's rows of ``user_column``'s table that belong to ``user_id``."""
    model: Any = user_column.class_
    result = await session.execute(delete(model).where(model.org_id == org_id, user_column == user_id))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def delete_refresh_tokens_of_user(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> int:
    """The purge: delete the refresh tokens of the user's families (before the families)."""
    families = select(RefreshFamily.id).where(
        RefreshFamily.org_id == org_id, RefreshFamily.user_id == user_id
    )
    result = await session.execute(
        delete(RefreshToken).where(RefreshToken.org_id == org_id, RefreshToken.family_id.in_(families))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
