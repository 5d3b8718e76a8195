"""Consents: the scopes a user granted a client, remembered per user + client."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import Consent, utcnow


async def get(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, client_id: str) -> Consent | None:
    return await session.scalar(
        select(Consent).where(
            Consent.org_id == org_id, Consent.user_id == user_id, Consent.client_id == client_id
        )
    )


async def grant(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, client_id: str, scopes: Iterable[str]
) -> Consent:
    """Add ``scopes`` to what the user granted the client (creating the record on first consent)."""
    consent = await get(session, org_id, user_id, client_id)
    if consent is None:
        try:
            async with session.begin_nested():  # a concurrent first consent may insert the row first
                consent = Consent(org_id=org_id, user_id=user_id, client_id=client_id, scopes=[])
                session.add(consent)
        except IntegrityError:
            consent = await get(session, org_id, user_id, client_id)
            if consent is None:
                raise
    consent.scopes = list(dict.fromkeys([*consent.scopes, *scopes]))
    consent.updated_at = utcnow()
    await session.flush()
    return consent
