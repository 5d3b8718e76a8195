"""The token vault's rows: one connection's upstream tokens, as keyring envelopes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import ProviderToken
from namoid.storage.repos import rows

#: The encrypted columns (``namoid keys reencrypt`` rewrites each).
ENCRYPTED = ("access_token_enc", "refresh_token_enc", "id_token_enc")


async def add(session: AsyncSession, org_id: uuid.UUID, row: ProviderToken) -> ProviderToken:
    return await rows.insert(session, org_id, row)


async def get_for_connection(
    session: AsyncSession, org_id: uuid.UUID, connection_id: uuid.UUID
) -> ProviderToken | None:
    query = select(ProviderToken).where(
        ProviderToken.org_id == org_id, ProviderToken.connection_id == connection_id
    )
    return (await session.scalars(query)).one_or_none()


async def list_all(session: AsyncSession, org_id: uuid.UUID) -> Sequence[ProviderToken]:
    return (await session.scalars(select(ProviderToken).where(ProviderToken.org_id == org_id))).all()


async def set_values(session: AsyncSession, org_id: uuid.UUID, row_id: uuid.UUID, **values: Any) -> None:
    """Overwrite columns of one vault row (new tokens after a refresh, re-encrypted envelopes)."""
    unknown = set(values) - {*ENCRYPTED, "scopes", "expires_at"}
    if unknown:
        raise ValueError(f"not a vault column: {sorted(unknown)}")
    await session.execute(
        update(ProviderToken).where(ProviderToken.org_id == org_id, ProviderToken.id == row_id).values(values)
    )


async def replace_envelope(
    session: AsyncSession, org_id: uuid.UUID, row_id: uuid.UUID, column: str, old: str, new: str
) -> bool:
    """Swap one encrypted value for its re-encryption, only if it is still ``old``."""
    if column not in ENCRYPTED:
        raise ValueError(f"not a vault column: {column}")
    target = getattr(ProviderToken, column)
    result = await session.execute(
        update(ProviderToken)
        .where(ProviderToken.org_id == org_id, ProviderToken.id == row_id, target == old)
        .values({column: new})
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def remove_for_connection(session: AsyncSession, org_id: uuid.UUID, connection_id: uuid.UUID) -> None:
    await session.execute(
        delete(ProviderToken).where(
            ProviderToken.org_id == org_id, ProviderToken.connection_id == connection_id
        )
    )
