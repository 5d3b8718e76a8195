"""Deleting an account (DPDP Act 2023 s.12(3); issue 13): at once a soft delete, later the purge.

``delete_account`` is what the CLI (``namoid user delete``) and the account console call:

1. One transaction (``accounts.users.soft_delete``): sign-in is blocked, browser sessions,
   refresh families and access tokens are revoked (``oauth.grant_revocation``), the KYC
   record is erased, relying parties are notified through the outbox (``user.deleted``, RISC
   ``account-disabled``), it is audited, and the purge is due after the org's grace period.
2. Then, outside any transaction (they call out over HTTP), each upstream provider
   connection is ended (``providers.access.disconnect``): its tokens revoked upstream
   (RFC 7009) where the provider offers it, destroyed, and the consent withdrawn. Should the
   process die in between, the purge ends what is left first.

The purge itself (``privacy.purge``) runs in the worker once ``purge_at`` has come.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from namoid import audit
from namoid.accounts import users
from namoid.accounts.users import UserRef
from namoid.providers import access
from namoid.providers.upstream import client_for
from namoid.services import Services
from namoid.storage.db import Database
from namoid.storage.models import Organization, User
from namoid.storage.repos import organizations, provider_connections, upstream_providers
from namoid.tenancy import organizations as tenancy

#: Days between deleting and purging an account: 0 (purge at the worker's next pass) to a year.
GRACE_BOUNDS: Final = (0, 365)
#: ``withdrawn_by`` of the provider consents a deletion ends.
WITHDRAWN_BY: Final = "account_deleted"


@dataclass(frozen=True, slots=True)
class Deleted:
    """A deleted account: when it will be purged, and how many provider connections ended."""

    user: User
    purge_at: datetime
    providers_disconnected: int


def validate_grace(days: int) -> int:
    low, high = GRACE_BOUNDS
    if not low <= days <= high:
        raise ValueError(f"the erasure grace period must be {low}-{high} days")
    return days


async def set_grace(db: Database, slug: str, days: int, actor: audit.Actor) -> Organization:
    """Set the org's grace period between deletion and purge (accounts deleted later use it)."""
    days = validate_grace(days)
    org = await tenancy.require(db, slug)
    async with db.tenant(org.id) as session:
        await organizations.set_erasure_grace(session, org.id, days)
        await audit.record(
            session,
            org.id,
            actor=actor,
            action="org.erasure_grace_set",
            target_type="org",
            target_id=org.slug,
            detail={"days": days, "was": org.erasure_grace_days},
        )
    return await tenancy.require(db, slug)


async def delete_account(
    services: Services, org_id: uuid.UUID, who: UserRef, actor: audit.Actor, reason: str | None = None
) -> Deleted:
    """Delete an account, by id (the console, the admin API) or email (``namoid user delete``):
    the soft delete at once, then each provider connection ended upstream."""
    user = await users.delete(services.db, org_id, who, actor, reason)
    if user.purge_at is None:
        raise ValueError("a deleted user has a purge time")
    ended = await end_provider_connections(services, org_id, user.id, actor)
    return Deleted(user, user.purge_at, ended)


async def end_provider_connections(
    services: Services, org_id: uuid.UUID, user_id: uuid.UUID, actor: audit.Actor
) -> int:
    """End each of the user's provider connections (revoked upstream, destroyed); how many ended.

    Each disconnect reads in one transaction, calls the upstream with none open, then writes
    in another (``providers.access.disconnect``), so a slow provider holds no database lock.
    """
    async with services.db.tenant(org_id) as session:
        connections = await provider_connections.list_for_user(session, org_id, user_id)
        providers = {p.id: p for p in await upstream_providers.list_all(session, org_id)}
    client = client_for(services.settings)
    ended = 0
    for connection in connections:
        provider = providers.get(connection.provider_id)
        if provider is not None and await access.disconnect(
            services.db, services.keyring, client, provider, user_id, by=WITHDRAWN_BY, actor=actor
        ):
            ended += 1
    return ended
