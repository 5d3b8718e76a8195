"""The admin console's sign-in through the org's own issuer: ``/console/o/{slug}/signin``,
``/callback`` (on the admin origin) and ``/signout``.

The console is the org's first-party public client ``namoid-admin-console``
(``oauth.console_client.ADMIN``), registered on first use with its callback on the admin
origin; the code flow with PKCE S256 is ``web.console_sign_in``'s, as for the account console.
The callback then requires the browser session the ID token names (``sid``) to be live, its
user the token's subject and an administrator (``org_admin`` or ``auditor``): anyone else gets
a 403 page and no console cookie.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from namoid.oauth import console_client
from namoid.services import Services
from namoid.storage.models import Organization, utcnow
from namoid.tenancy.resolve import issuer_for
from namoid.web import console_sign_in, limits
from namoid.web.admin_console.auth import (
    Console,
    CurrentOrg,
    console_url,
    not_an_admin,
    requires,
    safe_return,
    services_of,
    session_cookie,
    signed_in_admin,
)
from namoid.web.cookies import (
    admin_console_cookie_name,
    admin_console_start_cookie_name,
    clear_console_cookie,
)
from namoid.web.responses import problem

router = APIRouter()


def relying_party(services: Services, org: Organization) -> console_sign_in.RelyingParty:
    issuer = issuer_for(services.settings.base_url, org.slug)
    return console_sign_in.RelyingParty(
        org=org,
        console=console_client.ADMIN,
        issuer=issuer,
        redirect_uri=console_client.admin_redirect_uri(services.settings.admin_base_url, org.slug),
        authorize_url=f"{issuer}/authorize",
        start_cookie=admin_console_start_cookie_name(org.slug),
    )


def _failed(request: Request, org: Organization, reason: str) -> Response:
    return problem(
        request, 400, "Signing in to the admin console did not work",
        f"{reason} Nothing was changed. Open {console_url(org)} to start again.",
    )  # fmt: skip


@router.get("/signin", include_in_schema=False)
async def sign_in(request: Request, org: CurrentOrg) -> Response:
    """Start the console's authorization request at the org's issuer (RFC 6749 §4.1.1)."""
    refused = await limits.ceiling(request, org, "admin.ip")
    if refused is not None:
        return refused
    services = services_of(request)
    rp = relying_party(services, org)
    await console_client.ensure(services.db, org, rp.redirect_uri, console_client.ADMIN)
    return console_sign_in.begin(services, rp, safe_return(org, request.query_params.get("next")), None)


@router.get("/callback", include_in_schema=False)
async def callback(request: Request, org: CurrentOrg) -> Response:
    """The authorization response (RFC 6749 §4.1.2): validated, then an admin's console session."""
    refused = await limits.ceiling(request, org, "admin.ip")
    if refused is not None:
        return refused
    services = services_of(request)
    rp = relying_party(services, org)
    try:
        identity, start = await console_sign_in.finish(services, request, rp)
    except console_sign_in.Declined as declined:
        answer = _failed(request, org, declined.reason)
        return await limits.refuse(request, org, answer) if declined.counted else answer
    signed = await signed_in_admin(services, org, identity.sid, identity.subject)
    if signed is None:
        return await limits.refuse(request, org, _failed(request, org, "That sign-in has already ended."))
    browser, user, scopes = signed
    if not scopes:
        return not_an_admin(request, org)
    now = utcnow()
    response = RedirectResponse(start.return_to, status_code=303, headers={"Cache-Control": "no-store"})
    value = session_cookie(services, org, identity.sid, str(user.id), int(now.timestamp()))
    remaining = int((browser.expires_at - now).total_seconds())
    console_sign_in.signed_in(response, rp, admin_console_cookie_name(org.slug), value, remaining)
    return response


@router.post("/signout", include_in_schema=False)
async def sign_out(request: Request, console: Annotated[Console, Depends(requires(None))]) -> Response:
    """Forget the console session in this browser, then end the NamoID session at the issuer
    (its logout page asks to confirm): the console cookie alone is no sign-out."""
    services = services_of(request)
    response = RedirectResponse(
        f"{issuer_for(services.settings.base_url, console.org.slug)}/logout", status_code=303,
        headers={"Cache-Control": "no-store"},
    )  # fmt: skip
    clear_console_cookie(response, admin_console_cookie_name(console.org.slug))
    return response
