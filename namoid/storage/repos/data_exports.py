"""Data-export jobs (issue 13): claim, store, link, take once, destroy. Conditional updates only."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import DataExport
from namoid.storage.repos import rows

#: Statuses of an export under way: the user may not ask for another one meanwhile.
ACTIVE = ("pending", "ready")


async def add(session: AsyncSession, org_id: uuid.UUID, row: DataExport) -> DataExport:
    return await rows.insert(session, org_id, row)


async def get(session: AsyncSession, org_id: uuid.UUID, export_id: uuid.UUID) -> DataExport | None:
    query = select(DataExport).where(DataExport.org_id == org_id, DataExport.id == export_id)
    return (await session.scalars(query)).one_or_none()


async def active_for_user(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> DataExport | None:
    query = select(DataExport).where(DataExport.org_id == org_id, DataExport.active_user_id == user_id)
    return (await session.scalars(query)).one_or_none()


async def latest_for_user(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> DataExport | None:
    query = (
        select(DataExport)
        .where(DataExport.org_id == org_id, DataExport.user_id == user_id)
        .order_by(DataExport.requested_at.desc())
        .limit(1)
    )
    return (await session.scalars(query)).one_or_none()


async def pending_ids(session: AsyncSession, org_id: uuid.UUID) -> Sequence[uuid.UUID]:
    query = select(DataExport.id).where(DataExport.org_id == org_id, DataExport.status == "pending")
    return (await session.scalars(query.order_by(DataExport.requested_at))).all()


async def find_by_link(session: AsyncSession, org_id: uuid.UUID, link_hash: str) -> DataExport | None:
    query = select(DataExport).where(DataExport.org_id == org_id, DataExport.link_hash == link_hash)
    return (await session.scalars(query)).one_or_none()


async def _move(
    session: AsyncSession, org_id: uuid.UUID, export_id: uuid.UUID, in_status: str, **values: Any
) -> bool:
    """Set ``values`` on the export if it is (still) ``in_status``: one conditional UPDATE."""
    result = await session.execute(
        update(DataExport)
        .where(DataExport.org_id == org_id, DataExport.id == export_id, DataExport.status == in_status)
        .values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def claim(session: AsyncSession, org_id: uuid.UUID, export_id: uuid.UUID) -> bool:
    """Count an attempt on a pending export; on PostgreSQL the row stays locked by this transaction."""
    return await _move(session, org_id, export_id, "pending", attempts=DataExport.attempts + 1)


async def store(
    session: AsyncSession,
    org_id: uuid.UUID,
    export_id: uuid.UUID,
    *,
    payload_enc: str,
    size: int,
    now: datetime,
    expires_at: datetime,
) -> bool:
    return await _move(
        session,
        org_id,
        export_id,
        "pending",
        status="ready",
        payload_enc=payload_enc,
        size=size,
        produced_at=now,
        expires_at=expires_at,
    )


async def fail(session: AsyncSession, org_id: uuid.UUID, export_id: uuid.UUID, now: datetime) -> bool:
    return await _move(
        session, org_id, export_id, "pending", status="failed", active_user_id=None, ended_at=now
    )


async def set_link(
    session: AsyncSession, org_id: uuid.UUID, export_id: uuid.UUID, link_hash: str, expires_at: datetime
) -> bool:
    return await _move(session, org_id, export_id, "ready", link_hash=link_hash, link_expires_at=expires_at)


async def take(session: AsyncSession, org_id: uuid.UUID, export_id: uuid.UUID, now: datetime) -> bool:
    """Mark a ready export downloaded and destroy its document: of two takers exactly one wins."""
    return await _move(
        session,
        org_id,
        export_id,
        "ready",
        status="downloaded",
        downloaded_at=now,
        payload_enc=None,
        active_user_id=None,
        ended_at=now,
    )


async def discard(session: AsyncSession, org_id: uuid.UUID, export_id: uuid.UUID, now: datetime) -> bool:
    """Fail a ready export whose document cannot be used, destroying it."""
    ended = {"payload_enc": None, "active_user_id": None, "ended_at": now}
    return await _move(session, org_id, export_id, "ready", status="failed", **ended)


async def expire(session: AsyncSession, org_id: uuid.UUID, now: datetime) -> int:
    """Destroy the documents of ready exports past ``expires_at``; how many."""
    result = await session.execute(
        update(DataExport)
        .where(DataExport.org_id == org_id, DataExport.status == "ready", DataExport.expires_at <= now)
        .values(status="expired", payload_enc=None, active_user_id=None, ended_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def sealed_payloads(
    session: AsyncSession, org_id: uuid.UUID
) -> Sequence[tuple[uuid.UUID, uuid.UUID, str]]:
    """(id, user id, envelope) of every stored document, for key rotation."""
    query = select(DataExport.id, DataExport.user_id, DataExport.payload_enc).where(
        DataExport.org_id == org_id, DataExport.payload_enc.is_not(None)
    )
    return [(row.id, row.user_id, row.payload_enc) for row in await session.execute(query)]


async def reseal_payload(
    session: AsyncSession, org_id: uuid.UUID, export_id: uuid.UUID, envelope: str
) -> None:
    await session.execute(
        update(DataExport)
        .where(DataExport.org_id == org_id, DataExport.id == export_id, DataExport.payload_enc.is_not(None))
        .values(payload_enc=envelope)
    )
