"""Refresh-token families and their tokens (DESIGN.md §3): opaque tokens stored as SHA-256."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import RefreshFamily, RefreshToken
from namoid.storage.repos import rows


async def start_family(session: AsyncSession, org_id: uuid.UUID, family: RefreshFamily) -> RefreshFamily:
    return await rows.insert(session, org_id, family)


async def add(
    session: AsyncSession, org_id: uuid.UUID, family_id: uuid.UUID, token_hash: str, expires_at: datetime
) -> RefreshToken:
    return await rows.insert(
        session, org_id, RefreshToken(family_id=family_id, token_hash=token_hash, expires_at=expires_at)
    )


async def find(
    session: AsyncSession, org_id: uuid.UUID, token_hash: str
) -> tuple[RefreshToken, RefreshFamily] | None:
    """The token with this hash and its family, both in ``org_id``."""
    row = (
        await session.execute(
            select(RefreshToken, RefreshFamily)
            .join(RefreshFamily, RefreshFamily.id == RefreshToken.family_id)
            .where(
                RefreshToken.org_id == org_id,
                RefreshFamily.org_id == org_id,
                RefreshToken.token_hash == token_hash,
            )
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def consume(session: AsyncSession, org_id: uuid.UUID, token_id: uuid.UUID, now: datetime) -> bool:
    """Mark the token used; False if it already was (one UPDATE: exactly one of two uses wins)."""
    return await rows.stamp_once(session, org_id, RefreshToken.id, token_id, RefreshToken.used_at, now)


async def revoke_family(
    session: AsyncSession, org_id: uuid.UUID, family_id: uuid.UUID, now: datetime, reason: str
) -> bool:
    """Revoke a family (all its tokens die with it); False if it already was."""
    return await rows.stamp_once(
        session, org_id, RefreshFamily.id, family_id, RefreshFamily.revoked_at, now, revoked_reason=reason
    )


async def revoke_families_of_code(
    session: AsyncSession, org_id: uuid.UUID, code_id: uuid.UUID, now: datetime, reason: str
) -> Sequence[uuid.UUID]:
    """Revoke the families an authorization code started; returns their ids."""
    result = await session.scalars(
        update(RefreshFamily)
        .where(
            RefreshFamily.org_id == org_id,
            RefreshFamily.code_id == code_id,
            RefreshFamily.revoked_at.is_(None),
        )
        .values(revoked_at=now, revoked_reason=reason)
        .returning(RefreshFamily.id)
    )
    return result.all()
