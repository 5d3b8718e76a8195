"""The client_credentials grant (RFC 6749 §4.4)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from namoid.jose import jwt
from namoid.services import Services
from namoid.storage.models import AccessToken, Organization
from tests.features.conftest import MakeClient, RegisteredClient
from tests.features.token.conftest import issuer, post, published

CC = {"grant_type": "client_credentials"}


async def test_issues_an_access_token_for_the_client_itself(
    http: httpx.AsyncClient, services: Services, org: Organization, service_client: RegisteredClient
) -> None:
    response = await post(http, org, "token", CC, service_client)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store" and response.headers["pragma"] == "no-cache"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}  # no id/refresh token
    assert body["scope"] == "api.read api.write"  # the client's scopes minus openid
    iss = issuer(services, org)
    claims = jwt.verify(
        body["access_token"], await published(services, org), issuer=iss, audience=iss, typ="at+jwt"
    )
    assert claims["sub"] == service_client.client_id == claims["client_id"]
    assert claims["scope"] == "api.read api.write"
    assert "auth_time" not in claims and "amr" not in claims


async def test_scope_down_is_allowed(
    http: httpx.AsyncClient, org: Organization, service_client: RegisteredClient
) -> None:
    response = await post(http, org, "token", {**CC, "scope": "api.read"}, service_client)
    assert response.json()["scope"] == "api.read"


@pytest.mark.parametrize(
    "scope", ["api.admin", "api.read api.admin", "openid", "offline_access", 'bad"scope']
)
async def test_scope_beyond_the_client_is_invalid_scope(
    http: httpx.AsyncClient, org: Organization, service_client: RegisteredClient, scope: str
) -> None:
    response = await post(http, org, "token", {**CC, "scope": scope}, service_client)
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"


async def test_client_without_the_grant_is_unauthorized(
    http: httpx.AsyncClient, org: Organization, web_app: RegisteredClient, spa: RegisteredClient
) -> None:
    for client in (web_app, spa):
        response = await post(http, org, "token", CC, client)
        assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"


async def test_one_access_token_row_per_request(
    http: httpx.AsyncClient, services: Services, org: Organization, make_client: MakeClient
) -> None:
    client = await make_client(grant_types=["client_credentials"], redirect_uris=[], scopes=["a"])
    for _ in range(3):
        assert (await post(http, org, "token", CC, client)).status_code == 200
    async with services.db.tenant(org.id) as session:
        count = await session.scalar(
            select(func.count()).select_from(AccessToken).where(AccessToken.org_id == org.id)
        )
    assert count == 3
