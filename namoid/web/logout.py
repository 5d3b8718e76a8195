"""RP-Initiated Logout (OpenID Connect RP-Initiated Logout 1.0) at ``/o/{org}/logout``.

A signed-in user confirms on a CSRF-protected page; then the session ends, with the refresh
tokens bound to it (``namoid.oauth.grant_revocation``), and the browser goes to the verified
``post_logout_redirect_uri`` (with ``state``) or sees the signed-out page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from namoid import audit
from namoid.accounts import sessions
from namoid.oauth import end_session
from namoid.oauth.authorization_response import csp_source, with_query
from namoid.oauth.authorize import Parameters, parse
from namoid.services import Services
from namoid.storage.models import Organization, utcnow
from namoid.storage.repos import clients
from namoid.tenancy.resolve import current_org, issuer_for
from namoid.web import limits
from namoid.web.cookies import clear_session_cookie, read_session_token
from namoid.web.csrf import csrf_token, csrf_valid
from namoid.web.responses import page, request_pairs

router = APIRouter()
CurrentOrg = Annotated[Organization, Depends(current_org)]
#: The RP's parameters, carried through the confirmation page (OIDC RP-Initiated Logout §2).
CARRIED = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state")
CONFIRM = "logout"
MAX_CLIENT_ID = 64


async def _resolve(
    session: AsyncSession, request: Request, org: Organization, params: Parameters
) -> end_session.LogoutRequest:
    services: Services = request.app.state.services
    token = params.values.get("id_token_hint")
    audiences = None
    if token is not None:
        published = (await services.signing.for_org(org)).published
        audiences = end_session.verify_hint(
            token, published, issuer_for(services.settings.base_url, org.slug)
        )
        if audiences is None:
            await audit.record(
                session,
                org.id,
                actor=audit.Actor("system"),
                action="logout.hint_rejected",
                target_type="org",
                target_id=org.slug,
                outcome="denied",
            )
    client_id = end_session.client_id_of(params, audiences)
    client = (
        await clients.get(session, org.id, client_id)
        if client_id is not None and len(client_id) <= MAX_CLIENT_ID
        else None
    )
    hint_given = params.present("id_token_hint")
    return end_session.resolve(params, hint_given=hint_given, audiences=audiences, client=client)


def _finish(request: Request, logout: end_session.LogoutRequest) -> Response:
    """§3: back to the RP with ``state`` when the redirect was verified, else the signed-out page."""
    if logout.post_logout_redirect_uri is None:
        return page(request, "signed_out.html", {})
    pairs = [("state", logout.state)] if logout.state is not None else []
    return RedirectResponse(
        with_query(logout.post_logout_redirect_uri, pairs),
        status_code=303,
        headers={"Cache-Control": "no-store"},
    )


def _targets(logout: end_session.LogoutRequest) -> list[str]:
    uri = logout.post_logout_redirect_uri
    source = csp_source(uri) if uri is not None else None
    return [source] if source is not None else []


@router.api_route("/logout", methods=["GET", "POST"], include_in_schema=False)
async def logout(request: Request, org: CurrentOrg) -> Response:
    """§2: a logout request from the RP (GET or POST), or the user's confirmation of one."""
    refused = await limits.ceiling(request, org, "logout.ip")
    if refused is not None:
        return refused
    params = parse(await request_pairs(request))
    now = utcnow()
    async with request.app.state.services.db.tenant(org.id) as session:
        browser = await sessions.find(session, org.id, read_session_token(request, org.slug), now)
        user = await sessions.signed_in(session, org.id, browser)
        resolved = await _resolve(session, request, org, params)
        if user is None:
            return _finish(request, resolved)
        if request.method != "POST" or params.values.get("decision") != CONFIRM:
            return _confirmation(request, org, params, user, resolved)
        if not csrf_valid(user.browser, params.values.get("csrf_token", "")):
            return await limits.refuse_form(session, request, org, user.browser, "logout")
        actor = audit.Actor("user", str(user.user.id))
        await sessions.end(session, org.id, user.browser, now, actor=actor, reason="logout")
        await audit.record(
            session,
            org.id,
            actor=actor,
            action="session.ended",
            target_type="session",
            target_id=user.browser.sid,
            detail={"client_id": resolved.client_id, "reason": "rp_initiated_logout"},
        )
    response = _finish(request, resolved)
    clear_session_cookie(response, org.slug)
    return response


def _confirmation(
    request: Request,
    org: Organization,
    params: Parameters,
    user: sessions.SignedIn,
    resolved: end_session.LogoutRequest,
) -> Response:
    """§2: "the OP SHOULD ask the End-User whether to log out"; the RP's parameters ride along."""
    context = {
        "action": f"/o/{org.slug}/logout",
        "csrf_token": csrf_token(user.browser),
        "fields": [(name, params.values[name]) for name in CARRIED if name in params.values],
        "user_email": user.user.email,
        "org_name": org.name,
    }
    return page(request, "logout.html", context, form_targets=_targets(resolved))
