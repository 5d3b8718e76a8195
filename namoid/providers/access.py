"""Using a connection's upstream tokens: refreshed when expired (RFC 6749 §6), revoked on disconnect.

A refresh stores the new tokens in the vault in the caller's transaction (a provider that
rotates refresh tokens invalidates the old one at once, so the new one must be kept).
Disconnecting revokes the tokens upstream where the provider offers RFC 7009, then destroys
them and appends the consent withdrawal, whatever the upstream said.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.accounts.users import normalize_email
from namoid.crypto.keyring import Keyring, KeyringError
from namoid.providers import connections, registry, vault
from namoid.providers.upstream import UpstreamClient, UpstreamError
from namoid.storage.db import Database
from namoid.storage.models import ProviderConnection, UpstreamProvider
from namoid.storage.repos import provider_connections, users

#: Refresh a little before the upstream's expiry, so a token handed out still works for a while.
EARLY: Final = timedelta(seconds=30)


class UpstreamTokenExpired(LookupError):
    """The upstream access token expired and cannot be refreshed: the user must sign in there again."""


async def current_tokens(
    session: AsyncSession,
    keyring: Keyring,
    client: UpstreamClient,
    provider: UpstreamProvider,
    connection: ProviderConnection,
    now: datetime,
) -> vault.UpstreamTokens:
    """The connection's tokens, refreshed first if the access token has (nearly) expired."""
    tokens = await vault.open_for(session, keyring, provider.org_id, connection.id)
    if tokens.expires_at is None or tokens.expires_at > now + EARLY:
        return tokens
    if tokens.refresh_token is None:
        raise UpstreamTokenExpired(
            f"the {provider.name} token has expired; sign in with {provider.name} again"
        )
    metadata = await client.metadata(provider)
    response = await client.refresh(
        provider, registry.client_secret(keyring, provider), metadata, tokens.refresh_token
    )
    fresh = vault.UpstreamTokens(
        access_token=response.access_token,
        refresh_token=response.refresh_token or tokens.refresh_token,
        id_token=response.id_token or tokens.id_token,
        scopes=tuple(response.scope.split()) if response.scope else tokens.scopes,
        expires_at=now + timedelta(seconds=response.expires_in) if response.expires_in else None,
    )
    await vault.store(session, keyring, connection, fresh)
    await audit.record(
        session,
        provider.org_id,
        actor=audit.Actor("system", "vault"),
        action="provider_token.refreshed",
        target_type="provider_connection",
        target_id=str(connection.id),
        detail={"provider": provider.name},
    )
    return fresh


async def user_id_by_email(db: Database, org_id: uuid.UUID, email: str) -> uuid.UUID:
    async with db.tenant(org_id) as session:
        user = await users.get_by_email(session, org_id, normalize_email(email))
    if user is None:
        raise LookupError(f"no user {email!r} in this organization")
    return user.id


async def disconnect(
    db: Database,
    keyring: Keyring,
    client: UpstreamClient,
    provider: UpstreamProvider,
    user_id: uuid.UUID,
    *,
    by: str,
    actor: audit.Actor,
) -> bool:
    """Revoke upstream (RFC 7009), destroy the tokens, withdraw the consent; False if not connected."""
    org_id = provider.org_id
    async with db.tenant(org_id) as session:
        connection = await provider_connections.find_for_user(session, org_id, provider.id, user_id)
    if connection is None:
        return False
    revoked = await _revoke_upstream(db, keyring, client, provider, connection)
    async with db.tenant(org_id) as session:
        await connections.end(session, org_id, connection, by=by, actor=actor)
        await audit.record(
            session,
            org_id,
            actor=actor,
            action="provider_token.revoked_upstream" if revoked else "provider_token.not_revoked_upstream",
            target_type="provider_connection",
            target_id=str(connection.id),
            outcome="success" if revoked else "failure",
            detail={"provider": provider.name},
        )
    return True


async def _revoke_upstream(
    db: Database,
    keyring: Keyring,
    client: UpstreamClient,
    provider: UpstreamProvider,
    connection: ProviderConnection,
) -> bool:
    """Ask the upstream to revoke the refresh and access tokens; False if it could not be done."""
    try:
        tokens = await vault.read(db, keyring, provider.org_id, connection.id)
        metadata = await client.metadata(provider)
        secret = registry.client_secret(keyring, provider)
        if metadata.revocation_endpoint is None:
            return False
        if tokens.refresh_token is not None:
            await client.revoke(provider, secret, metadata, tokens.refresh_token, "refresh_token")
        await client.revoke(provider, secret, metadata, tokens.access_token, "access_token")
    except (LookupError, UpstreamError, KeyringError):
        return False
    return True
