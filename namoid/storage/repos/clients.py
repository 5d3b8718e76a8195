"""OAuth clients of one organization."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import Client, utcnow
from namoid.storage.repos import rows


async def create(session: AsyncSession, org_id: uuid.UUID, client: Client) -> Client:
    """Insert ``client`` into ``org_id`` (its ``org_id`` is set here, never by the caller)."""
    return await rows.insert(session, org_id, client)


async def get(session: AsyncSession, org_id: uuid.UUID, client_id: str) -> Client | None:
    return await session.scalar(select(Client).where(Client.org_id == org_id, Client.client_id == client_id))


async def list_all(session: AsyncSession, org_id: uuid.UUID) -> Sequence[Client]:
    query = select(Client).where(Client.org_id == org_id).order_by(Client.name, Client.client_id)
    return (await session.scalars(query)).all()


async def _update(
    session: AsyncSession, org_id: uuid.UUID, client_id: str, values: dict[str, object]
) -> bool:
    """Set ``values`` (column → value) and ``updated_at`` on the client; False if it is not in ``org_id``."""
    client = await get(session, org_id, client_id)
    if client is None:
        return False
    for column, value in values.items():
        setattr(client, column, value)
    client.updated_at = utcnow()
    await session.flush()
    return True


async def set_secret_hash(session: AsyncSession, org_id: uuid.UUID, client_id: str, secret_hash: str) -> bool:
    return await _update(session, org_id, client_id, {"secret_hash": secret_hash})


async def set_status(session: AsyncSession, org_id: uuid.UUID, client_id: str, status: str) -> bool:
    """``active`` or ``disabled``."""
    return await _update(session, org_id, client_id, {"status": status})


async def set_refresh_lifetimes(
    session: AsyncSession, org_id: uuid.UUID, client_id: str, lifetimes: dict[str, int]
) -> bool:
    """Override the org's refresh lifetimes (``refresh_token_ttl``, ``refresh_idle_ttl``) for a
    client, or set its ``refresh_reuse_window``."""
    if not set(lifetimes) <= {"refresh_token_ttl", "refresh_idle_ttl", "refresh_reuse_window"}:
        raise ValueError("only refresh_token_ttl, refresh_idle_ttl and refresh_reuse_window can be set here")
    return await _update(session, org_id, client_id, dict(lifetimes))


async def set_redirect_uris(
    session: AsyncSession, org_id: uuid.UUID, client_id: str, uris: list[str]
) -> bool:
    return await _update(session, org_id, client_id, {"redirect_uris": list(uris)})


async def set_admin_scopes(
    session: AsyncSession, org_id: uuid.UUID, client_id: str, scopes: list[str]
) -> bool:
    return await _update(session, org_id, client_id, {"admin_scopes": scopes})
