"""Fixtures for connected providers: a registered upstream and users connected to it."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest

from namoid import audit
from namoid.providers import connections, registry, vault
from namoid.services import Services
from namoid.storage.models import Organization, ProviderConnection, UpstreamProvider, User

ADMIN = audit.Actor("admin", "test")
UPSTREAM_SECRET = "upstream-client-secret-for-tests"  # pragma: allowlist secret
Connect = Callable[[UpstreamProvider, User, vault.UpstreamTokens], Awaitable[ProviderConnection]]


@pytest.fixture
async def provider(services: Services, org: Organization) -> UpstreamProvider:
    spec = registry.ProviderSpec(
        name="upstream",
        preset="oidc",
        issuer="https://upstream.example/o/friends",
        client_id="namoid-at-upstream",
        client_secret=UPSTREAM_SECRET,
    )
    return await registry.add(services.db, services.keyring, org.id, spec, ADMIN)


@pytest.fixture
def connect(services: Services) -> Connect:
    """Link ``user`` to ``provider`` with ``tokens`` in the vault (and its consent record)."""

    async def run(provider: UpstreamProvider, user: User, tokens: vault.UpstreamTokens) -> ProviderConnection:
        async with services.db.tenant(provider.org_id) as session:
            return await connections.link(
                session, services.keyring, provider, user.id, f"sub-{uuid.uuid4().hex}", tokens, ADMIN
            )

    return run
