"""Linking a user to an upstream identity, and ending the link (DESIGN.md §8 consent ledger).

A connection is a consent: linking appends a ``provider_connection`` grant (scopes granted
upstream, purpose, notice version, time, IP, user agent) in the same transaction as the
link and its vault row; disconnecting destroys the tokens and appends the withdrawal.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.crypto.keyring import Keyring
from namoid.privacy import consent_ledger
from namoid.providers import vault
from namoid.storage.db import Database
from namoid.storage.models import ProviderConnection, UpstreamProvider
from namoid.storage.repos import provider_connections

#: The version of the notice shown when a user connects a provider (bump when its text changes).
NOTICE_VERSION: Final = "providers-2026-12"
#: Why NamoID keeps a connection: to sign the user in, and (if the user allows a client) to hand
#: the upstream access token to that client (RFC 8693).
PURPOSES: Final = ("sign_in", "token_exchange")


async def link(
    session: AsyncSession,
    keyring: Keyring,
    provider: UpstreamProvider,
    user_id: uuid.UUID,
    subject: str,
    tokens: vault.UpstreamTokens,
    actor: audit.Actor,
) -> ProviderConnection:
    """Link ``user_id`` to the upstream ``subject``; tokens to the vault; consent and audit recorded."""
    org_id = provider.org_id
    connection = await provider_connections.add(
        session, org_id, ProviderConnection(user_id=user_id, provider_id=provider.id, subject=subject)
    )
    await vault.store(session, keyring, connection, tokens)
    await consent_ledger.record_grant(
        session,
        org_id,
        consent_id=connection.id,
        kind="provider_connection",
        user_id=user_id,
        counterparty=provider.name,
        purposes=PURPOSES,
        scopes=tokens.scopes,
        notice_version=NOTICE_VERSION,
        action="signed_in_with_provider",
    )
    await audit.record(
        session,
        org_id,
        actor=actor,
        action="provider.connected",
        target_type="user",
        target_id=str(user_id),
        detail={
            "provider": provider.name,
            "connection_id": str(connection.id),
            "scopes": list(tokens.scopes),
        },
    )
    return connection


async def list_for_user(db: Database, org_id: uuid.UUID, user_id: uuid.UUID) -> Sequence[ProviderConnection]:
    async with db.tenant(org_id) as session:
        return await provider_connections.list_for_user(session, org_id, user_id)


async def end(
    session: AsyncSession, org_id: uuid.UUID, connection: ProviderConnection, *, by: str, actor: audit.Actor
) -> None:
    """Destroy the connection's tokens, append the consent withdrawal, remove the link; audited."""
    await vault.destroy(session, org_id, connection.id)
    await consent_ledger.record_withdrawal(session, org_id, connection.id, by=by)
    await provider_connections.remove(session, org_id, connection.id)
    await audit.record(
        session,
        org_id,
        actor=actor,
        action="provider.disconnected",
        target_type="user",
        target_id=str(connection.user_id),
        detail={"connection_id": str(connection.id), "by": by},
    )
