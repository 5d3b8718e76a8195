"""``/admin/v1/webhooks``: the org's receivers of security events (RFC 8935 push), over
``events.webhooks`` (the service ``namoid webhooks`` uses): the same vetted URLs (https, public
addresses: ``namoid.outbound``), the same audited changes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from namoid.admin import scopes
from namoid.admin.access import Admin, requires
from namoid.admin.schemas import WebhookCreate, WebhookList, WebhookOut
from namoid.events import webhooks
from namoid.outbound import policy_for
from namoid.services import Services

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
Reader = Annotated[Admin, Depends(requires(scopes.WEBHOOKS_READ))]
Writer = Annotated[Admin, Depends(requires(scopes.WEBHOOKS_WRITE))]


@router.get("", response_model=WebhookList, summary="The org's active webhooks")
async def list_webhooks(request: Request, admin: Reader) -> WebhookList:
    services: Services = request.app.state.services
    found = await webhooks.list_active(services.db, admin.org.id)
    return WebhookList(items=[WebhookOut.model_validate(s, from_attributes=True) for s in found])


@router.post(
    "", response_model=WebhookOut, status_code=201, summary="Send the org's security events to a URL"
)
async def add_webhook(request: Request, admin: Writer, body: WebhookCreate) -> WebhookOut:
    services: Services = request.app.state.services
    added = await webhooks.add(
        services.db, admin.org.id, body.url, policy=policy_for(services.settings), actor=admin.actor
    )
    return WebhookOut.model_validate(added, from_attributes=True)


@router.delete("/{webhook_id}", status_code=204, summary="Remove it; its undelivered events are dropped")
async def remove_webhook(request: Request, admin: Writer, webhook_id: uuid.UUID) -> Response:
    services: Services = request.app.state.services
    await webhooks.remove(services.db, admin.org.id, webhook_id, admin.actor)
    return Response(status_code=204)
