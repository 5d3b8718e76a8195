"""Consents: the scopes a user granted a client, remembered per user + client."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select
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
    session: AsyncSession,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    client_id: str,
    scopes: Iterable[str],
    notice: tuple[str, str],
) -> Consent:
    """Add ``scopes`` to what the user granted the client (creating the record on first consent),
    under ``notice`` (language, version)."""
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
    if (consent.notice_language, consent.notice_version) != notice:
        consent.scopes = []  # given under another notice: only what was asked under this one stands
    consent.scopes = list(dict.fromkeys([*consent.scopes, *scopes]))
    consent.notice_language, consent.notice_version = notice
    consent.updated_at = utcnow()
    await session.flush()
    return consent


async def list_for_user(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> Sequence[Consent]:
    query = select(Consent).where(Consent.org_id == org_id, Consent.user_id == user_id)
    return (await session.scalars(query.order_by(Consent.created_at))).all()


async def remove(session: AsyncSession, org_id: uuid.UUID, consent_id: uuid.UUID) -> bool:
    """Forget a remembered consent (its grant was withdrawn); False if it was already gone."""
    result = await session.execute(delete(Consent).where(Consent.org_id == org_id, Consent.id == consent_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def get_by_id(session: AsyncSession, org_id: uuid.UUID, consent_id: uuid.UUID) -> Consent | None:
    return await session.scalar(select(Consent).where(Consent.org_id == org_id, Consent.id == consent_id))
