"""Which clients may exchange tokens for which provider's tokens (RFC 8693)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from namoid import nodecache
from namoid.storage.models import TokenExchangePermission
from namoid.storage.repos import rows
from namoid.storage.repos.invalidations import announce


async def replace_for_client(
    session: AsyncSession, org_id: uuid.UUID, client_id: str, provider_ids: Sequence[uuid.UUID]
) -> None:
    await session.execute(
        delete(TokenExchangePermission).where(
            TokenExchangePermission.org_id == org_id, TokenExchangePermission.client_id == client_id
        )
    )
    for provider_id in provider_ids:
        await rows.insert(
            session, org_id, TokenExchangePermission(client_id=client_id, provider_id=provider_id)
        )
    await announce(session, nodecache.EXCHANGE_POLICY, str(org_id))


async def remove_for_provider(session: AsyncSession, org_id: uuid.UUID, provider_id: uuid.UUID) -> None:
    await session.execute(
        delete(TokenExchangePermission).where(
            TokenExchangePermission.org_id == org_id, TokenExchangePermission.provider_id == provider_id
        )
    )
    await announce(session, nodecache.EXCHANGE_POLICY, str(org_id))


async def allowed(session: AsyncSession, org_id: uuid.UUID, client_id: str, provider_id: uuid.UUID) -> bool:
    query = select(
        exists().where(
            TokenExchangePermission.org_id == org_id,
            TokenExchangePermission.client_id == client_id,
            TokenExchangePermission.provider_id == provider_id,
        )
    )
    return bool(await session.scalar(query))


async def any_in_org(session: AsyncSession, org_id: uuid.UUID) -> bool:
    return bool(await session.scalar(select(exists().where(TokenExchangePermission.org_id == org_id))))
