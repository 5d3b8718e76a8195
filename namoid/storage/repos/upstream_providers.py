"""An org's upstream identity providers (connected providers)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import UpstreamProvider
from namoid.storage.repos import rows


async def add(session: AsyncSession, org_id: uuid.UUID, provider: UpstreamProvider) -> UpstreamProvider:
    return await rows.insert(session, org_id, provider)


async def get_by_name(session: AsyncSession, org_id: uuid.UUID, name: str) -> UpstreamProvider | None:
    query = select(UpstreamProvider).where(UpstreamProvider.org_id == org_id, UpstreamProvider.name == name)
    return (await session.scalars(query)).one_or_none()


async def list_all(session: AsyncSession, org_id: uuid.UUID) -> Sequence[UpstreamProvider]:
    query = select(UpstreamProvider).where(UpstreamProvider.org_id == org_id).order_by(UpstreamProvider.name)
    return (await session.scalars(query)).all()


async def set_scopes(
    session: AsyncSession, org_id: uuid.UUID, provider_id: uuid.UUID, scopes: list[str]
) -> None:
    await session.execute(
        update(UpstreamProvider)
        .where(UpstreamProvider.org_id == org_id, UpstreamProvider.id == provider_id)
        .values(scopes=scopes)
    )


async def set_client_secret_enc(
    session: AsyncSession, org_id: uuid.UUID, provider_id: uuid.UUID, envelope: str
) -> None:
    await session.execute(
        update(UpstreamProvider)
        .where(UpstreamProvider.org_id == org_id, UpstreamProvider.id == provider_id)
        .values(client_secret_enc=envelope)
    )


async def remove(session: AsyncSession, org_id: uuid.UUID, provider_id: uuid.UUID) -> None:
    await session.execute(
        delete(UpstreamProvider).where(UpstreamProvider.org_id == org_id, UpstreamProvider.id == provider_id)
    )
