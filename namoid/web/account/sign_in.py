"""The console's own sign-in: ``{issuer}/account/signin`` and ``{issuer}/account/callback``.

The console is a relying party of its org (``oauth.console_client``, ``web.console_sign_in``):
``signin`` starts the authorization request; the ``callback`` validates the answer and requires
the browser's own live session to be the one the ID token names. Only then the console cookie
is set, and the browser returns to the console page it came from (a same-origin console path).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from namoid.accounts import sessions
from namoid.crypto import console_cookies
from namoid.oauth import console_client
from namoid.services import Services
from namoid.storage.models import Organization, utcnow
from namoid.tenancy.resolve import current_org, issuer_for
from namoid.web import console_sign_in, limits
from namoid.web.account.console_auth import safe_return
from namoid.web.cookies import console_cookie_name, console_start_cookie_name, read_session_token
from namoid.web.responses import problem

router = APIRouter()
CurrentOrg = Annotated[Organization, Depends(current_org)]


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def relying_party(services: Services, org: Organization) -> console_sign_in.RelyingParty:
    issuer = issuer_for(services.settings.base_url, org.slug)
    return console_sign_in.RelyingParty(
        org=org,
        console=console_client.ACCOUNT,
        issuer=issuer,
        redirect_uri=console_client.redirect_uri(issuer),
        authorize_url=f"/o/{org.slug}/authorize",
        start_cookie=console_start_cookie_name(org.slug),
    )


def _failed(request: Request, org: Organization, reason: str) -> Response:
    again = f"/o/{org.slug}/account"
    return problem(
        request, 400, "Signing in to your account did not work",
        f"{reason} Nothing was changed. Open {again} to start again.",
    )  # fmt: skip


async def _refused(request: Request, org: Organization, reason: str) -> Response:
    """A callback that failed a check: the error page, counted against the IP's refusals."""
    return await limits.refuse(request, org, _failed(request, org, reason))


@router.get("/account/signin", include_in_schema=False)
async def sign_in(request: Request, org: CurrentOrg) -> Response:
    """Start the console's authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3)."""
    refused = await limits.ceiling(request, org, "interaction.ip")
    if refused is not None:
        return refused
    services = _services(request)
    rp = relying_party(services, org)
    await console_client.ensure(services.db, org, rp.redirect_uri)
    return_to = safe_return(org, request.query_params.get("next"))
    return console_sign_in.begin(services, rp, return_to, request.query_params.get("max_age"))


@router.get("/account/callback", include_in_schema=False)
async def callback(request: Request, org: CurrentOrg) -> Response:
    """The authorization response (RFC 6749 §4.1.2): validate it, then the console session."""
    refused = await limits.ceiling(request, org, "interaction.ip")
    if refused is not None:
        return refused
    services = _services(request)
    rp = relying_party(services, org)
    try:
        identity, start = await console_sign_in.finish(services, request, rp)
    except console_sign_in.Declined as declined:
        if declined.counted:
            return await _refused(request, org, declined.reason)
        return _failed(request, org, declined.reason)
    now = utcnow()
    async with services.db.tenant(org.id) as session:
        browser = await sessions.find(session, org.id, read_session_token(request, org.slug), now)
        user = await sessions.signed_in(session, org.id, browser)
    if user is None or user.browser.sid != identity.sid or str(user.user.id) != identity.subject:
        return await _refused(request, org, "This browser is not signed in as that account.")
    response = RedirectResponse(start.return_to, status_code=303, headers={"Cache-Control": "no-store"})
    value = console_cookies.issue(services.keyring.pepper, org.id, identity.sid, int(now.timestamp()))
    remaining = int((user.browser.expires_at - now).total_seconds())
    console_sign_in.signed_in(response, rp, console_cookie_name(org.slug), value, remaining)
    return response
