"""KYC feature fixtures: an org with offline KYC on, the synthetic test signer pinned."""

from __future__ import annotations

import pytest

from namoid.crypto.certificates import PinnedCertificate
from namoid.kyc import service as kyc
from namoid.services import Services
from namoid.storage.models import Organization
from tests import kyc_fixtures as fx
from tests.features.conftest import ADMIN


@pytest.fixture
def pinned() -> list[PinnedCertificate]:
    return [fx.current_signer().pinned]


@pytest.fixture
async def kyc_org(services: Services, org: Organization) -> Organization:
    await kyc.set_policy(services.db, org.id, True, 3, ADMIN)
    return org
