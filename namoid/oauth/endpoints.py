"""JSON protocol endpoints under ``/o/{org}``: token, revocation, introspection, userinfo.

Thin: parse the request, call the protocol module, render its answer or its OAuthError.
Every answer is ``Cache-Control: no-store`` (RFC 6749 §5.1). Each endpoint has a per-IP
ceiling on all requests (flood protection); client budgets and failure limits are the
protocol's (namoid.oauth.client_limits). A 429 is RFC 6749 §5.2-shaped. A 401 carries a
``WWW-Authenticate`` challenge (RFC 9110 §15.5.2): Basic at the client-authenticated
endpoints (RFC 6749 §5.2), Bearer at userinfo (RFC 6750 §3).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from namoid import audit
from namoid.oauth import introspection, params, revocation, token, userinfo
from namoid.oauth.client_limits import RateLimited
from namoid.oauth.errors import InsufficientScope, OAuthError
from namoid.ratelimit import refusals
from namoid.ratelimit.keys import request_ip
from namoid.ratelimit.responses import rate_limit_headers
from namoid.services import Services
from namoid.storage.models import Organization
from namoid.tenancy.resolve import current_org, issuer_for

router = APIRouter()
OrgParam = Annotated[Organization, Depends(current_org)]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class FormAction(Protocol):
    def __call__(
        self,
        services: Services,
        org: Organization,
        form: Mapping[str, str],
        authorization: str | None,
        *,
        ip: str,
    ) -> Awaitable[dict[str, Any] | None]: ...


#: Per endpoint: the ceiling on all requests from one IP.
IP_CEILINGS = {
    "token": "token.ip",
    "revoke": "revoke.ip",
    "introspect": "introspect.ip",
    "userinfo": "userinfo.ip",
}


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _realm(request: Request, org: Organization) -> str:
    return issuer_for(_services(request).settings.base_url, org.slug)


def _oauth_error(error: OAuthError, realm: str) -> Response:
    """RFC 6749 §5.2; invalid_client is 401 with a Basic challenge, a rate limit 429 with its headers."""
    headers = dict(NO_STORE)
    if isinstance(error, RateLimited):
        headers |= rate_limit_headers(error.decision)
    if error.status_code == 401:
        headers["WWW-Authenticate"] = f'Basic realm="{realm}"'
    return JSONResponse(error.as_dict(), status_code=error.status_code, headers=headers)


async def _ceiling(request: Request, org: Organization, endpoint: str, ip: str) -> None:
    """Count the request against its IP's ceiling at ``endpoint``; RateLimited once reached."""
    decision = await _services(request).limiter.hit(IP_CEILINGS[endpoint], ip, org=org.slug)
    if not decision.allowed:
        raise RateLimited(decision)


async def _audit_refusal(request: Request, org: Organization, error: OAuthError) -> None:
    """A 429 is audited, once per refusing window (namoid.ratelimit.refusals)."""
    services = _services(request)
    if isinstance(error, RateLimited) and await refusals.first_in_window(
        services.limiter, org.slug, error.decision
    ):
        async with services.db.tenant(org.id) as session:
            await refusals.record(session, org.id, error.decision, audit.Actor("client"))


async def _form_endpoint(request: Request, org: Organization, action: FormAction, endpoint: str) -> Response:
    """Count the IP's ceiling (every request, a malformed one too), parse, then act: the
    client's budget is spent only once it authenticated (namoid.oauth.client_limits)."""
    ip = request_ip(request)
    try:
        await _ceiling(request, org, endpoint, ip)
        form = await params.form(request)
        authorization = params.authorization_header(request)
        body = await action(_services(request), org, form, authorization, ip=ip)
    except OAuthError as exc:
        await _audit_refusal(request, org, exc)
        return _oauth_error(exc, _realm(request, org))
    if body is None:
        return Response(status_code=200, headers=NO_STORE)
    return JSONResponse(body, headers=NO_STORE)


@router.post("/token")
async def token_endpoint(request: Request, org: OrgParam) -> Response:
    """RFC 6749 §3.2."""
    return await _form_endpoint(request, org, token.exchange, "token")


@router.post("/revoke")
async def revocation_endpoint(request: Request, org: OrgParam) -> Response:
    """RFC 7009 §2."""
    return await _form_endpoint(request, org, revocation.revoke, "revoke")


@router.post("/introspect")
async def introspection_endpoint(request: Request, org: OrgParam) -> Response:
    """RFC 7662 §2."""
    return await _form_endpoint(request, org, introspection.introspect, "introspect")


def _bearer_challenge(error: OAuthError | None, realm: str) -> Response:
    """RFC 6750 §3: no error code when no token was presented; else the error in the challenge."""
    challenge = f'Bearer realm="{realm}"'
    if error is None:
        return Response(status_code=401, headers={**NO_STORE, "WWW-Authenticate": challenge})
    challenge += f', error="{error.error}"'
    if error.description:
        challenge += f', error_description="{error.description}"'
    if isinstance(error, InsufficientScope):
        challenge += ', scope="openid"'
    headers = {**NO_STORE, "WWW-Authenticate": challenge}
    return JSONResponse(error.as_dict(), status_code=error.status_code, headers=headers)


async def _userinfo_form(request: Request) -> dict[str, str]:
    """RFC 6750 §2.2: a form body may carry the token, on POST only."""
    if request.method != "POST" or not params.is_form(request.headers.get("content-type")):
        return {}
    return params.parse_form(await request.body())


@router.api_route("/userinfo", methods=["GET", "POST"])
async def userinfo_endpoint(request: Request, org: OrgParam) -> Response:
    """OIDC Core §5.3."""
    realm = _realm(request, org)
    try:
        await _ceiling(request, org, "userinfo", request_ip(request))
    except RateLimited as refused:
        await _audit_refusal(request, org, refused)
        return _oauth_error(refused, realm)
    try:
        bearer = userinfo.bearer_token(
            params.authorization_header(request),
            await _userinfo_form(request),
            "access_token" in request.query_params,
        )
        if bearer is None:
            return _bearer_challenge(None, realm)
        claims = await userinfo.userinfo(_services(request), org, bearer)
    except OAuthError as exc:
        return _bearer_challenge(exc, realm)
    return JSONResponse(claims, headers=NO_STORE)
