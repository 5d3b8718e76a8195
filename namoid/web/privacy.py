"""``{issuer}/privacy``: the org's published grievance route (DPDP Act s.8(9)-(10), s.13(3); Rules R.9,
R.14(3)): the DPO or contact person, the response period, and how to complain to the Data
Protection Board once the grievance process is done. Public: no sign-in, nothing stored."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from namoid.privacy import grievances
from namoid.web import limits
from namoid.web.interaction import CurrentOrg
from namoid.web.templates import render

router = APIRouter()


@router.get("/privacy", include_in_schema=False)
async def privacy_page(request: Request, org: CurrentOrg) -> Response:
    refused = await limits.ceiling(request, org, "interaction.ip")
    if refused is not None:
        return refused
    context = {
        "org_name": org.name,
        "account_url": f"/o/{org.slug}/account/grievances",
        **grievances.published(org),
    }
    return render(request, "privacy.html", context)
