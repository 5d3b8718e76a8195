"""The outbox: one row per (event, subscriber) or per email/SMS, leased by workers (DESIGN.md §5, §8).

Rows are leased by ``kind`` (``webhook``, ``email``, ``sms``), so each delivery only ever
holds rows it can deliver; recording an outcome (delivered, retry later, failed) is the
same for every kind.

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

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import OutboxEntry, SecurityEvent, WebhookSubscription
from namoid.storage.repos import rows

#: The PostgreSQL channel a commit with new messages NOTIFYs; the payload is the org id.
CHANNEL = "namoid_outbox"


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


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Pending, due, and not leased by a live worker."""
    return and_(
        _pending(),
        OutboxEntry.next_attempt_at <= now,
        or_(OutboxEntry.leased_until.is_(None), OutboxEntry.leased_until <= now),
    )


async def _lease(
    session: AsyncSession,
    org_id: uuid.UUID,
    kinds: Sequence[str],
    now: datetime,
    lease_until: datetime,
    limit: int,
) -> Sequence[int]:
    """Lease up to ``limit`` due rows of ``org_id`` and ``kinds`` (oldest first) and count the attempt.

    One UPDATE of the rows a locking CTE picked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL:
    rows another worker is claiming are passed over, not waited for), which re-checks that
    each row is still claimable: a row is leased by one worker only. The CTE is
    materialized so PostgreSQL picks the rows once; as a subquery in ``IN (...)`` it may
    re-run it for every row it scans, and then its ``LIMIT`` no longer limits anything.
    """
    due = (
        select(OutboxEntry.id)
        .where(OutboxEntry.org_id == org_id, OutboxEntry.kind.in_(kinds), _claimable(now))
        .order_by(OutboxEntry.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    return (
        await session.scalars(
            update(OutboxEntry)
            .where(OutboxEntry.org_id == org_id, OutboxEntry.id.in_(select(due.c.id)), _claimable(now))
            .values(leased_until=lease_until, attempts=OutboxEntry.attempts + 1)
            .returning(OutboxEntry.id)
        )
    ).all()


async def claim_due(
    session: AsyncSession, org_id: uuid.UUID, now: datetime, lease_until: datetime, limit: int
) -> list[Claimed]:
    """Lease up to ``limit`` due webhook rows of ``org_id`` with their event and receiver URL."""
    claimed = await _lease(session, org_id, ("webhook",), now, lease_until, limit)
    if not claimed:
        return []
    found = (
        await session.execute(
            select(OutboxEntry.id, OutboxEntry.attempts, SecurityEvent, WebhookSubscription.url)
            .join(SecurityEvent, SecurityEvent.id == OutboxEntry.event_id)
            .join(WebhookSubscription, WebhookSubscription.id == OutboxEntry.subscription_id)
            .where(OutboxEntry.org_id == org_id, OutboxEntry.id.in_(claimed))
            .order_by(OutboxEntry.id)
        )
    ).all()
    return [Claimed(entry_id=r[0], attempt=r[1], event=r[2], url=r[3]) for r in found]


async def _settle(
    session: AsyncSession, org_id: uuid.UUID, entry_id: int, attempt: int | None, **values: object
) -> bool:
    """Record a pending row's outcome and release its lease; False if the row had moved on.

    With ``attempt``, only the worker holding that attempt's lease may settle: one whose
    lease ran out (and whose row another worker claimed again) changes nothing.
    """
    current = () if attempt is None else (OutboxEntry.attempts == attempt,)
    result = await session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.org_id == org_id, OutboxEntry.id == entry_id, _pending(), *current)
        .values(leased_until=None, **values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def mark_delivered(session: AsyncSession, org_id: uuid.UUID, entry_id: int, now: datetime) -> bool:
    """Delivered, whichever attempt did it: the receiver has the event."""
    return await _settle(session, org_id, entry_id, None, delivered_at=now, last_error=None)


async def retry_later(
    session: AsyncSession, org_id: uuid.UUID, entry_id: int, attempt: int, at: datetime, error: str
) -> bool:
    return await _settle(session, org_id, entry_id, attempt, next_attempt_at=at, last_error=error[:200])


async def mark_failed(
    session: AsyncSession, org_id: uuid.UUID, entry_id: int, attempt: int, now: datetime, error: str
) -> bool:
    return await _settle(session, org_id, entry_id, attempt, failed_at=now, last_error=error[:200])


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


async def delete_settled_before(session: AsyncSession, org_id: uuid.UUID, before: datetime) -> int:
    """The sweep: delete rows delivered or failed before ``before``; returns how many."""
    return await rows.delete_stamped_before(
        session, org_id, before, OutboxEntry.delivered_at, OutboxEntry.failed_at
    )


async def list_for_org(session: AsyncSession, org_id: uuid.UUID, limit: int = 100) -> Sequence[OutboxEntry]:
    query = (
        select(OutboxEntry).where(OutboxEntry.org_id == org_id).order_by(OutboxEntry.id.desc()).limit(limit)
    )
    return (await session.scalars(query)).all()


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    entry_id: int
    attempt: int
    kind: str
    message_id: uuid.UUID
    payload_enc: str


async def enqueue_message(
    session: AsyncSession,
    org_id: uuid.UUID,
    kind: str,
    message_id: uuid.UUID,
    payload_enc: str,
    now: datetime,
    *,
    captured: bool = False,
) -> None:
    """One email or SMS row, due at once; ``payload_enc`` is the message encrypted by the caller.

    A ``captured`` row (a test-mode org's) is settled as it is written: no worker ever sends it,
    and it keeps its payload for the org's inbox until the sweep removes it."""
    await session.execute(
        insert(OutboxEntry).values(
            org_id=org_id,
            kind=kind,
            message_id=message_id,
            payload_enc=payload_enc,
            created_at=now,
            next_attempt_at=now,
            attempts=0,
            delivered_at=now if captured else None,
        )
    )


async def announce(session: AsyncSession, org_id: uuid.UUID) -> None:
    """On PostgreSQL, NOTIFY the listening workers when this transaction commits (never on rollback)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_notify(CHANNEL, str(org_id))))


async def claim_messages(
    session: AsyncSession,
    org_id: uuid.UUID,
    kinds: Sequence[str],
    now: datetime,
    lease_until: datetime,
    limit: int,
) -> list[ClaimedMessage]:
    """Lease up to ``limit`` due message rows of ``org_id`` (see ``_lease``), with their payloads."""
    claimed = await _lease(session, org_id, kinds, now, lease_until, limit)
    if not claimed:
        return []
    found = await session.execute(
        select(
            OutboxEntry.id,
            OutboxEntry.attempts,
            OutboxEntry.kind,
            OutboxEntry.message_id,
            OutboxEntry.payload_enc,
        )
        .where(OutboxEntry.org_id == org_id, OutboxEntry.id.in_(claimed))
        .order_by(OutboxEntry.id)
    )
    return [
        ClaimedMessage(entry_id=r[0], attempt=r[1], kind=r[2], message_id=r[3], payload_enc=r[4])
        for r in found.all()
        if r[3] is not None and r[4] is not None
    ]


async def erase_payload(session: AsyncSession, org_id: uuid.UUID, entry_id: int) -> None:
    """Forget a settled message's content (it may hold a one-time code); the row's outcome stays."""
    await session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.org_id == org_id, OutboxEntry.id == entry_id, ~_pending())
        .values(payload_enc=None)
    )


async def pending_payloads(session: AsyncSession, org_id: uuid.UUID) -> Sequence[tuple[uuid.UUID, str]]:
    """(message id, encrypted payload) of every message not yet erased: what key rotation rewrites."""
    found = await session.execute(
        select(OutboxEntry.message_id, OutboxEntry.payload_enc).where(
            OutboxEntry.org_id == org_id,
            OutboxEntry.message_id.is_not(None),
            OutboxEntry.payload_enc.is_not(None),
        )
    )
    return [(r[0], r[1]) for r in found.all() if r[0] is not None and r[1] is not None]


async def set_payload_enc(
    session: AsyncSession, org_id: uuid.UUID, message_id: uuid.UUID, payload_enc: str
) -> None:
    await session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.org_id == org_id, OutboxEntry.message_id == message_id)
        .values(payload_enc=payload_enc)
    )


async def list_messages(session: AsyncSession, org_id: uuid.UUID, limit: int = 100) -> Sequence[OutboxEntry]:
    """The org's email and SMS rows, newest first."""
    query = (
        select(OutboxEntry)
        .where(OutboxEntry.org_id == org_id, OutboxEntry.kind != "webhook")
        .order_by(OutboxEntry.id.desc())
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def list_inbox(session: AsyncSession, org_id: uuid.UUID, limit: int = 100) -> Sequence[OutboxEntry]:
    """A test-mode org's captured messages (settled with their payload kept), newest first."""
    query = (
        select(OutboxEntry)
        .where(
            OutboxEntry.org_id == org_id,
            OutboxEntry.kind != "webhook",
            OutboxEntry.delivered_at.is_not(None),
            OutboxEntry.payload_enc.is_not(None),
        )
        .order_by(OutboxEntry.id.desc())
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def backlog(session: AsyncSession, org_id: uuid.UUID) -> Sequence[tuple[str, int, datetime]]:
    """Per kind: how many rows still wait for delivery, and when the oldest was written."""
    query = (
        select(OutboxEntry.kind, func.count(), func.min(OutboxEntry.created_at))
        .where(OutboxEntry.org_id == org_id, _pending())
        .group_by(OutboxEntry.kind)
    )
    return [(kind, count, oldest) for kind, count, oldest in (await session.execute(query)).all()]
