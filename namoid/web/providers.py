"""Browser routes of connected providers under ``/o/{org}/providers/{name}``.

``start?req=`` (a sign-in button on the login page) sends the browser to the upstream; a
signed-in user connects a provider from the account console (a CSRF-protected POST,
namoid.web.account.providers, which calls ``to_upstream``). ``callback`` (GET, or POST for
``form_post``) runs the checks of namoid.providers.signin and the decision of
namoid.providers.linking. Every refusal is one clear page and one audit entry; nothing is
linked or stored then.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from namoid.accounts import sessions
from namoid.oauth.authorization_response import csp_source
from namoid.oauth.authorize import AuthorizationParams
from namoid.providers import linking, registry, signin
from namoid.providers.upstream import UpstreamError, client_for
from namoid.services import Services
from namoid.storage.models import BrowserSession, Organization, UpstreamProvider, utcnow
from namoid.storage.repos import authorization_requests, upstream_providers
from namoid.tenancy.resolve import current_org, issuer_for
from namoid.web import limits
from namoid.web.cookies import (
    clear_trip_cookie,
    read_session_token,
    read_trip_cookie,
    set_session_cookie,
    set_trip_cookie,
)
from namoid.web.responses import page, problem, request_pairs

router = APIRouter()
CurrentOrg = Annotated[Organization, Depends(current_org)]
MAX_HANDLE = 64


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def sign_in_buttons(session: AsyncSession, org: Organization) -> Sequence[str]:
    """The names of the org's enabled providers, for the login page."""
    return [p.name for p in await upstream_providers.list_all(session, org.id) if p.enabled]


async def enabled_provider(request: Request, org: Organization, name: str) -> UpstreamProvider | None:
    provider = await registry.get(_services(request).db, org.id, name[:40])
    return provider if provider is not None and provider.enabled else None


def _unknown(request: Request) -> Response:
    return problem(request, 404, "No such provider", "This organization does not offer that provider.")


def _refused(request: Request, provider: UpstreamProvider, message: str) -> Response:
    return problem(
        request, 400, f"Signing in with {provider.name} did not work", f"{message[:1].upper()}{message[1:]}."
    )


def _redirect_uri(request: Request, org: Organization, provider: UpstreamProvider) -> str:
    return registry.redirect_uri(issuer_for(_services(request).settings.base_url, org.slug), provider.name)


async def to_upstream(
    request: Request,
    org: Organization,
    provider: UpstreamProvider,
    browser: BrowserSession,
    *,
    purpose: signin.Purpose,
    handle: str | None,
    started: sessions.Started | None,
) -> Response:
    """Begin the trip (namoid.providers.signin.begin) and send the browser to the upstream."""
    services, now = _services(request), utcnow()
    try:
        trip = await signin.begin(
            services.db,
            services.keyring,
            client_for(services.settings),
            provider,
            redirect_uri=_redirect_uri(request, org, provider),
            purpose=purpose,
            browser=browser,
            request_handle=handle,
            user_id=browser.user_id if purpose == "connect" else None,
            now=now,
        )
    except UpstreamError as exc:
        refused = signin.CallbackRefused(exc.reason, str(exc))
        await signin.record_refusal(services.db, provider, refused, browser)
        return _refused(request, provider, str(exc))
    response = RedirectResponse(trip.url, status_code=303, headers={"Cache-Control": "no-store"})
    set_trip_cookie(response, org.slug, trip.binding, int(signin.TRIP_TTL.total_seconds()))
    if started is not None:
        set_session_cookie(response, org.slug, started.token, started.row.expires_at, now)
    return response


@router.get("/providers/{name}/start", include_in_schema=False)
async def start(request: Request, org: CurrentOrg, name: str) -> Response:
    """A sign-in button: go to the upstream for the pending authorization request ``req``."""
    if (limited := await limits.ceiling(request, org, "interaction.ip")) is not None:
        return limited
    provider = await enabled_provider(request, org, name)
    if provider is None:
        return _unknown(request)
    handle, now, started = request.query_params.get("req", "")[:MAX_HANDLE], utcnow(), None
    async with _services(request).db.tenant(org.id) as session:
        if not handle or await authorization_requests.find_pending(session, org.id, handle, now) is None:
            return problem(
                request,
                400,
                "This sign-in request has expired",
                "Return to the application and sign in again.",
            )
        browser = await sessions.find(session, org.id, read_session_token(request, org.slug), now)
        if browser is None:
            started = await sessions.start(session, org, user=None, amr=[], now=now)
            browser = started.row
    return await to_upstream(
        request, org, provider, browser, purpose="sign_in", handle=handle, started=started
    )


@router.api_route("/providers/{name}/callback", methods=["GET", "POST"], include_in_schema=False)
async def callback(request: Request, org: CurrentOrg, name: str) -> Response:
    """The upstream's authorization response (RFC 6749 §4.1.2; form_post for Apple).

    Bound to the browser by the trip cookie alone (a cross-site form_post carries no session
    cookie), which is cleared here whatever the outcome: single use, like ``state``."""
    response = await _callback(request, org, name)
    clear_trip_cookie(response, org.slug)
    return response


async def _callback(request: Request, org: Organization, name: str) -> Response:
    if (limited := await limits.ceiling(request, org, "interaction.ip")) is not None:
        return limited
    provider = await enabled_provider(request, org, name)
    if provider is None:
        return _unknown(request)
    services, now = _services(request), utcnow()
    params = dict(await request_pairs(request))
    try:
        identity = await signin.complete(
            services.db,
            services.keyring,
            client_for(services.settings),
            provider,
            params=params,
            binding=read_trip_cookie(request, org.slug),
            redirect_uri=_redirect_uri(request, org, provider),
            now=now,
        )
        resolution = await linking.resolve(services.db, services.keyring, org, provider, identity, now)
    except signin.CallbackRefused as refused:
        await signin.record_refusal(services.db, provider, refused, None)
        return _refused(request, provider, str(refused))
    if resolution.started is None:
        context = {
            "provider": provider.name,
            "user_email": resolution.user.email,
            "account_url": f"/o/{org.slug}/account/providers",
        }
        return page(request, "provider_connected.html", context)
    response = await _continue(request, org, provider, identity.trip.request_handle or "")
    set_session_cookie(response, org.slug, resolution.started.token, resolution.started.row.expires_at, now)
    return response


async def _continue(request: Request, org: Organization, provider: UpstreamProvider, handle: str) -> Response:
    """Back to the authorization request through a page of ours, not a redirect: the upstream's
    form started this navigation, and its CSP form-action would block a redirect chain that ends
    at the relying party. The page submits itself (same script as form_post)."""
    async with _services(request).db.tenant(org.id) as session:
        row = await authorization_requests.find_pending(session, org.id, handle, utcnow())
    if row is None:
        return problem(
            request, 400, "This sign-in request has expired", "Return to the application and sign in again."
        )
    source = csp_source(AuthorizationParams.from_json(row.params).redirect_uri)
    context = {"provider": provider.name, "action": f"/o/{org.slug}/consent", "req": handle}
    return page(request, "provider_continue.html", context, form_targets=[source] if source else [])
