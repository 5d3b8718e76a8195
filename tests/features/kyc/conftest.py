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
from namoid.kyc import trust
from namoid.services import Services
from namoid.settings import Settings
from namoid.storage.models import Organization
from tests import kyc_fixtures as fx
from tests.conftest import Backend
from tests.features.account.conftest import ConsoleBrowser
from tests.features.authorize.conftest import REDIRECT_URI, Flow, new_flow
from tests.features.conftest import ADMIN, MakeClient, MakeUser


@cache
def expired_signer() -> fx.Signer:
    """Pinned, but its validity ended a day more than the grace before any synthetic file."""
    end = datetime.now(UTC) - trust.EXPIRED_SIGNER_GRACE - timedelta(days=1)
    return fx.make_signer(end - timedelta(days=700), end, cn="DS TEST Signer Expired 98")


@cache
def lapsed_signer() -> fx.Signer:
    """Pinned; its validity ended two days before any synthetic file: within the grace."""
    now = datetime.now(UTC)
    return fx.make_signer(now - timedelta(days=700), now - timedelta(days=2), cn="DS TEST Signer Lapsed 97")


@cache
def future_signer() -> fx.Signer:
    """Pinned; valid only from tomorrow, after any synthetic file's generation time."""
    now = datetime.now(UTC)
    return fx.make_signer(now + timedelta(days=1), now + timedelta(days=700), cn="DS TEST Signer Future 96")


@pytest.fixture
def pinned() -> list[PinnedCertificate]:
    return [fx.current_signer().pinned, *(s().pinned for s in (expired_signer, lapsed_signer, future_signer))]


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


@pytest.fixture
async def user_flow(
    http: httpx.AsyncClient, services: Services, kyc_org: Organization, make_client: MakeClient,
    make_user: MakeUser,
) -> Flow:  # fmt: skip
    """A user of ``kyc_org`` whose profile name is the synthetic name, and a relying party that
    may ask for the ``kyc`` scope (not first-party: the user sees NamoID's consent screen)."""
    flow = await new_flow(http, services, kyc_org, make_client, lambda: make_user(name=fx.NAME))
    rp = await make_client(redirect_uris=[REDIRECT_URI], scopes=["openid", "profile", "kyc"])
    return Flow(http, services, kyc_org, rp, flow.user, flow.verifier, flow.challenge)
