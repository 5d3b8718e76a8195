"""KYC feature fixtures: an org with offline KYC on, the synthetic test signers pinned (through
``NAMOID_KYC_UIDAI_CERTS_DIR``, as an operator would), a signed-in browser of a user."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import httpx
import pytest

from namoid.crypto.certificates import PinnedCertificate
from namoid.kyc import service as kyc
from namoid.services import Services
from namoid.settings import Settings
from namoid.storage.models import Organization
from tests import kyc_fixtures as fx
from tests.conftest import Backend
from tests.features.account.conftest import ConsoleBrowser
from tests.features.authorize.conftest import Flow, new_flow
from tests.features.conftest import ADMIN, MakeClient, MakeUser


@cache
def expired_signer() -> fx.Signer:
    """Pinned, but its validity ended two days before any synthetic file was generated."""
    now = datetime.now(UTC)
    return fx.make_signer(now - timedelta(days=400), now - timedelta(days=2))


@pytest.fixture
def pinned() -> list[PinnedCertificate]:
    return [fx.current_signer().pinned, expired_signer().pinned]


@pytest.fixture
def settings(
    backend: Backend, tmp_path: Path, keyring_file: Path, pinned: list[PinnedCertificate]
) -> Settings:
    certs = tmp_path / "uidai-test-certs"
    certs.mkdir()
    for index, cert in enumerate(pinned):
        (certs / f"test_signer_{index}.pem").write_text(cert.pem)
    return Settings(
        database_url=backend.app_url,
        data_dir=tmp_path / "data",
        keyring_file=keyring_file,
        dev_mode=False,
        kyc_uidai_certs_dir=certs,
    )


@pytest.fixture
async def kyc_org(services: Services, org: Organization) -> Organization:
    await kyc.set_policy(services.db, org.id, True, 3, ADMIN)
    return org


@pytest.fixture
async def signed_in(
    http: httpx.AsyncClient, services: Services, kyc_org: Organization, make_client: MakeClient,
    make_user: MakeUser,
) -> Flow:  # fmt: skip
    """A browser signed in to ``kyc_org``'s account console as a user whose profile name is the
    synthetic name."""
    flow = await new_flow(http, services, kyc_org, make_client, lambda: make_user(name=fx.NAME))
    await flow.sign_in_and_allow()
    assert (await ConsoleBrowser(http, services, kyc_org, flow.user).open()).status_code == 200
    return flow
