"""``/admin/v1/orgs``: organizations, for the platform org's admins only (``tenancy.organizations``).

Only a token of the platform org can carry ``admin:orgs:*`` (``scopes.grantable``); a new org's
``org.created`` entry is in its own log, with the platform admin as actor.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from namoid.admin import scopes
from namoid.admin.access import Admin, requires
from namoid.admin.schemas import OrgCreate, OrgList, OrgOut
from namoid.services import Services
from namoid.tenancy import organizations

router = APIRouter(prefix="/orgs", tags=["orgs"])
Reader = Annotated[Admin, Depends(requires(scopes.ORGS_READ))]
Writer = Annotated[Admin, Depends(requires(scopes.ORGS_WRITE))]


@router.get("", response_model=OrgList, summary="List every organization (platform admins)")
async def list_orgs(request: Request, admin: Reader) -> OrgList:
    services: Services = request.app.state.services
    found = await organizations.list_all(services.db)
    return OrgList(items=[OrgOut.model_validate(org, from_attributes=True) for org in found])


@router.post("", response_model=OrgOut, status_code=201, summary="Create an organization (platform admins)")
async def create_org(request: Request, admin: Writer, body: OrgCreate) -> OrgOut:
    services: Services = request.app.state.services
    org = await organizations.create(
        services.db, services.keyring, body.slug, body.name, admin.actor, test_mode=body.test_mode
    )
    return OrgOut.model_validate(org, from_attributes=True)
