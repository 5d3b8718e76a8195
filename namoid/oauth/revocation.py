"""Token revocation (RFC 7009).

The client authenticates (public clients with their client_id, §2.1); it may revoke only
tokens issued to it. Revoking a refresh token revokes its family and every access token
issued from it; revoking an access token revokes its ``jti``. Unknown tokens, and tokens
of other clients, still get 200 (§2.2), so the answer reveals nothing. Every token type
NamoID issues can be revoked, so ``unsupported_token_type`` (§2.2.1) never applies; the
``token_type_hint`` only orders the search, and an unknown hint is ignored (§2.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.oauth import client_limits, tokens
from namoid.oauth.errors import InvalidRequest
from namoid.oauth.transaction import protocol_transaction
from namoid.services import Services
from namoid.storage.models import Client, Organization, utcnow
from namoid.storage.repos import access_tokens, refresh_tokens
from namoid.tenancy.resolve import issuer_for


async def _revoke_found(
    session: AsyncSession,
    org: Organization,
    found: tokens.IssuedToken,
    now: datetime,
) -> tuple[str, str, int]:
    """Revoke ``found``; returns (target type, target id, access tokens revoked)."""
    if isinstance(found, tokens.VerifiedAccessToken):
        revoked = await access_tokens.revoke(session, org.id, found.row.jti, now)
        return "access_token", found.row.jti, int(revoked)
    family = found.family
    await refresh_tokens.revoke_family(session, org.id, family.id, now, "revoked")
    return (
        "refresh_family",
        str(family.id),
        await access_tokens.revoke_for_family(session, org.id, family.id, now),
    )


async def _revoke(
    session: AsyncSession, org: Organization, client: Client, found: tokens.IssuedToken, now: datetime
) -> None:
    actor = audit.Actor("client", client.client_id)
    if found.client_id != client.client_id:
        await audit.record(
            session,
            org.id,
            actor=actor,
            action="token.revocation_refused",
            outcome="denied",
            detail={"client_id": client.client_id, "reason": "issued to another client"},
        )
        return
    target_type, target_id, revoked = await _revoke_found(session, org, found, now)
    await audit.record(
        session,
        org.id,
        actor=actor,
        action="token.revoked",
        target_type=target_type,
        target_id=target_id,
        detail={"client_id": client.client_id, "revoked_access": revoked},
    )


async def revoke(
    services: Services,
    org: Organization,
    form: Mapping[str, str],
    authorization: str | None,
    *,
    ip: str,
) -> None:
    """RFC 7009 §2.1: revoke the token if the client owns it; raise only for a bad request."""
    issuer = issuer_for(services.settings.base_url, org.slug)
    published = (await services.signing.for_org(org)).published
    now = utcnow()
    async with protocol_transaction(services.db, org.id) as session:
        client = await client_limits.authenticate(
            services, "revoke", session, org, issuer, form, authorization, ip=ip, now=now
        )
        value = form.get("token")
        if value is None:
            raise InvalidRequest("token is required")
        hint = form.get("token_type_hint")
        found = await tokens.lookup(
            session, org, issuer, published, value, hint, now, resources=(services.settings.admin_resource,)
        )
        if found is not None:
            await _revoke(session, org, client, found, now)
