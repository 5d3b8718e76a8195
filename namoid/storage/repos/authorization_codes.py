"""Authorization codes (RFC 6749 §4.1.2): stored by SHA-256, consumed exactly once."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import AuthorizationCode
from namoid.storage.repos import rows


async def add(session: AsyncSession, org_id: uuid.UUID, code: AuthorizationCode) -> AuthorizationCode:
    return await rows.insert(session, org_id, code)


async def find(session: AsyncSession, org_id: uuid.UUID, code_hash: str) -> AuthorizationCode | None:
    return await session.scalar(
        select(AuthorizationCode).where(
            AuthorizationCode.org_id == org_id, AuthorizationCode.code_hash == code_hash
        )
    )


async def consume(session: AsyncSession, org_id: uuid.UUID, code_id: uuid.UUID, now: datetime) -> bool:
    """Mark the code used; False if it already was (one UPDATE: exactly one redeemer wins)."""
    return await rows.stamp_once(
        session, org_id, AuthorizationCode.id, code_id, AuthorizationCode.used_at, now
    )


async def spend_unused(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, client_id: str, now: datetime
) -> int:
    """Mark the user's unredeemed codes at a client used, so none can still be exchanged (a
    later redemption is refused as a reuse, RFC 6749 §4.1.2); returns how many."""
    result = await session.execute(
        update(AuthorizationCode)
        .where(
            AuthorizationCode.org_id == org_id,
            AuthorizationCode.user_id == user_id,
            AuthorizationCode.client_id == client_id,
            AuthorizationCode.used_at.is_(None),
        )
        .values(used_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def sid_of(session: AsyncSession, org_id: uuid.UUID, code_id: uuid.UUID) -> str | None:
    """The browser session the code is bound to now (read afresh: a sign-in may have moved it)."""
    return await session.scalar(
        select(AuthorizationCode.sid).where(
            AuthorizationCode.org_id == org_id, AuthorizationCode.id == code_id
        )
    )


async def move_to_session(session: AsyncSession, org_id: uuid.UUID, old_sid: str, new_sid: str) -> int:
    """Rebind the unused codes of browser session ``old_sid`` to ``new_sid``; returns how many."""
    result = await session.execute(
        update(AuthorizationCode)
        .where(
            AuthorizationCode.org_id == org_id,
            AuthorizationCode.sid == old_sid,
            AuthorizationCode.used_at.is_(None),
        )
        .values(sid=new_sid)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def delete_expired(session: AsyncSession, org_id: uuid.UUID, before: datetime) -> int:
    """The sweep: delete codes that expired before ``before``; returns how many.

    Until then a used code presented again is still recognised as a replay (RFC 6749 §4.1.2).
    """
    return await rows.delete_stamped_before(session, org_id, before, AuthorizationCode.expires_at)
