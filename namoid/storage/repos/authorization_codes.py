"""Authorization codes (RFC 6749 §4.1.2): stored by SHA-256, consumed exactly once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Consumed:
    """A code this transaction consumed, and the browser session it is bound to now."""

    sid: str | None


async def consume(
    session: AsyncSession, org_id: uuid.UUID, code_id: uuid.UUID, now: datetime
) -> Consumed | None:
    """Mark the code used; None if it already was (one UPDATE: exactly one redeemer wins).

    The same statement returns the code's ``sid`` as it is when consumed (RETURNING, no second
    SELECT): a sign-in may have moved the code to a new session since it was read, and once
    the row is consumed no move touches it again (``move_to_session`` skips used codes).
    """
    row = (
        await session.execute(
            update(AuthorizationCode)
            .where(
                AuthorizationCode.org_id == org_id,
                AuthorizationCode.id == code_id,
                AuthorizationCode.used_at.is_(None),
            )
            .values(used_at=now)
            .returning(AuthorizationCode.sid)
        )
    ).first()
    return None if row is None else Consumed(sid=row.sid)


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
