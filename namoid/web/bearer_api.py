"""A user's API under ``/o/{org}`` authorised by their own Bearer access token (RFC 6750).

Shared by the consent API and the KYC API: the token comes in the Authorization header
only (RFC 6750 §2.1; a query-string token is refused), is verified by ``oauth.bearer``,
and every refusal is an RFC 9457 problem JSON carrying the RFC 6750 §3 challenge.
"""

from __future__ import annotations

from typing import Final

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from namoid.oauth import bearer, params, userinfo
from namoid.oauth.errors import InsufficientScope, OAuthError
from namoid.ratelimit.responses import rate_limit_headers
from namoid.services import Services
from namoid.storage.models import Organization
from namoid.tenancy.resolve import issuer_for
from namoid.web import limits

NO_STORE: Final = {"Cache-Control": "no-store"}


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def problem_json(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """RFC 9457 §3: a problem details object."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return JSONResponse(
        body,
        status_code=status,
        media_type="application/problem+json",
        headers={**NO_STORE, **(headers or {})},
    )


def challenge(request: Request, org: Organization, error: OAuthError | None, scope: str) -> JSONResponse:
    """RFC 6750 §3: the Bearer challenge (with the error once a token was presented)."""
    text = f'Bearer realm="{issuer_for(_services(request).settings.base_url, org.slug)}"'
    if error is None:
        return problem_json(
            401, "Authentication required", "Send a Bearer access token.", {"WWW-Authenticate": text}
        )
    text += f', error="{error.error}", error_description="{error.description}"'
    if isinstance(error, InsufficientScope):
        text += f', scope="{scope}"'
    title = "Insufficient scope" if isinstance(error, InsufficientScope) else "Invalid access token"
    return problem_json(error.status_code, title, error.description, {"WWW-Authenticate": text})


async def ceiling(request: Request, org: Organization, policy: str, key: str) -> Response | None:
    """429 problem JSON once ``policy`` refuses ``key`` (the refusal audited once a minute)."""
    decision = await _services(request).limiter.hit(policy, key, org=org.slug)
    if decision.allowed:
        return None
    await limits.too_many(request, org, decision)
    return problem_json(429, "Too many requests", "Wait and try again.", rate_limit_headers(decision))


async def caller(request: Request, org: Organization, scope: str) -> bearer.Caller | Response:
    """The token's user and client once it is one of this org's live tokens with ``scope``;
    else the 401/403 answer to give."""
    try:
        token = userinfo.bearer_token(
            params.authorization_header(request), {}, in_query="access_token" in request.query_params
        )
        if token is None:
            return challenge(request, org, None, scope)
        return await bearer.caller_of(_services(request), org, token, scope)
    except OAuthError as error:
        return challenge(request, org, error, scope)
