"""An org's webhook subscriptions (SET push receivers, RFC 8935)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import WebhookSubscription
from namoid.storage.repos import rows


async def add(session: AsyncSession, org_id: uuid.UUID, url: str) -> WebhookSubscription:
    return await rows.insert(session, org_id, WebhookSubscription(url=url))


async def list_active(session: AsyncSession, org_id: uuid.UUID) -> Sequence[WebhookSubscription]:
    query = (
        select(WebhookSubscription)
        .where(WebhookSubscription.org_id == org_id, WebhookSubscription.removed_at.is_(None))
        .order_by(WebhookSubscription.created_at)
    )
    return (await session.scalars(query)).all()


async def active_ids(session: AsyncSession, org_id: uuid.UUID) -> Sequence[uuid.UUID]:
    query = select(WebhookSubscription.id).where(
        WebhookSubscription.org_id == org_id, WebhookSubscription.removed_at.is_(None)
    )
    return (await session.scalars(query)).all()


async def remove(session: AsyncSession, org_id: uuid.UUID, subscription_id: uuid.UUID, now: datetime) -> bool:
    """Stop delivering to a subscription; False if there is no such active one."""
    return await rows.stamp_once(
        session, org_id, WebhookSubscription.id, subscription_id, WebhookSubscription.removed_at, now
    )
