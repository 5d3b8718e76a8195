"""Token-signing keys of one organization (private halves stored encrypted)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from namoid import nodecache
from namoid.storage.models import Organization, SigningKey
from namoid.storage.repos.invalidations import announce


async def add(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    key_row_id: uuid.UUID,
    kid: str,
    alg: str,
    public_jwk: dict[str, Any],
    private_key_enc: str,
) -> SigningKey:
    """Insert a key whose ciphertext was bound to ``key_row_id`` before the insert."""
    key = SigningKey(
        id=key_row_id,
        org_id=org_id,
        kid=kid,
        alg=alg,
        public_jwk=public_jwk,
        private_key_enc=private_key_enc,
        status="active",
    )
    session.add(key)
    await session.flush()
    await announce(session, nodecache.SIGNING_KEYS, str(org_id))
    return key


async def list_all(session: AsyncSession, org_id: uuid.UUID) -> Sequence[SigningKey]:
    query = select(SigningKey).where(SigningKey.org_id == org_id).order_by(SigningKey.created_at)
    return (await session.scalars(query)).all()


async def set_private_key_enc(
    session: AsyncSession, org_id: uuid.UUID, key_row_id: uuid.UUID, private_key_enc: str
) -> None:
    key = await session.scalar(
        select(SigningKey).where(SigningKey.org_id == org_id, SigningKey.id == key_row_id)
    )
    if key is None:
        raise LookupError(f"signing key {key_row_id} not found in this organization")
    key.private_key_enc = private_key_enc
    await session.flush()


async def lock_for_rotation(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Serialize key rotations of one org: lock its organization row until the transaction ends.

    On PostgreSQL this is ``SELECT … FOR UPDATE``; SQLite serializes writers by itself.
    """
    await session.execute(select(Organization.id).where(Organization.id == org_id).with_for_update())


async def retire_active(
    session: AsyncSession, org_id: uuid.UUID, alg: str, now: datetime
) -> Sequence[SigningKey]:
    """Mark the org's active ``alg`` keys retired at ``now``; return them."""
    keys = (
        await session.scalars(
            select(SigningKey).where(
                SigningKey.org_id == org_id, SigningKey.alg == alg, SigningKey.status == "active"
            )
        )
    ).all()
    for key in keys:
        key.status = "retired"
        key.retired_at = now
    await session.flush()
    await announce(session, nodecache.SIGNING_KEYS, str(org_id))
    return keys


async def retired_before(session: AsyncSession, org_id: uuid.UUID, cutoff: datetime) -> Sequence[SigningKey]:
    """Retired keys whose retirement is older than ``cutoff``."""
    query = select(SigningKey).where(
        SigningKey.org_id == org_id,
        SigningKey.status == "retired",
        SigningKey.retired_at < cutoff,
    )
    return (await session.scalars(query)).all()


async def remove(session: AsyncSession, org_id: uuid.UUID, key_row_ids: Sequence[uuid.UUID]) -> None:
    """Delete keys by row id (retired keys past their publication window)."""
    if key_row_ids:
        await session.execute(
            delete(SigningKey).where(SigningKey.org_id == org_id, SigningKey.id.in_(key_row_ids))
        )
        await announce(session, nodecache.SIGNING_KEYS, str(org_id))
