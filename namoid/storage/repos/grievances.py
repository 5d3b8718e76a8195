"""Grievance tickets (issue 13 item 7): one org's rows only."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import Grievance


async def add(session: AsyncSession, org_id: uuid.UUID, ticket: Grievance) -> Grievance:
    ticket.org_id = org_id
    session.add(ticket)
    await session.flush()
    return ticket


async def get(session: AsyncSession, org_id: uuid.UUID, ticket_id: uuid.UUID) -> Grievance | None:
    return await session.scalar(
        select(Grievance).where(Grievance.org_id == org_id, Grievance.id == ticket_id)
    )


async def list_for(
    session: AsyncSession, org_id: uuid.UUID, *, status: str | None = None, user_id: uuid.UUID | None = None
) -> Sequence[Grievance]:
    """The org's tickets (of one status, of one user), oldest due first."""
    query = select(Grievance).where(Grievance.org_id == org_id)
    if status is not None:
        query = query.where(Grievance.status == status)
    if user_id is not None:
        query = query.where(Grievance.user_id == user_id)
    return (await session.scalars(query.order_by(Grievance.due_at, Grievance.id))).all()


async def close(
    session: AsyncSession,
    org_id: uuid.UUID,
    ticket_id: uuid.UUID,
    *,
    status: str,
    response: str,
    responder: str,
    now: datetime,
) -> bool:
    """Answer or reject an open ticket; False if it is not open (one conditional UPDATE)."""
    result = await session.execute(
        update(Grievance)
        .where(Grievance.org_id == org_id, Grievance.id == ticket_id, Grievance.status == "open")
        .values(status=status, response=response, responder=responder, responded_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
