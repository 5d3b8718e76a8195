"""Data-export fixtures: an org with offline KYC on (the synthetic signer pinned), a provider, and
a user who has everything the export covers: a grant with tokens, a provider connection with
tokens in the vault, a masked KYC record and audit entries."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from namoid import audit
from namoid.kyc import service as kyc
from namoid.providers import vault
from namoid.services import Services
from namoid.settings import Settings
from namoid.storage.models import Organization, ProviderConnection, UpstreamProvider, User
from tests import kyc_fixtures as fx
from tests.audit_scan import upstream_issued
from tests.conftest import Backend
from tests.features.authorize.conftest import Flow, new_flow
from tests.features.conftest import ADMIN, MakeClient, MakeUser
from tests.features.providers import conftest as providers_fixtures
from tests.features.providers.conftest import Connect
from tests.features.revocation.conftest import browser_tokens

SCOPE = "openid profile email offline_access"
REFRESHING = ["authorization_code", "refresh_token"]
provider = providers_fixtures.provider
connect = providers_fixtures.connect


@pytest.fixture
def settings(backend: Backend, tmp_path: Path, keyring_file: Path) -> Settings:
    certs = tmp_path / "uidai-test-certs"
    certs.mkdir()
    (certs / "test_signer.pem").write_text(fx.current_signer().pinned.pem)
    return Settings(
        database_url=backend.app_url,
        data_dir=tmp_path / "data",
        keyring_file=keyring_file,
        dev_mode=False,
        kyc_uidai_certs_dir=certs,
    )


@dataclass
class Principal:
    """A user with data in every section, and the secrets that must never reach the export."""

    flow: Flow
    connection: ProviderConnection
    secrets: list[str]

    @property
    def user(self) -> User:
        return self.flow.user

    @property
    def org(self) -> Organization:
        return self.flow.org


async def full_user(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    make_client: MakeClient,
    make_user: MakeUser,
    provider: UpstreamProvider,
    connect: Connect,
) -> Principal:
    flow = await new_flow(http, services, org, make_client, make_user, grant_types=REFRESHING)
    issued = await browser_tokens(flow, flow.rp, SCOPE)
    tokens = vault.UpstreamTokens(
        access_token=upstream_issued(f"upstream-access-{flow.user.id}"),
        refresh_token=upstream_issued(f"upstream-refresh-{flow.user.id}"),
        scopes=("openid", "email"),
    )
    connection = await connect(provider, flow.user, tokens)
    await kyc.set_policy(services.db, org.id, True, 3, ADMIN)
    actor = audit.Actor("user", str(flow.user.id))
    await kyc.verify_upload(
        services.db, services.keyring, [fx.current_signer().pinned], org.id, flow.user.id,
        kyc.Upload(fx.upload(fx.Person()), fx.SHARE_CODE), actor,
    )  # fmt: skip
    secrets = [value for key, value in issued.items() if key in ("access_token", "refresh_token", "id_token")]
    return Principal(flow, connection, secrets)


@pytest.fixture
async def principal(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    make_client: MakeClient,
    make_user: MakeUser,
    provider: UpstreamProvider,
    connect: Connect,
) -> Principal:
    return await full_user(http, services, org, make_client, make_user, provider, connect)
