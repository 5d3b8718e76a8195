"""Token introspection (RFC 7662)."""

from __future__ import annotations

import httpx

from namoid.services import Services
from namoid.storage.models import Organization, User
from namoid.tenancy import organizations
from tests.features.conftest import ADMIN, MakeClient, RegisteredClient
from tests.features.token.conftest import exchange, issue_code, issuer, post


async def _tokens(
    http: httpx.AsyncClient, services: Services, org: Organization, client: RegisteredClient, user: User
) -> dict[str, str]:
    code, verifier = await issue_code(
        services, org, client.client_id, user, scope="openid email offline_access"
    )
    body: dict[str, str] = (await exchange(http, org, client, code, verifier)).json()
    return body


async def test_own_access_token_is_active(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    tokens = await _tokens(http, services, org, web_app, user)
    response = await post(http, org, "introspect", {"token": tokens["access_token"]}, web_app)
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    body = response.json()
    iss = issuer(services, org)
    assert body["active"] is True
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "openid email offline_access"
    assert body["client_id"] == web_app.client_id
    assert body["sub"] == str(user.id)
    assert body["iss"] == iss and body["aud"] == iss
    assert body["exp"] - body["iat"] == org.access_token_ttl
    assert body["jti"]
    assert "username" not in body


async def test_own_refresh_token_is_active_until_used(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    tokens = await _tokens(http, services, org, web_app, user)
    body = (
        await post(
            http,
            org,
            "introspect",
            {"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
            web_app,
        )
    ).json()
    assert body["active"] is True and body["client_id"] == web_app.client_id
    assert body["sub"] == str(user.id) and body["scope"] == "openid email offline_access"
    assert "token_type" not in body
    await post(
        http, org, "token", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, web_app
    )
    used = await post(http, org, "introspect", {"token": tokens["refresh_token"]}, web_app)
    assert used.json() == {"active": False}


async def test_other_clients_tokens_are_inactive_unless_privileged(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    web_app: RegisteredClient,
    make_client: MakeClient,
    user: User,
) -> None:
    tokens = await _tokens(http, services, org, web_app, user)
    other = await make_client()
    resource_server = await make_client(introspect_any=True)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert (await post(http, org, "introspect", {"token": token}, other)).json() == {"active": False}
        assert (await post(http, org, "introspect", {"token": token}, resource_server)).json()[
            "active"
        ] is True


async def test_public_clients_may_not_introspect(
    http: httpx.AsyncClient, org: Organization, spa: RegisteredClient
) -> None:
    response = await post(http, org, "introspect", {"token": "x"}, spa)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic realm=")


async def test_other_orgs_tokens_are_inactive(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    web_app: RegisteredClient,
    make_client: MakeClient,
    user: User,
) -> None:
    tokens = await _tokens(http, services, org, web_app, user)
    other_org = await organizations.create(services.db, services.keyring, f"i-{org.slug}", None, ADMIN)
    privileged = await make_client(other_org, introspect_any=True)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert (await post(http, other_org, "introspect", {"token": token}, privileged)).json() == {
            "active": False
        }


async def test_unknown_revoked_and_missing(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    assert (await post(http, org, "introspect", {"token": "garbage"}, web_app)).json() == {"active": False}
    tokens = await _tokens(http, services, org, web_app, user)
    await post(http, org, "revoke", {"token": tokens["access_token"]}, web_app)
    assert (await post(http, org, "introspect", {"token": tokens["access_token"]}, web_app)).json() == {
        "active": False
    }
    missing = await post(http, org, "introspect", {}, web_app)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


async def test_client_credentials_token(
    http: httpx.AsyncClient, org: Organization, service_client: RegisteredClient
) -> None:
    token = (await post(http, org, "token", {"grant_type": "client_credentials"}, service_client)).json()
    body = (await post(http, org, "introspect", {"token": token["access_token"]}, service_client)).json()
    assert body["active"] is True and body["sub"] == service_client.client_id
