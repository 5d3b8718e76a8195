"""Token-signing keys of one organization (private halves stored encrypted)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import SigningKey


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
