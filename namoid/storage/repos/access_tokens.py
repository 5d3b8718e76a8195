"""Issued access-token ``jti`` rows (RFC 9068 §2.2), for revocation and introspection."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import AccessToken, RefreshFamily
from namoid.storage.repos import rows


async def add(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    jti: str,
    client_id: str,
    user_id: uuid.UUID | None,
    scope: str,
    code_id: uuid.UUID | None,
    family_id: uuid.UUID | None,
    created_at: datetime,
    expires_at: datetime,
    userinfo_verified_claims: list[str] | None = None,
) -> None:
    """One INSERT, no ORM unit of work: this is on the hot path of every token response."""
    await session.execute(
        insert(AccessToken).values(
            jti=jti,
            org_id=org_id,
            client_id=client_id,
            user_id=user_id,
            scope=scope,
            code_id=code_id,
            family_id=family_id,
            created_at=created_at,
            expires_at=expires_at,
            userinfo_verified_claims=userinfo_verified_claims,
        )
    )


async def get(session: AsyncSession, org_id: uuid.UUID, jti: str) -> AccessToken | None:
    return await session.scalar(
        select(AccessToken).where(AccessToken.org_id == org_id, AccessToken.jti == jti)
    )


async def revoke(session: AsyncSession, org_id: uuid.UUID, jti: str, now: datetime) -> bool:
    """Mark one token revoked; False if it was already (or does not exist)."""
    return await rows.stamp_once(session, org_id, AccessToken.jti, jti, AccessToken.revoked_at, now)


async def _revoke_where(
    session: AsyncSession, org_id: uuid.UUID, condition: ColumnElement[bool], now: datetime
) -> int:
    """Revoke the org's unrevoked access tokens matching ``condition``; returns how many."""
    result = await session.execute(
        update(AccessToken)
        .where(AccessToken.org_id == org_id, AccessToken.revoked_at.is_(None), condition)
        .values(revoked_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def revoke_for_family(
    session: AsyncSession, org_id: uuid.UUID, family_id: uuid.UUID, now: datetime
) -> int:
    """Revoke every access token issued from a refresh family; returns how many."""
    return await _revoke_where(session, org_id, AccessToken.family_id == family_id, now)


async def revoke_for_families(
    session: AsyncSession, org_id: uuid.UUID, family_ids: Sequence[uuid.UUID], now: datetime
) -> int:
    """Revoke every access token issued from any of these refresh families; returns how many."""
    if not family_ids:
        return 0
    return await _revoke_where(session, org_id, AccessToken.family_id.in_(family_ids), now)


async def revoke_for_code(session: AsyncSession, org_id: uuid.UUID, code_id: uuid.UUID, now: datetime) -> int:
    """Revoke every access token an authorization code produced, directly or through its
    refresh families (RFC 6749 §4.1.2); returns how many."""
    families = select(RefreshFamily.id).where(
        RefreshFamily.org_id == org_id, RefreshFamily.code_id == code_id
    )
    condition = or_(AccessToken.code_id == code_id, AccessToken.family_id.in_(families))
    return await _revoke_where(session, org_id, condition, now)


async def revoke_for_user(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, now: datetime) -> int:
    """Revoke every access token issued for a user, by any client; returns how many."""
    return await _revoke_where(session, org_id, AccessToken.user_id == user_id, now)


async def revoke_for_user_at_client(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, client_id: str, now: datetime
) -> int:
    """Revoke every access token issued to one client for a user; returns how many."""
    condition = and_(AccessToken.user_id == user_id, AccessToken.client_id == client_id)
    return await _revoke_where(session, org_id, condition, now)


async def revoke_for_client(session: AsyncSession, org_id: uuid.UUID, client_id: str, now: datetime) -> int:
    """Revoke every access token issued to a client, for users or for itself; returns how many."""
    return await _revoke_where(session, org_id, AccessToken.client_id == client_id, now)


async def delete_expired(session: AsyncSession, org_id: uuid.UUID, before: datetime) -> int:
    """The sweep: delete the rows of tokens that expired before ``before``; returns how many."""
    return await rows.delete_stamped_before(session, org_id, before, AccessToken.expires_at)
