"""Token exchange (RFC 8693): a relying party trades its user's NamoID access token for that
user's access token at a connected upstream provider (the token vault).

Only what RFC 8693 §2.1 needs for that: ``subject_token`` is an access token this org issued
to this very client (``subject_token_type`` …:access_token), ``requested_token_type`` is
…:access_token (the default), and the provider is named by ``audience`` (its name) or
``resource`` (its issuer); exactly one provider. Delegation (``actor_token``) is not offered.
Two keys are needed: the org allowed the client for the provider (else
``unauthorized_client``) and the user granted it the scope ``provider:NAME``. An invalid or
unacceptable subject token is ``invalid_request`` (§2.2.2). The answer is §2.2.1's:
``issued_token_type``, ``token_type`` (Bearer, or N_A for another kind), ``expires_in``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Final

from namoid.crypto.keyring import KeyringError
from namoid.oauth import tokens
from namoid.oauth.errors import InvalidRequest, InvalidTarget, InvalidToken, UnauthorizedClient
from namoid.oauth.grants import TokenRequest
from namoid.providers import access, exchange_policy
from namoid.providers.upstream import UpstreamError, client_for
from namoid.storage.models import UpstreamProvider
from namoid.storage.repos import provider_connections, token_exchange_permissions, upstream_providers

TOKEN_EXCHANGE: Final = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 (a URN)
ACCESS_TOKEN_TYPE: Final = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 (a URN)


def _check_types(request: TokenRequest) -> None:
    form = request.form
    if form.get("subject_token_type") != ACCESS_TOKEN_TYPE:
        raise InvalidRequest(f"subject_token_type must be {ACCESS_TOKEN_TYPE}")
    if form.get("requested_token_type", ACCESS_TOKEN_TYPE) != ACCESS_TOKEN_TYPE:
        raise InvalidRequest(f"only requested_token_type {ACCESS_TOKEN_TYPE} can be issued")
    if "actor_token" in form or "actor_token_type" in form:
        raise InvalidRequest("delegation (actor_token) is not supported")
    if not form.get("subject_token"):
        raise InvalidRequest("subject_token is required")


async def _provider(request: TokenRequest) -> UpstreamProvider:
    """The one provider named by ``audience`` (its name) or ``resource`` (its issuer)."""
    audience, resource = request.form.get("audience"), request.form.get("resource")
    if (audience is None) == (resource is None):
        raise InvalidRequest("name the provider with exactly one of audience (its name) or resource")
    org_id = request.org.id
    found = None
    for provider in await upstream_providers.list_all(request.session, org_id):
        if provider.enabled and (provider.name == audience or (resource and provider.issuer == resource)):
            found = provider
    if found is None:
        raise InvalidTarget("no such provider in this organization")
    if not await token_exchange_permissions.allowed(
        request.session, org_id, request.client.client_id, found.id
    ):
        raise UnauthorizedClient(f"the client may not exchange tokens for {found.name} tokens")
    return found


async def _subject_user(request: TokenRequest, provider: UpstreamProvider) -> uuid.UUID:
    published = (await request.signing.for_org(request.org)).published
    try:
        verified = await tokens.verify_access_token(
            request.session,
            request.org,
            request.issuer,
            published,
            request.form["subject_token"],
            request.now,
        )
    except InvalidToken:
        raise InvalidRequest("the subject_token is not a valid access token of this organization") from None
    user_id = verified.user_id
    if verified.client_id != request.client.client_id or user_id is None:
        raise InvalidRequest("the subject_token was not issued to this client for a user")
    if exchange_policy.scope_for(provider.name) not in verified.row.scope.split(" "):
        raise InvalidRequest(
            f"the user has not granted this client {exchange_policy.scope_for(provider.name)}"
        )
    return user_id


def _expires_in(expires_at: datetime | None, now: datetime, fallback: int) -> int:
    return max(1, int((expires_at - now).total_seconds())) if expires_at is not None else fallback


async def token_exchange(request: TokenRequest) -> tokens.Minted:
    """RFC 8693 §2.1-2.2."""
    _check_types(request)
    provider = await _provider(request)
    user_id = await _subject_user(request, provider)
    org_id = request.org.id
    connection = await provider_connections.find_for_user(request.session, org_id, provider.id, user_id)
    if connection is None:
        raise InvalidRequest(f"the user has not connected {provider.name}")
    services = request.services
    try:
        upstream = await access.current_tokens(
            request.session,
            services.keyring,
            client_for(services.settings),
            provider,
            connection,
            request.now,
        )
    except (LookupError, KeyringError, UpstreamError):
        raise InvalidRequest(
            f"the user's {provider.name} token is not available; they must connect it again"
        ) from None
    scope = exchange_policy.scope_for(provider.name)
    return tokens.Minted(
        grant=tokens.Grant(client_id=request.client.client_id, scope=scope, user_id=user_id),
        access_token=upstream.access_token,
        expires_in=_expires_in(upstream.expires_at, request.now, request.org.access_token_ttl),
        scope=" ".join(upstream.scopes) or scope,
        issued_token_type=ACCESS_TOKEN_TYPE,
    )
