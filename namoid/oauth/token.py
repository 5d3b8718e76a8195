"""The token endpoint (RFC 6749 §3.2, §5): authenticate the client, dispatch by grant_type.

``password`` and the implicit grant do not exist in OAuth 2.1; they, and any unknown grant,
are ``unsupported_grant_type``. Issuance and refusals are audited (without token values).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from namoid import audit, metrics
from namoid.oauth import client_limits, tokens
from namoid.oauth.errors import InvalidRequest, OAuthError, UnsupportedGrantType
from namoid.oauth.grants import GrantHandler, TokenRequest
from namoid.oauth.grants.authorization_code import authorization_code
from namoid.oauth.grants.client_credentials import client_credentials
from namoid.oauth.grants.refresh_token import refresh
from namoid.oauth.grants.token_exchange import TOKEN_EXCHANGE, token_exchange
from namoid.oauth.transaction import protocol_transaction
from namoid.services import Services
from namoid.storage.models import Organization, utcnow
from namoid.tenancy.resolve import issuer_for

GRANTS: dict[str, GrantHandler] = {
    "authorization_code": authorization_code,
    "client_credentials": client_credentials,
    "refresh_token": refresh,
    TOKEN_EXCHANGE: token_exchange,
}


def _handler(form: Mapping[str, str]) -> tuple[str, GrantHandler]:
    grant_type = form.get("grant_type")
    if grant_type is None:
        raise InvalidRequest("grant_type is required")
    handler = GRANTS.get(grant_type)
    if handler is None:
        raise UnsupportedGrantType("the grant_type is not supported")
    return grant_type, handler


async def _audit_issued(request: TokenRequest, grant_type: str, minted: tokens.Minted) -> None:
    client_id, user = request.client.client_id, minted.grant.user_id
    await audit.record(
        request.session,
        request.org.id,
        actor=audit.Actor("client", client_id),
        action="token.issued",
        target_type="user" if user else "client",
        target_id=str(user) if user else client_id,
        detail={
            "grant": grant_type,
            "client_id": client_id,
            "scope": minted.scope,
            "refresh": minted.refresh_token is not None,
        },
    )


async def _audit_refused(request: TokenRequest, grant_type: str, error: OAuthError) -> None:
    client_id = request.client.client_id
    await audit.record(
        request.session,
        request.org.id,
        actor=audit.Actor("client", client_id),
        action="token.refused",
        target_type="client",
        target_id=client_id,
        outcome="denied",
        detail={
            "grant": grant_type,
            "client_id": client_id,
            "error": error.error,
            "reason": error.description,
        },
    )


async def exchange(
    services: Services,
    org: Organization,
    form: Mapping[str, str],
    authorization: str | None,
    *,
    ip: str,
) -> dict[str, Any]:
    """Answer a token request (RFC 6749 §5.1) or raise the OAuthError to answer with (§5.2)."""
    grant_type, handler = _handler(form)
    issuer = issuer_for(services.settings.base_url, org.slug)
    now = utcnow()
    # Load the org's keys before taking a connection for the transaction: a cache miss inside
    # it would hold one pooled connection while waiting for another, and a burst of requests
    # could exhaust the pool that way.
    await services.signing.for_org(org)
    async with protocol_transaction(services.db, org.id) as session:
        client = await client_limits.authenticate(
            services, "token", session, org, issuer, form, authorization, ip=ip, now=now
        )
        request = TokenRequest(session, org, issuer, client, form, services, now)
        try:
            minted = await handler(request)
        except OAuthError as exc:
            await _audit_refused(request, grant_type, exc)
            raise
        await _audit_issued(request, grant_type, minted)
    metrics.TOKENS_ISSUED.labels(grant_type).inc()
    return minted.response()
