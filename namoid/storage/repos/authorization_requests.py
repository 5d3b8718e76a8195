"""Validated /authorize requests waiting for login and consent: found by handle, completed once."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import AuthorizationRequest
from namoid.storage.repos import rows


async def add(session: AsyncSession, org_id: uuid.UUID, row: AuthorizationRequest) -> AuthorizationRequest:
    return await rows.insert(session, org_id, row)


async def find_pending(
    session: AsyncSession, org_id: uuid.UUID, handle: str, now: datetime
) -> AuthorizationRequest | None:
    """The request behind ``handle`` unless it expired or was already answered."""
    return await session.scalar(
        select(AuthorizationRequest).where(
            AuthorizationRequest.org_id == org_id,
            AuthorizationRequest.handle == handle,
            AuthorizationRequest.completed_at.is_(None),
            AuthorizationRequest.expires_at > now,
        )
    )


async def complete(session: AsyncSession, org_id: uuid.UUID, request_id: uuid.UUID, now: datetime) -> bool:
    """Mark the request answered; False if it already was (exactly one answer wins)."""
    return await rows.stamp_once(
        session, org_id, AuthorizationRequest.id, request_id, AuthorizationRequest.completed_at, now
    )


async def delete_expired(session: AsyncSession, org_id: uuid.UUID, before: datetime) -> int:
    """The sweep: delete requests that expired before ``before``; returns how many."""
    return await rows.delete_stamped_before(session, org_id, before, AuthorizationRequest.expires_at)
