"""``/console/o/{slug}/webhooks``: the org's receivers of security events (``events.webhooks``).

Reading them needs ``admin:webhooks:read``; adding or removing one ``admin:webhooks:write``, as in the
admin API."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from namoid.admin import scopes
from namoid.events import webhooks
from namoid.outbound import policy_for
from namoid.web.admin_console.auth import Console, console_page, done, notice, requires, services_of

router = APIRouter(prefix="/webhooks")
Reader = Annotated[Console, Depends(requires(scopes.WEBHOOKS_READ))]
Writer = Annotated[Console, Depends(requires(scopes.WEBHOOKS_WRITE))]
NOTICES = {"added": "The webhook was added.", "removed": "The webhook was removed."}


@router.get("", include_in_schema=False)
async def list_webhooks(request: Request, console: Reader) -> Response:
    found = await webhooks.list_active(services_of(request).db, console.org.id)
    context = {"webhooks": found, "notice": notice(request, NOTICES)}
    return console_page(request, console, "admin_webhooks.html", context)


@router.post("", include_in_schema=False)
async def add_webhook(request: Request, console: Writer) -> Response:
    services = services_of(request)
    url = console.form.get("url", "").strip()
    await webhooks.add(
        services.db, console.org.id, url, policy=policy_for(services.settings), actor=console.actor
    )
    return done(console, "/webhooks", "added")


@router.post("/{subscription_id}/remove", include_in_schema=False)
async def remove_webhook(request: Request, console: Writer, subscription_id: uuid.UUID) -> Response:
    await webhooks.remove(services_of(request).db, console.org.id, subscription_id, console.actor)
    return done(console, "/webhooks", "removed")
