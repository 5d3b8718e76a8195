"""Per-org token lifetimes (issue: "Lifetimes configurable per org")."""

from __future__ import annotations

import httpx
import pytest

from namoid.jose.jwt import unverified_claims
from namoid.services import Services
from namoid.storage.models import Organization
from namoid.tenancy import organizations
from tests.features.conftest import ADMIN, MakeClient


async def test_access_token_lifetime_follows_the_org(
    services: Services, org: Organization, make_client: MakeClient, http: httpx.AsyncClient
) -> None:
    await organizations.set_lifetimes(services.db, org.slug, {"access_token_ttl": 300}, ADMIN)
    client = await make_client(grant_types=["client_credentials"], redirect_uris=[], scopes=["api"])
    assert client.secret is not None
    response = await http.post(
        f"/o/{org.slug}/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, client.secret),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    claims = unverified_claims(body["access_token"])
    assert body["expires_in"] == 300 and claims["exp"] - claims["iat"] == 300


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"access_token_ttl": 5}, "between"),
        ({"code_ttl": 100000}, "between"),
        ({"refresh_idle_ttl": 40 * 86400, "refresh_token_ttl": 7 * 86400}, "cannot exceed"),
    ],
)
async def test_out_of_range_lifetimes_are_refused(
    services: Services, org: Organization, changes: dict[str, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await organizations.set_lifetimes(services.db, org.slug, changes, ADMIN)
    unchanged = await organizations.require(services.db, org.slug)
    assert unchanged.access_token_ttl == 600 and unchanged.code_ttl == 60
