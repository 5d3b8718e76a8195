"""Token introspection (RFC 7662), for authenticated confidential clients only.

A client sees only tokens issued to it, unless it holds the introspection privilege
(``introspect_any``, §4). Anything else — unknown, expired, revoked, used, another org's,
another client's, a disabled user's — is ``{"active": false}`` and nothing more (§2.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from namoid.oauth import client_limits, tokens
from namoid.oauth.errors import InvalidRequest
from namoid.oauth.transaction import protocol_transaction
from namoid.services import Services
from namoid.storage.models import Client, Organization, utcnow
from namoid.tenancy.resolve import issuer_for

INACTIVE: dict[str, Any] = {"active": False}


def _access_token(found: tokens.VerifiedAccessToken) -> dict[str, Any]:
    claims = found.claims
    body: dict[str, Any] = {"active": True, "token_type": "Bearer"}
    for name in ("scope", "client_id", "exp", "iat", "sub", "aud", "iss", "jti"):
        body[name] = claims[name]
    return body


def _refresh_token(found: tokens.FoundRefreshToken, issuer: str) -> dict[str, Any]:
    family = found.family
    return {
        "active": True,
        "scope": family.scope,
        "client_id": family.client_id,
        "exp": int(found.expires_at.timestamp()),
        "iat": int(found.token.created_at.timestamp()),
        "sub": str(family.user_id),
        "iss": issuer,
    }


async def _describe(
    session: AsyncSession,
    org: Organization,
    client: Client,
    found: tokens.IssuedToken,
    issuer: str,
    now: datetime,
) -> dict[str, Any]:
    if not found.is_active(now) or (found.client_id != client.client_id and not client.introspect_any):
        return INACTIVE
    if found.user_id is not None and await tokens.active_user(session, org.id, found.user_id) is None:
        return INACTIVE
    if isinstance(found, tokens.VerifiedAccessToken):
        return _access_token(found)
    return _refresh_token(found, issuer)


async def introspect(
    services: Services,
    org: Organization,
    form: Mapping[str, str],
    authorization: str | None,
    *,
    ip: str,
) -> dict[str, Any]:
    """RFC 7662 §2: the token's state for an authenticated confidential client."""
    issuer = issuer_for(services.settings.base_url, org.slug)
    published = (await services.signing.for_org(org)).published
    now = utcnow()
    async with protocol_transaction(services.db, org.id) as session:
        client = await client_limits.authenticate(
            services,
            "introspect",
            session,
            org,
            issuer,
            form,
            authorization,
            ip=ip,
            now=now,
            confidential_only=True,
        )
        value = form.get("token")
        if value is None:
            raise InvalidRequest("token is required")
        found = await tokens.lookup(
            session,
            org,
            issuer,
            published,
            value,
            form.get("token_type_hint"),
            now,
            resources=(services.settings.admin_resource,),
        )
        return INACTIVE if found is None else await _describe(session, org, client, found, issuer, now)
