"""Raise a security event: audit entry, event record and outbox rows in one transaction.

The caller's transaction carries all three (DESIGN.md §5), so an event exists exactly
when the change it reports commits, and nothing on the request path talks to a
webhook: the worker delivers the outbox rows later.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.events.catalog import event_type
from namoid.storage.models import SecurityEvent, utcnow
from namoid.storage.repos import event_outbox, security_events, webhook_subscriptions

log = logging.getLogger(__name__)


async def raise_event(
    session: AsyncSession,
    org_id: uuid.UUID | None,
    name: str,
    *,
    actor: audit.Actor,
    subject: dict[str, Any],
    target_type: str | None = None,
    target_id: str | None = None,
    outcome: Literal["success", "failure", "denied"] = "success",
    detail: dict[str, Any] | None = None,
) -> SecurityEvent:
    """Audit ``name`` (a catalogued event) and queue it for every active subscriber of the org.

    ``detail`` goes into the audit entry and, with the request's IP and user agent, into
    the SET payload; like every audit detail it must not carry secrets.
    """
    event_type(name)
    detail = detail or {}
    await audit.record(
        session,
        org_id,
        actor=actor,
        action=name,
        target_type=target_type,
        target_id=target_id,
        outcome=outcome,
        detail=detail,
    )
    meta = audit.request_meta_var.get() or audit.RequestMeta()
    payload: dict[str, Any] = {"event_timestamp": int(utcnow().timestamp()), **detail}
    if meta.ip:
        payload["ip_address"] = meta.ip
    if meta.user_agent:
        payload["user_agent"] = meta.user_agent[:512]
    event = await security_events.add(session, org_id, name=name, subject=subject, payload=payload)
    if org_id is not None:
        subscribers = await webhook_subscriptions.active_ids(session, org_id)
        await event_outbox.enqueue(session, org_id, event.id, subscribers, event.occurred_at)
    log.warning("security event %s (org %s, event %s)", name, org_id or "-", event.id)
    return event
