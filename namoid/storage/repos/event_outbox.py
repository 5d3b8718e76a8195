"""The event outbox: one row per (event, subscriber), leased by workers (DESIGN.md §5).

A worker claims due rows by setting a lease; of two workers claiming the same row,
exactly one wins (``SKIP LOCKED`` on PostgreSQL keeps them from even contending, and
the conditional UPDATE decides on every backend). A lease that runs out (the worker
died mid-delivery) makes the row due again: delivery is at least once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import OutboxEntry, SecurityEvent, WebhookSubscription


@dataclass(frozen=True, slots=True)
class Claimed:
    entry_id: int
    attempt: int
    event: SecurityEvent
    url: str


async def enqueue(
    session: AsyncSession,
    org_id: uuid.UUID,
    event_id: uuid.UUID,
    subscription_ids: Sequence[uuid.UUID],
    now: datetime,
) -> None:
    if subscription_ids:
        await session.execute(
            insert(OutboxEntry),
            [
                {
                    "org_id": org_id,
                    "event_id": event_id,
                    "subscription_id": sub,
                    "created_at": now,
                    "next_attempt_at": now,
                    "attempts": 0,
                }
                for sub in subscription_ids
            ],
        )


def _pending() -> ColumnElement[bool]:
    return and_(OutboxEntry.delivered_at.is_(None), OutboxEntry.failed_at.is_(None))


async def claim_due(
    session: AsyncSession, org_id: uuid.UUID, now: datetime, lease_until: datetime, limit: int
) -> list[Claimed]:
    """Lease up to ``limit`` due rows of ``org_id`` (oldest first) and count the attempt."""
    candidates = (
        await session.execute(
            select(OutboxEntry.id, OutboxEntry.attempts)
            .where(
                OutboxEntry.org_id == org_id,
                _pending(),
                OutboxEntry.next_attempt_at <= now,
                or_(OutboxEntry.leased_until.is_(None), OutboxEntry.leased_until <= now),
            )
            .order_by(OutboxEntry.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    claimed_ids: list[int] = []
    for entry_id, attempts in candidates:
        result = await session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.org_id == org_id, OutboxEntry.id == entry_id, OutboxEntry.attempts == attempts)
            .values(leased_until=lease_until, attempts=attempts + 1)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            claimed_ids.append(entry_id)
    if not claimed_ids:
        return []
    rows = (
        await session.execute(
            select(OutboxEntry.id, OutboxEntry.attempts, SecurityEvent, WebhookSubscription.url)
            .join(SecurityEvent, SecurityEvent.id == OutboxEntry.event_id)
            .join(WebhookSubscription, WebhookSubscription.id == OutboxEntry.subscription_id)
            .where(OutboxEntry.org_id == org_id, OutboxEntry.id.in_(claimed_ids))
            .order_by(OutboxEntry.id)
        )
    ).all()
    return [Claimed(entry_id=r[0], attempt=r[1], event=r[2], url=r[3]) for r in rows]


async def mark_delivered(session: AsyncSession, org_id: uuid.UUID, entry_id: int, now: datetime) -> None:
    await session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.org_id == org_id, OutboxEntry.id == entry_id)
        .values(delivered_at=now, leased_until=None, last_error=None)
    )


async def retry_later(
    session: AsyncSession, org_id: uuid.UUID, entry_id: int, at: datetime, error: str
) -> None:
    await session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.org_id == org_id, OutboxEntry.id == entry_id)
        .values(next_attempt_at=at, leased_until=None, last_error=error[:200])
    )


async def mark_failed(
    session: AsyncSession, org_id: uuid.UUID, entry_id: int, now: datetime, error: str
) -> None:
    await session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.org_id == org_id, OutboxEntry.id == entry_id)
        .values(failed_at=now, leased_until=None, last_error=error[:200])
    )


async def drop_from_subscription(
    session: AsyncSession, org_id: uuid.UUID, subscription_id: uuid.UUID, now: datetime
) -> int:
    """A removed subscription gets nothing more: its pending rows fail as 'subscription removed'."""
    result = await session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.org_id == org_id, OutboxEntry.subscription_id == subscription_id, _pending())
        .values(failed_at=now, leased_until=None, last_error="subscription removed")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def delete_delivered_before(session: AsyncSession, org_id: uuid.UUID, before: datetime) -> int:
    result = await session.execute(
        delete(OutboxEntry).where(OutboxEntry.org_id == org_id, OutboxEntry.delivered_at < before)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def list_for_org(session: AsyncSession, org_id: uuid.UUID, limit: int = 100) -> Sequence[OutboxEntry]:
    query = (
        select(OutboxEntry).where(OutboxEntry.org_id == org_id).order_by(OutboxEntry.id.desc()).limit(limit)
    )
    return (await session.scalars(query)).all()
