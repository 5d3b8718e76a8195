"""``/admin/v1/providers`` and ``/admin/v1/inbox``: read-only views of the org's configured
upstream providers (``providers.registry``, as ``namoid providers list``; never a secret) and of a
test-mode org's captured messages (``notify.outbox.inbox_rows``, as ``namoid org inbox``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from namoid.admin import scopes
from namoid.admin.access import Admin, requires
from namoid.admin.schemas import Inbox, InboxMessage, ProviderList, ProviderOut
from namoid.notify.outbox import inbox_rows
from namoid.providers import registry
from namoid.services import Services
from namoid.tenancy.resolve import issuer_for

router = APIRouter()


@router.get(
    "/providers", response_model=ProviderList, tags=["providers"], summary="The org's upstream providers"
)
async def list_providers(
    request: Request, admin: Annotated[Admin, Depends(requires(scopes.PROVIDERS_READ))]
) -> ProviderList:
    services: Services = request.app.state.services
    issuer = issuer_for(services.settings.base_url, admin.org.slug)
    found = await registry.list_providers(services.db, admin.org.id)
    return ProviderList(items=[ProviderOut.model_validate(registry.summary(p, issuer)) for p in found])


@router.get(
    "/inbox",
    response_model=Inbox,
    tags=["inbox"],
    summary="A test-mode org's captured messages, newest first",
)
async def inbox(request: Request, admin: Annotated[Admin, Depends(requires(scopes.INBOX_READ))]) -> Inbox:
    services: Services = request.app.state.services
    rows = await inbox_rows(services.db, services.keyring, admin.org.id)
    return Inbox(items=[InboxMessage.model_validate(row) for row in rows])
