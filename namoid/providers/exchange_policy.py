"""Which relying parties an org lets exchange tokens for a provider's (RFC 8693), and the user's part.

Two keys open the vault to a client: the org allows the client for the provider
(``namoid client create|set-token-exchange --allow-token-exchange NAME``), and the user
granted the client the scope ``provider:NAME`` on the consent screen. The client must
therefore be registered with that scope. ``consent_line`` is what that screen says about it:
the provider by the name people know, and what the relying party would receive.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit, nodecache
from namoid.providers.registry import display_name
from namoid.storage.db import Database
from namoid.storage.repos import clients, provider_connections, token_exchange_permissions, upstream_providers

SCOPE_PREFIX: Final = "provider:"
POLICY_MAX_AGE = 300.0


def scope_for(provider_name: str) -> str:
    return f"{SCOPE_PREFIX}{provider_name}"


async def allow(
    db: Database, org_id: uuid.UUID, client_id: str, provider_names: Sequence[str], actor: audit.Actor
) -> list[str]:
    """Set the providers ``client_id`` may exchange tokens for (replacing the previous set); audited."""
    names = list(dict.fromkeys(provider_names))
    async with db.tenant(org_id) as session:
        client = await clients.get(session, org_id, client_id)
        if client is None:
            raise LookupError(f"no client {client_id!r} in this organization")
        provider_ids = []
        for name in names:
            provider = await upstream_providers.get_by_name(session, org_id, name)
            if provider is None:
                raise LookupError(f"no provider {name!r} in this organization")
            if scope_for(name) not in client.scopes:
                raise ValueError(
                    f"the client needs the scope {scope_for(name)} (its users grant it on consent)"
                )
            provider_ids.append(provider.id)
        await token_exchange_permissions.replace_for_client(session, org_id, client_id, provider_ids)
        await audit.record(
            session,
            org_id,
            actor=actor,
            action="client.token_exchange_set",
            target_type="client",
            target_id=client_id,
            detail={"providers": names},
        )
    return names


class OrgPolicies:
    """Whether any client of an org may exchange tokens (discovery lists the grant type then),
    kept on this node until the org's permissions change on any node (``nodecache``)."""

    def __init__(self, db: Database, caches: nodecache.Caches) -> None:
        self.db = db
        self._cache: nodecache.NodeCache[str, bool] = caches.cache(nodecache.EXCHANGE_POLICY, POLICY_MAX_AGE)

    async def enabled_in_org(self, org_id: uuid.UUID) -> bool:
        return await self._cache.get_or_load(str(org_id), lambda: self._load(org_id))

    async def _load(self, org_id: uuid.UUID) -> bool:
        async with self.db.tenant(org_id) as session:
            return await token_exchange_permissions.any_in_org(session, org_id)


async def consent_line(
    session: AsyncSession, org_id: uuid.UUID, client_id: str, client_name: str, user_id: uuid.UUID, scope: str
) -> str:
    """The consent screen's line for ``provider:NAME``: what ``client_name`` would receive through
    token exchange (RFC 8693), and why it would receive nothing today if that is so."""
    name = scope.removeprefix(SCOPE_PREFIX)
    provider = await upstream_providers.get_by_name(session, org_id, name)
    if provider is None or not provider.enabled:
        return f"Act for you at “{name}”, a provider this organization does not offer: nothing is shared"
    shown = display_name(provider)
    line = (
        f"Act for you at {shown}: receive access tokens for your {shown} account, with the access "
        f"you gave {shown} when you connected it ({', '.join(provider.scopes)}), until you disconnect "
        f"{shown} or withdraw this permission"
    )
    if not await token_exchange_permissions.allowed(session, org_id, client_id, provider.id):
        return f"{line}. This organization has not allowed {client_name} to do so yet: nothing is shared"
    if await provider_connections.find_for_user(session, org_id, provider.id, user_id) is None:
        return f"{line}. Your account is not connected to {shown}: nothing is shared unless you connect it"
    return line
