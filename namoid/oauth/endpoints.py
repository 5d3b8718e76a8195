"""JSON protocol endpoints under ``/o/{org}``: token, revocation, introspection, userinfo.

Thin: parse the request, call the protocol module, render its answer or its OAuthError.
Every answer is ``Cache-Control: no-store`` (RFC 6749 §5.1). A 401 carries a
``WWW-Authenticate`` challenge (RFC 9110 §15.5.2): Basic at the client-authenticated
endpoints (RFC 6749 §5.2), Bearer at userinfo (RFC 6750 §3).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from namoid.oauth import introspection, params, revocation, token, userinfo
from namoid.oauth.errors import InsufficientScope, OAuthError
from namoid.ratelimit import oauth as oauth_limits
from namoid.ratelimit.responses import oauth_refusal
from namoid.services import Services
from namoid.storage.models import Organization
from namoid.tenancy.resolve import current_org, issuer_for

router = APIRouter()
OrgParam = Annotated[Organization, Depends(current_org)]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
FormAction = Callable[
    [Services, Organization, Mapping[str, str], str | None], Awaitable[dict[str, Any] | None]
]


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _realm(request: Request, org: Organization) -> str:
    return issuer_for(_services(request).settings.base_url, org.slug)


def _oauth_error(error: OAuthError, realm: str) -> Response:
    """RFC 6749 §5.2; invalid_client is 401 with a Basic challenge."""
    headers = dict(NO_STORE)
    if error.status_code == 401:
        headers["WWW-Authenticate"] = f'Basic realm="{realm}"'
    return JSONResponse(error.as_dict(), status_code=error.status_code, headers=headers)


async def _refusal(
    request: Request,
    org: Organization,
    limited_as: str,
    form: Mapping[str, str],
    authorization: str | None,
) -> Response | None:
    """The 429 answer if ``limited_as`` (a namoid.ratelimit.oauth endpoint) refuses the request."""
    ip = request.scope["state"].get("client_ip")
    limiter = _services(request).limiter
    refused = await oauth_limits.admit(limiter, limited_as, org.slug, ip, form, authorization)
    return None if refused is None else oauth_refusal(refused)


async def _form_endpoint(
    request: Request, org: Organization, action: FormAction, limited_as: str
) -> Response:
    """Parse, rate-limit (before any client-authentication work), then act."""
    try:
        form = await params.form(request)
        authorization = params.authorization_header(request)
        refused = await _refusal(request, org, limited_as, form, authorization)
        if refused is not None:
            return refused
        body = await action(_services(request), org, form, authorization)
    except OAuthError as exc:
        return _oauth_error(exc, _realm(request, org))
    if body is None:
        return Response(status_code=200, headers=NO_STORE)
    return JSONResponse(body, headers=NO_STORE)


@router.post("/token")
async def token_endpoint(request: Request, org: OrgParam) -> Response:
    """RFC 6749 §3.2."""
    return await _form_endpoint(request, org, token.exchange, limited_as="token")


@router.post("/revoke")
async def revocation_endpoint(request: Request, org: OrgParam) -> Response:
    """RFC 7009 §2."""
    return await _form_endpoint(request, org, revocation.revoke, limited_as="revoke")


@router.post("/introspect")
async def introspection_endpoint(request: Request, org: OrgParam) -> Response:
    """RFC 7662 §2."""
    return await _form_endpoint(request, org, introspection.introspect, limited_as="introspect")


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
    refused = await _refusal(request, org, "userinfo", {}, None)
    if refused is not None:
        return refused
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
