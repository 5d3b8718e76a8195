"""Fixtures for connected providers: a registered upstream and users connected to it."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from namoid import audit
from namoid.crypto.tls import ensure_dev_certificate
from namoid.providers import connections, registry, vault
from namoid.services import Services
from namoid.settings import Settings
from namoid.storage.models import Organization, ProviderConnection, UpstreamProvider, User
from tests.audit_scan import upstream_issued
from tests.conftest import Backend
from tests.features.authorize.conftest import REDIRECT_URI, Flow, new_flow, pkce_pair
from tests.features.conftest import MakeClient, MakeUser
from tests.hostile_upstream import CLIENT_ID, Upstream, hostile_upstream

ADMIN = audit.Actor("admin", "test")
UPSTREAM_SECRET = upstream_issued("upstream-client-secret-for-tests")  # pragma: allowlist secret
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


@pytest.fixture(scope="session")
def upstream_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The TLS certificate of the test upstreams on 127.0.0.1 (trusted through provider_ca_file)."""
    return ensure_dev_certificate(tmp_path_factory.mktemp("upstream-tls"))


@pytest.fixture
def settings(
    backend: Backend, tmp_path: Path, keyring_file: Path, upstream_cert: tuple[Path, Path]
) -> Settings:
    """The shared settings, plus: upstreams on 127.0.0.1 are reachable and their CA trusted."""
    return Settings(
        database_url=backend.app_url,
        data_dir=tmp_path / "data",
        keyring_file=keyring_file,
        dev_mode=False,
        outbound_allow_networks=["127.0.0.1/32"],
        provider_ca_file=upstream_cert[0],
        provider_timeout=1.0,
    )


@pytest.fixture
def upstream(upstream_cert: tuple[Path, Path]) -> Iterator[Upstream]:
    with hostile_upstream(upstream_cert) as served:
        yield served


@pytest.fixture
async def upstream_provider(services: Services, org: Organization, upstream: Upstream) -> UpstreamProvider:
    spec = registry.ProviderSpec(
        name="up", preset="oidc", issuer=upstream.issuer, client_id=CLIENT_ID, client_secret=UPSTREAM_SECRET
    )
    return await registry.add(services.db, services.keyring, org.id, spec, ADMIN)


@pytest.fixture
async def flow(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    make_client: MakeClient,
    make_user: MakeUser,
) -> Flow:
    """A relying party and a user of ``org``, driving the browser side through the in-process app."""
    return await new_flow(http, services, org, make_client, make_user)


@pytest.fixture
async def exchange_flow(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    make_client: MakeClient,
    make_user: MakeUser,
) -> Flow:
    """Like ``flow``, with a relying party that may ask its users for ``provider:up``."""
    rp = await make_client(redirect_uris=[REDIRECT_URI], scopes=["openid", "profile", "email", "provider:up"])
    verifier, challenge = pkce_pair()
    return Flow(http, services, org, rp, await make_user(), verifier, challenge)
