"""Token revocation (RFC 7009)."""

from __future__ import annotations

import httpx
import pytest

from namoid.services import Services
from namoid.storage.models import Organization, User
from tests.features.conftest import MakeClient, RegisteredClient
from tests.features.token.conftest import audit_rows, exchange, issue_code, post


async def _tokens(
    http: httpx.AsyncClient, services: Services, org: Organization, client: RegisteredClient, user: User
) -> dict[str, str]:
    code, verifier = await issue_code(services, org, client.client_id, user, scope="openid offline_access")
    body: dict[str, str] = (await exchange(http, org, client, code, verifier)).json()
    return body


async def _active(http: httpx.AsyncClient, org: Organization, client: RegisteredClient, token: str) -> bool:
    active: bool = (await post(http, org, "introspect", {"token": token}, client)).json()["active"]
    return active


@pytest.mark.parametrize("hint", [None, "refresh_token", "access_token", "something_else"])
async def test_revoking_a_refresh_token_kills_its_family_and_access_tokens(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    web_app: RegisteredClient,
    user: User,
    hint: str | None,
) -> None:
    first = await _tokens(http, services, org, web_app, user)
    second = (
        await post(
            http,
            org,
            "token",
            {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
            web_app,
        )
    ).json()
    data = {"token": second["refresh_token"]}
    if hint is not None:
        data["token_type_hint"] = hint
    response = await post(http, org, "revoke", data, web_app)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    for token in (first["access_token"], second["access_token"], second["refresh_token"]):
        assert not await _active(http, org, web_app, token)
    refreshed = await post(
        http, org, "token", {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}, web_app
    )
    assert refreshed.json()["error"] == "invalid_grant"
    rows = await audit_rows(services, org, "token.revoked")
    assert rows[0].target_type == "refresh_family" and rows[0].detail["revoked_access"] == 2


async def test_revoking_an_access_token(
    http: httpx.AsyncClient, services: Services, org: Organization, spa: RegisteredClient, user: User
) -> None:
    tokens = await _tokens(http, services, org, spa, user)
    response = await post(
        http, org, "revoke", {"token": tokens["access_token"], "token_type_hint": "access_token"}, spa
    )
    assert response.status_code == 200
    info = await http.get(
        f"/o/{org.slug}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert info.status_code == 401
    # The refresh token lives on (RFC 7009 §2.1 makes revoking it optional).
    refreshed = await post(
        http, org, "token", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, spa
    )
    assert refreshed.status_code == 200
    rows = await audit_rows(services, org, "token.revoked")
    assert rows[0].target_type == "access_token"


async def test_tokens_of_other_clients_are_untouched_but_answer_200(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    web_app: RegisteredClient,
    make_client: MakeClient,
    user: User,
) -> None:
    tokens = await _tokens(http, services, org, web_app, user)
    other = await make_client()
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert (await post(http, org, "revoke", {"token": token}, other)).status_code == 200
        assert await _active(http, org, web_app, token)
    rows = await audit_rows(services, org, "token.revocation_refused")
    assert len(rows) == 2 and all(row.outcome == "denied" for row in rows)


@pytest.mark.parametrize("token", ["unknown", "a.b.c", "x" * 2000])
async def test_unknown_tokens_answer_200(
    http: httpx.AsyncClient, org: Organization, web_app: RegisteredClient, token: str
) -> None:
    assert (await post(http, org, "revoke", {"token": token}, web_app)).status_code == 200


async def test_revocation_requires_client_authentication_and_a_token(
    http: httpx.AsyncClient, org: Organization, web_app: RegisteredClient
) -> None:
    unauthenticated = await http.post(f"/o/{org.slug}/revoke", data={"token": "x"})
    assert unauthenticated.status_code == 401 and unauthenticated.json()["error"] == "invalid_client"
    assert "www-authenticate" in unauthenticated.headers
    missing = await post(http, org, "revoke", {}, web_app)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


async def test_public_clients_revoke_with_their_client_id(
    http: httpx.AsyncClient, services: Services, org: Organization, spa: RegisteredClient, user: User
) -> None:
    tokens = await _tokens(http, services, org, spa, user)
    assert (await post(http, org, "revoke", {"token": tokens["refresh_token"]}, spa)).status_code == 200
    refreshed = await post(
        http, org, "token", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, spa
    )
    assert refreshed.json()["error"] == "invalid_grant"
