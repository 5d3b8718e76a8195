"""Who is calling the admin API: NamoID's own access tokens (RFC 9068), for the admin API only.

The org comes from the token's issuer, never from the URL: the token must be an ``at+jwt``
signed by that org's key, name the admin API as its sole audience (RFC 8707, RFC 9068 §4),
be unexpired and unrevoked (its ``jti`` row, as for introspection), and its client and user
must still be active. The scopes it may use are those it carries that its holder still has:
the client's admin scopes, or the user's roles (``namoid.admin.scopes``).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.accounts import roles
from namoid.admin.problems import Problem
from namoid.admin.scopes import grantable, role_scopes
from namoid.jose import jwt
from namoid.oauth import tokens
from namoid.oauth.errors import InvalidToken
from namoid.ratelimit import refusals
from namoid.ratelimit.keys import request_ip
from namoid.ratelimit.limiter import Decision
from namoid.ratelimit.responses import TOO_MANY_REQUESTS, rate_limit_headers
from namoid.services import Services
from namoid.storage.models import Organization, utcnow
from namoid.storage.repos import clients
from namoid.tenancy.resolve import issuer_for

REALM = "namoid-admin"
bearer = HTTPBearer(auto_error=False, description="An access token of your org for the admin API.")


@dataclass(frozen=True, slots=True)
class Admin:
    """An authenticated caller of the admin API, confined to ``org``."""

    org: Organization
    scopes: frozenset[str]
    client_id: str
    user_id: uuid.UUID | None

    @property
    def actor(self) -> audit.Actor:
        return audit.Actor("admin", f"user:{self.user_id}" if self.user_id else f"client:{self.client_id}")


def unauthorized(description: str | None = None) -> Problem:
    """401 with RFC 6750 §3's challenge (no error code when no token came at all, §3.1)."""
    challenge = f'Bearer realm="{REALM}"'
    if description is not None:
        challenge += f', error="invalid_token", error_description="{description}"'
    return Problem(401, description or "an access token for the admin API is required",
                   headers={"WWW-Authenticate": challenge})  # fmt: skip


async def _issuing_org(services: Services, token: str) -> Organization:
    try:
        issuer = jwt.unverified_claims(token).get("iss")
    except jwt.JWTError:
        raise unauthorized("the access token is invalid") from None
    prefix = f"{services.settings.base_url}/o/"
    if not isinstance(issuer, str) or not issuer.startswith(prefix):
        raise unauthorized("the access token is invalid")
    org = await services.orgs.get(issuer.removeprefix(prefix))
    if org is None:
        raise unauthorized("the access token is invalid")
    return org


async def _usable_scopes(
    session: AsyncSession, org: Organization, found: tokens.VerifiedAccessToken
) -> frozenset[str] | None:
    """The token's scopes its holder still has; None if the client or user is no longer active."""
    carried = frozenset(str(found.claims.get("scope", "")).split()) & frozenset(grantable(org.platform))
    client = await clients.get(session, org.id, found.client_id)
    if client is None or client.status != "active":
        return None
    if found.user_id is None:
        return carried & frozenset(client.admin_scopes)
    if await tokens.active_user(session, org.id, found.user_id) is None:
        return None
    return carried & role_scopes(await roles.of_user(session, org.id, found.user_id), platform=org.platform)


async def authenticate(services: Services, token: str) -> Admin:
    """The caller behind ``token``, or a 401 Problem."""
    org = await _issuing_org(services, token)
    published = (await services.signing.for_org(org)).published
    issuer = issuer_for(services.settings.base_url, org.slug)
    async with services.db.tenant(org.id) as session:
        try:
            found = await tokens.verify_access_token(
                session, org, issuer, published, token, utcnow(), audience=services.settings.admin_resource
            )
        except InvalidToken:
            raise unauthorized("the access token is invalid") from None
        scopes = await _usable_scopes(session, org, found)
    if scopes is None:
        raise unauthorized("the access token is invalid")
    return Admin(org=org, scopes=scopes, client_id=found.client_id, user_id=found.user_id)


async def _within(services: Services, decision: Decision, admin: Admin | None = None) -> None:
    """A 429 problem once ``decision`` refuses (the first refusal of its window audited in the
    caller's org, when the caller is known)."""
    if decision.allowed:
        return
    if admin is not None and await refusals.first_in_window(services.limiter, admin.org.slug, decision):
        async with services.db.tenant(admin.org.id) as session:
            await refusals.record(session, admin.org.id, decision, admin.actor)
    raise Problem(TOO_MANY_REQUESTS, "too many requests; retry later", headers=rate_limit_headers(decision))


async def record_denial(services: Services, admin: Admin, scope: str, request: Request) -> None:
    """A refusal is a security decision (DESIGN.md §6): audited in the caller's org."""
    async with services.db.tenant(admin.org.id) as session:
        await audit.record(
            session,
            admin.org.id,
            actor=admin.actor,
            action="admin.access_denied",
            target_type="admin_api",
            target_id=f"{request.method} {request.url.path}"[:200],
            outcome="denied",
            detail={"missing_scope": scope},
        )


def requires(scope: str) -> Callable[..., Awaitable[Admin]]:
    """A FastAPI dependency: the caller, holding ``scope`` (else 403 ``insufficient_scope``)."""

    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Admin:
        if credentials is None:
            raise unauthorized()
        services: Services = request.app.state.services
        await _within(services, await services.limiter.hit("admin.ip", request_ip(request)))
        admin = await authenticate(services, credentials.credentials)
        caller = await services.limiter.hit(
            "admin.caller", str(admin.org.id), admin.actor.id or "", org=admin.org.slug
        )
        await _within(services, caller, admin)
        if scope not in admin.scopes:
            await record_denial(services, admin, scope, request)
            challenge = f'Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}"'
            raise Problem(
                403, f"the access token lacks the scope {scope}", headers={"WWW-Authenticate": challenge}
            )
        return admin

    return dependency
