"""``{issuer}/sign-in-link``: a one-time sign-in link (``accounts.sign_in_links``) in the browser.

The GET shows a form (the link's token carried in a hidden field; nothing is consumed by
merely opening it, so a mail scanner that follows links cannot burn it); the POST takes the
account's email and a new password, consumes the link and sends the browser to the admin
console, which signs in through the org's issuer with that password. The link's 256-bit token
is the form's own proof of origin (no other page can know it), as the CSRF token is elsewhere.
Both count against ``interaction.ip``; a refused POST also against the IP's refusals.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from namoid.accounts import sign_in_links
from namoid.services import Services
from namoid.storage.models import Organization, utcnow
from namoid.tenancy.resolve import current_org
from namoid.web import limits
from namoid.web.responses import page, request_pairs

router = APIRouter()
CurrentOrg = Annotated[Organization, Depends(current_org)]
PATH = "/sign-in-link"


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _form(
    request: Request, org: Organization, token: str, error: str | None = None, status: int = 200
) -> Response:
    admin = _services(request).settings.admin_base_url
    context = {"org_name": org.name, "action": f"/o/{org.slug}{PATH}", "token": token, "error": error}
    return page(request, "sign_in_link.html", context, status_code=status, form_targets=[admin])


@router.get(PATH, include_in_schema=False)
async def show(request: Request, org: CurrentOrg) -> Response:
    refused = await limits.ceiling(request, org, "interaction.ip")
    if refused is not None:
        return refused
    return _form(request, org, request.query_params.get("token", "")[: sign_in_links.MAX_LINK_TOKEN])


@router.post(PATH, include_in_schema=False)
async def redeem(request: Request, org: CurrentOrg) -> Response:
    refused = await limits.ceiling(request, org, "interaction.ip")
    if refused is not None:
        return refused
    services = _services(request)
    fields = dict(await request_pairs(request))
    token = fields.get("token", "")[: sign_in_links.MAX_LINK_TOKEN]
    try:
        await sign_in_links.redeem(
            services.db, services.keyring.pepper, org.id, token,
            fields.get("email", ""), fields.get("password", ""), utcnow(),
        )  # fmt: skip
    except sign_in_links.LinkRefused as exc:
        return await limits.refuse(request, org, _form(request, org, token, f"{exc}.", 400))
    except ValueError as exc:
        return _form(request, org, token, f"{exc}.", 422)
    console = f"{services.settings.admin_base_url}/console/o/{org.slug}"
    return RedirectResponse(console, status_code=303, headers={"Cache-Control": "no-store"})
