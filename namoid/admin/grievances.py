"""``/admin/v1/grievances``: data principals' grievances (DPDP Act s.8(10)), over
``privacy.grievances`` (the service ``namoid grievances`` uses): list, and answer or reject once."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from namoid.admin import scopes
from namoid.admin.access import Admin, requires
from namoid.admin.schemas import GrievanceList, GrievanceOut, GrievanceResponse
from namoid.privacy import grievances
from namoid.services import Services
from namoid.storage.models import utcnow

router = APIRouter(prefix="/grievances", tags=["grievances"])
Reader = Annotated[Admin, Depends(requires(scopes.GRIEVANCES_READ))]
Writer = Annotated[Admin, Depends(requires(scopes.GRIEVANCES_WRITE))]


@router.get("", response_model=GrievanceList, summary="The org's grievances, the soonest due first")
async def list_grievances(
    request: Request,
    admin: Reader,
    status: Annotated[Literal["open", "answered", "rejected"] | None, Query()] = None,
) -> GrievanceList:
    services: Services = request.app.state.services
    found = await grievances.list_tickets(services.db, admin.org.id, status)
    return GrievanceList(items=[GrievanceOut.model_validate(ticket) for ticket in found])


@router.post(
    "/{grievance_id}/response",
    response_model=GrievanceOut,
    summary="Answer or reject an open grievance (once); the user is told by email",
)
async def respond(
    request: Request, admin: Writer, grievance_id: uuid.UUID, body: GrievanceResponse
) -> GrievanceOut:
    services: Services = request.app.state.services
    closed = await grievances.respond(
        services.db,
        services.keyring,
        services.wakeup,
        admin.org,
        grievance_id,
        text=body.text,
        reject=body.reject,
        actor=admin.actor,
        now=utcnow(),
    )
    return GrievanceOut.model_validate(grievances.describe(closed))
