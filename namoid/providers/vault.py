"""The token vault: a connection's upstream tokens, encrypted with the keyring (DESIGN.md §4).

Each token is an AES-256-GCM envelope whose associated data binds it to its org, user,
provider, row and column: a ciphertext copied to another row, another column, or a row
re-pointed at another user or provider fails to decrypt. Such a failure (or a key that was
retired too early) is reported, audited as ``provider_token.unreadable``, and the tokens
are never served. Destroying is a DELETE of the row: nothing else holds the tokens.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.crypto.keyring import Keyring, KeyringError, aad_for
from namoid.storage.db import Database
from namoid.storage.models import ProviderConnection, ProviderToken
from namoid.storage.repos import provider_tokens

TABLE = "provider_tokens"


class VaultUnreadable(LookupError):
    """The stored tokens of a connection cannot be trusted (tampered, moved, or under a retired key)."""


@dataclass(frozen=True, slots=True)
class UpstreamTokens:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    id_token: str | None = field(default=None, repr=False)
    scopes: tuple[str, ...] = ()
    expires_at: datetime | None = None


def row_binding(row: ProviderToken) -> str:
    """The row part of the associated data: the row, its user and its provider."""
    return f"{row.id}/user={row.user_id}/provider={row.provider_id}"


def _aad(row: ProviderToken, column: str) -> bytes:
    return aad_for(TABLE, column, str(row.org_id), row_binding(row))


def _seal(keyring: Keyring, row: ProviderToken, column: str, value: str | None) -> str | None:
    return None if value is None else keyring.encrypt(value.encode(), _aad(row, column))


def _open(keyring: Keyring, row: ProviderToken, column: str) -> str | None:
    envelope: str | None = getattr(row, column)
    return None if envelope is None else keyring.decrypt(envelope, _aad(row, column)).decode()


def _sealed_values(keyring: Keyring, row: ProviderToken, tokens: UpstreamTokens) -> dict[str, object]:
    return {
        "access_token_enc": _seal(keyring, row, "access_token_enc", tokens.access_token),
        "refresh_token_enc": _seal(keyring, row, "refresh_token_enc", tokens.refresh_token),
        "id_token_enc": _seal(keyring, row, "id_token_enc", tokens.id_token),
        "scopes": list(tokens.scopes),
        "expires_at": tokens.expires_at,
    }


async def store(
    session: AsyncSession, keyring: Keyring, connection: ProviderConnection, tokens: UpstreamTokens
) -> None:
    """Put a connection's tokens in the vault, replacing what was there (a refresh, a new sign-in)."""
    org_id = connection.org_id
    existing = await provider_tokens.get_for_connection(session, org_id, connection.id)
    if existing is not None:
        await provider_tokens.set_values(
            session, org_id, existing.id, **_sealed_values(keyring, existing, tokens)
        )
        return
    row = ProviderToken(
        id=uuid.uuid4(),
        org_id=org_id,
        connection_id=connection.id,
        user_id=connection.user_id,
        provider_id=connection.provider_id,
        access_token_enc="",
    )
    for column, value in _sealed_values(keyring, row, tokens).items():
        setattr(row, column, value)
    await provider_tokens.add(session, org_id, row)


def open_row(keyring: Keyring, row: ProviderToken) -> UpstreamTokens:
    """Decrypt a vault row; VaultUnreadable if any of its values fails (none is returned then)."""
    try:
        access = _open(keyring, row, "access_token_enc")
        refresh = _open(keyring, row, "refresh_token_enc")
        id_token = _open(keyring, row, "id_token_enc")
    except (KeyringError, UnicodeDecodeError):
        raise VaultUnreadable(
            f"the stored tokens of connection {row.connection_id} cannot be decrypted "
            "(tampered with, moved, or under a retired key); they are not used"
        ) from None
    if access is None:
        raise VaultUnreadable(f"connection {row.connection_id} has no access token")
    return UpstreamTokens(access, refresh, id_token, tuple(row.scopes), row.expires_at)


async def _report(session: AsyncSession, row: ProviderToken) -> None:
    await audit.record(
        session,
        row.org_id,
        actor=audit.Actor("system", "vault"),
        action="provider_token.unreadable",
        target_type="provider_connection",
        target_id=str(row.connection_id),
        outcome="failure",
        detail={"user_id": str(row.user_id), "provider_id": str(row.provider_id)},
    )


async def open_for(
    session: AsyncSession, keyring: Keyring, org_id: uuid.UUID, connection_id: uuid.UUID
) -> UpstreamTokens:
    """A connection's tokens in the caller's transaction; LookupError if none, VaultUnreadable if they
    fail to decrypt (audited in this transaction: the caller must commit it, e.g. a protocol answer)."""
    row = await provider_tokens.get_for_connection(session, org_id, connection_id)
    if row is None:
        raise LookupError(f"no tokens stored for connection {connection_id}")
    try:
        return open_row(keyring, row)
    except VaultUnreadable:
        await _report(session, row)
        raise


async def read(db: Database, keyring: Keyring, org_id: uuid.UUID, connection_id: uuid.UUID) -> UpstreamTokens:
    """A connection's tokens; LookupError if none, VaultUnreadable (audited) if they fail to decrypt."""
    async with db.tenant(org_id) as session:
        row = await provider_tokens.get_for_connection(session, org_id, connection_id)
    if row is None:
        raise LookupError(f"no tokens stored for connection {connection_id}")
    try:
        return open_row(keyring, row)
    except VaultUnreadable:
        async with db.tenant(org_id) as session:
            await _report(session, row)
        raise


async def destroy(session: AsyncSession, org_id: uuid.UUID, connection_id: uuid.UUID) -> None:
    await provider_tokens.remove_for_connection(session, org_id, connection_id)
