"""Managing an org's webhook subscriptions: vetted URLs, audited changes.

A receiver URL carries no credentials (userinfo) and no fragment, and must pass the
outbound policy (namoid.outbound): https, a host that resolves only to public addresses
(loopback too in embedded dev mode, where plain http to a loopback address is also
accepted; configured networks too). Delivery checks the address again when it connects,
because DNS may answer differently by then.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from urllib.parse import urlsplit

from namoid import audit
from namoid.outbound import DestinationRefused, OutboundPolicy, ResolutionFailed
from namoid.storage.db import Database
from namoid.storage.models import WebhookSubscription, utcnow
from namoid.storage.repos import event_outbox, webhook_subscriptions

MAX_URL_LENGTH = 2048


class InvalidWebhookUrl(ValueError):
    pass


async def validate_url(url: str, policy: OutboundPolicy) -> str:
    """``url`` if it may be stored as a receiver; else InvalidWebhookUrl saying why."""
    if len(url) > MAX_URL_LENGTH or any(c.isspace() or ord(c) < 0x20 for c in url):
        raise InvalidWebhookUrl("the webhook URL is too long or contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a malformed port
    except ValueError as exc:
        raise InvalidWebhookUrl(f"the webhook URL is malformed: {exc}") from None
    if not parts.hostname or parts.username is not None or parts.password is not None or parts.fragment:
        raise InvalidWebhookUrl("the webhook URL needs a host and may not carry credentials or a fragment")
    try:
        await policy.check(url)
    except (DestinationRefused, ResolutionFailed) as exc:
        raise InvalidWebhookUrl(f"the webhook URL is refused: {exc}") from None
    return url


async def add(
    db: Database, org_id: uuid.UUID, url: str, *, policy: OutboundPolicy, actor: audit.Actor
) -> WebhookSubscription:
    url = await validate_url(url, policy)
    async with db.tenant(org_id) as session:
        subscription = await webhook_subscriptions.add(session, org_id, url)
        await audit.record(
            session,
            org_id,
            actor=actor,
            action="webhook.added",
            target_type="webhook",
            target_id=str(subscription.id),
            detail={"url": url},
        )
    return subscription


async def list_active(db: Database, org_id: uuid.UUID) -> Sequence[WebhookSubscription]:
    async with db.tenant(org_id) as session:
        return await webhook_subscriptions.list_active(session, org_id)


async def remove(db: Database, org_id: uuid.UUID, subscription_id: uuid.UUID, actor: audit.Actor) -> None:
    """Remove a subscription; its undelivered events are marked failed ("subscription removed")."""
    now = utcnow()
    async with db.tenant(org_id) as session:
        if not await webhook_subscriptions.remove(session, org_id, subscription_id, now):
            raise LookupError(f"no active webhook {subscription_id} in this organization")
        dropped = await event_outbox.drop_from_subscription(session, org_id, subscription_id, now)
        await audit.record(
            session,
            org_id,
            actor=actor,
            action="webhook.removed",
            target_type="webhook",
            target_id=str(subscription_id),
            detail={"undelivered": dropped},
        )
