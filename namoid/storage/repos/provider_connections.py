"""Users' links to upstream identities (one per user and provider, one per upstream subject)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import ProviderConnection
from namoid.storage.repos import rows


async def add(session: AsyncSession, org_id: uuid.UUID, connection: ProviderConnection) -> ProviderConnection:
    return await rows.insert(session, org_id, connection)


async def find_by_subject(
    session: AsyncSession, org_id: uuid.UUID, provider_id: uuid.UUID, subject: str
) -> ProviderConnection | None:
    query = select(ProviderConnection).where(
        ProviderConnection.org_id == org_id,
        ProviderConnection.provider_id == provider_id,
        ProviderConnection.subject == subject,
    )
    return (await session.scalars(query)).one_or_none()


async def find_for_user(
    session: AsyncSession, org_id: uuid.UUID, provider_id: uuid.UUID, user_id: uuid.UUID
) -> ProviderConnection | None:
    query = select(ProviderConnection).where(
        ProviderConnection.org_id == org_id,
        ProviderConnection.provider_id == provider_id,
        ProviderConnection.user_id == user_id,
    )
    return (await session.scalars(query)).one_or_none()


async def list_for_provider(
    session: AsyncSession, org_id: uuid.UUID, provider_id: uuid.UUID
) -> Sequence[ProviderConnection]:
    query = select(ProviderConnection).where(
        ProviderConnection.org_id == org_id, ProviderConnection.provider_id == provider_id
    )
    return (await session.scalars(query)).all()


async def remove(session: AsyncSession, org_id: uuid.UUID, connection_id: uuid.UUID) -> None:
    await session.execute(
        delete(ProviderConnection).where(
            ProviderConnection.org_id == org_id, ProviderConnection.id == connection_id
        )
    )


async def list_for_user(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID
) -> Sequence[ProviderConnection]:
    query = select(ProviderConnection).where(
        ProviderConnection.org_id == org_id, ProviderConnection.user_id == user_id
    )
    return (await session.scalars(query.order_by(ProviderConnection.created_at))).all()
