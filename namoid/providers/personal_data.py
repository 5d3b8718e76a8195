"""The providers room's personal data (DESIGN.md §8): connections and what the vault holds, never tokens.

Each connection says which upstream identity (the provider's ``sub``) is linked and when it
was used; its vault row is described (scopes, expiry, whether a refresh token is held), its
ciphertexts are not exported. The connection's consent records are in the consent section.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from namoid.privacy.registry import (
    BOOLEAN,
    STRING,
    STRINGS,
    TIME,
    UUID,
    DataPrincipal,
    Erasure,
    Json,
    Section,
    array_of,
    iso,
    nullable,
    obj,
)
from namoid.storage.models import ProviderAuthorization, ProviderConnection, ProviderToken
from namoid.storage.repos import personal_data, provider_connections, provider_tokens, upstream_providers

TOKENS = obj(scopes=STRINGS, expires_at=nullable(TIME), refresh_token_held=BOOLEAN)


async def _providers(session: AsyncSession, who: DataPrincipal) -> Json:
    names = {p.id: p for p in await upstream_providers.list_all(session, who.org_id)}
    connections: list[Json] = []
    for row in await provider_connections.list_for_user(session, who.org_id, who.user_id):
        provider = names.get(row.provider_id)
        vault = await provider_tokens.get_for_connection(session, who.org_id, row.id)
        connections.append(
            {
                "connection_id": str(row.id),
                "provider": provider.name if provider else None,
                "preset": provider.preset if provider else None,
                "upstream_subject": row.subject,
                "connected_at": iso(row.created_at),
                "last_used_at": iso(row.last_used_at),
                "tokens_held": None
                if vault is None
                else {
                    "scopes": vault.scopes,
                    "expires_at": iso(vault.expires_at),
                    "refresh_token_held": vault.refresh_token_enc is not None,
                },
            }
        )
    trips = await personal_data.rows_of_user(
        session, who.org_id, ProviderAuthorization.user_id, who.user_id, ProviderAuthorization.created_at
    )
    return {
        "connections": connections,
        "connect_attempts": [
            {
                "provider": names[t.provider_id].name if t.provider_id in names else None,
                "purpose": t.purpose,
                "started_at": iso(t.created_at),
                "expires_at": iso(t.expires_at),
                "completed_at": iso(t.used_at),
            }
            for t in trips
        ],
    }


async def _erase_providers(session: AsyncSession, who: DataPrincipal) -> None:
    """What the account's deletion left (it ended each connection, revoking upstream first)."""
    for column in (ProviderToken.user_id, ProviderConnection.user_id, ProviderAuthorization.user_id):
        await personal_data.delete_rows_of_user(session, who.org_id, column, who.user_id)


CONNECTED_PROVIDERS: Final = Section(
    name="connected_providers",
    title="Connected providers",
    tables=("provider_connections", "provider_tokens", "provider_authorizations"),
    schema=obj(
        connections=array_of(
            obj(
                connection_id=UUID,
                provider=nullable(STRING),
                preset=nullable(STRING),
                upstream_subject=STRING,
                connected_at=TIME,
                last_used_at=nullable(TIME),
                tokens_held=nullable(TOKENS),
            )
        ),
        connect_attempts=array_of(
            obj(
                provider=nullable(STRING),
                purpose=STRING,
                started_at=TIME,
                expires_at=TIME,
                completed_at=nullable(TIME),
            )
        ),
    ),
    export=_providers,
    erasure=Erasure("delete", _erase_providers),
)
