"""The refresh_token grant: rotation in a family, replay detection, scope rules (RFC 6749 §6)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest

from namoid.crypto.secrets import sha256_hex
from namoid.services import Services
from namoid.storage.models import Organization, User, utcnow
from namoid.storage.repos import refresh_tokens
from namoid.tenancy import organizations
from tests.features.conftest import ADMIN, MakeClient, RegisteredClient
from tests.features.token.conftest import (
    age_first_use,
    audit_rows,
    code_tokens,
    post,
    refresh,
)


async def _userinfo_status(http: httpx.AsyncClient, org: Organization, access_token: str) -> int:
    response = await http.get(f"/o/{org.slug}/userinfo", headers={"Authorization": f"Bearer {access_token}"})
    return response.status_code


async def test_rotation_issues_a_new_token_each_time(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    first = await code_tokens(http, services, org, web_app, user)
    seen = {first["refresh_token"]}
    token = first["refresh_token"]
    for _ in range(3):
        response = await refresh(http, org, web_app, token)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert body["refresh_token"] not in seen
        assert body["scope"] == "openid profile email offline_access"
        assert body["id_token"] and "nonce" not in body
        seen.add(body["refresh_token"])
        token = body["refresh_token"]
        assert await _userinfo_status(http, org, body["access_token"]) == 200


async def test_replay_revokes_the_family_and_its_access_tokens(
    http: httpx.AsyncClient, services: Services, org: Organization, spa: RegisteredClient, user: User
) -> None:
    first = await code_tokens(http, services, org, spa, user)
    second = (await refresh(http, org, spa, first["refresh_token"])).json()
    await age_first_use(services, org, first["refresh_token"], 60)  # past any reuse window
    replay = await refresh(http, org, spa, first["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # Everything of the family is dead: the newest refresh token and every access token.
    assert (await refresh(http, org, spa, second["refresh_token"])).json()["error"] == "invalid_grant"
    for access in (first["access_token"], second["access_token"]):
        assert await _userinfo_status(http, org, access) == 401
    rows = await audit_rows(services, org, "refresh_token.replayed")
    assert len(rows) == 1 and rows[0].outcome == "denied"
    async with services.db.tenant(org.id) as session:
        found = await refresh_tokens.find(session, org.id, sha256_hex(first["refresh_token"]))
    assert found is not None and rows[0].detail["family"] == str(found[1].id)
    assert found[1].revoked_reason == "replayed"


async def test_concurrent_use_lets_exactly_one_rotate(
    http: httpx.AsyncClient, services: Services, org: Organization, make_client: MakeClient, user: User
) -> None:
    """Without a reuse window the loser is a replay; with one it gets the winner's answer."""
    for window, statuses in ((0, [200, 400]), (30, [200, 200])):
        client = await make_client(
            grant_types=["authorization_code", "refresh_token"],
            scopes=["openid", "offline_access"],
            refresh_reuse_window=window,
        )
        first = await code_tokens(http, services, org, client, user, scope="openid offline_access")
        results = await asyncio.gather(
            *(refresh(http, org, client, first["refresh_token"]) for _ in range(2))
        )
        assert sorted(r.status_code for r in results) == statuses
    assert len(await audit_rows(services, org, "refresh_token.rotated")) == 2


async def test_scope_down_and_back_up_to_the_original(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    first = await code_tokens(http, services, org, web_app, user)
    narrowed = (await refresh(http, org, web_app, first["refresh_token"], scope="openid email")).json()
    assert narrowed["scope"] == "openid email"
    widened = (await refresh(http, org, web_app, narrowed["refresh_token"], scope="openid profile")).json()
    assert widened["scope"] == "openid profile"  # still within the original grant


@pytest.mark.parametrize("scope", ["openid phone", "admin", "openid offline_access api"])
async def test_scope_up_is_invalid_scope(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    web_app: RegisteredClient,
    user: User,
    scope: str,
) -> None:
    first = await code_tokens(http, services, org, web_app, user)
    response = await refresh(http, org, web_app, first["refresh_token"], scope=scope)
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"
    # The refused request did not consume the token.
    assert (await refresh(http, org, web_app, first["refresh_token"])).status_code == 200


async def test_refresh_refusals_are_all_invalid_grant(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    web_app: RegisteredClient,
    make_client: MakeClient,
    user: User,
) -> None:
    first = await code_tokens(http, services, org, web_app, user)
    other = await make_client(grant_types=["authorization_code", "refresh_token"])
    other_org = await organizations.create(services.db, services.keyring, f"x-{org.slug}", None, ADMIN)
    same_id_elsewhere = await make_client(other_org, grant_types=["authorization_code", "refresh_token"])
    for client, target, token in (
        (web_app, org, "garbage"),
        (web_app, org, first["access_token"]),
        (other, org, first["refresh_token"]),
        (same_id_elsewhere, other_org, first["refresh_token"]),
    ):
        response = await refresh(http, target, client, token)
        assert response.status_code == 400 and response.json() == {
            "error": "invalid_grant",
            "error_description": "the refresh token is invalid, expired or revoked",
        }
    assert (await refresh(http, org, web_app, first["refresh_token"])).status_code == 200


async def test_expired_token_is_invalid_grant(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    first = await code_tokens(http, services, org, web_app, user)
    async with services.db.tenant(org.id) as session:
        found = await refresh_tokens.find(session, org.id, sha256_hex(first["refresh_token"]))
        assert found is not None
        found[0].expires_at = utcnow() - timedelta(seconds=1)
    assert (await refresh(http, org, web_app, first["refresh_token"])).json()["error"] == "invalid_grant"


async def test_tokens_never_outlive_the_family(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    first = await code_tokens(http, services, org, web_app, user)
    async with services.db.tenant(org.id) as session:
        found = await refresh_tokens.find(session, org.id, sha256_hex(first["refresh_token"]))
        assert found is not None
        token, family = found
        assert token.expires_at == min(
            family.created_at + timedelta(seconds=org.refresh_idle_ttl), family.expires_at
        )
        assert family.expires_at - family.created_at == timedelta(seconds=org.refresh_token_ttl)
        family.expires_at = utcnow() - timedelta(seconds=1)
    assert (await refresh(http, org, web_app, first["refresh_token"])).json()["error"] == "invalid_grant"


async def test_revoked_family_and_disabled_user_are_invalid_grant(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    first = await code_tokens(http, services, org, web_app, user)
    revoked = await post(http, org, "revoke", {"token": first["refresh_token"]}, web_app)
    assert revoked.status_code == 200
    assert (await refresh(http, org, web_app, first["refresh_token"])).json()["error"] == "invalid_grant"

    second = await code_tokens(http, services, org, web_app, user)
    async with services.db.tenant(org.id) as session:
        row = await session.get(User, user.id)
        assert row is not None
        row.status = "disabled"
    assert (await refresh(http, org, web_app, second["refresh_token"])).json()["error"] == "invalid_grant"


async def test_missing_refresh_token_is_invalid_request(
    http: httpx.AsyncClient, org: Organization, web_app: RegisteredClient
) -> None:
    response = await post(http, org, "token", {"grant_type": "refresh_token"}, web_app)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


async def test_client_without_refresh_is_unauthorized(
    http: httpx.AsyncClient, org: Organization, make_client: MakeClient
) -> None:
    client = await make_client(grant_types=["authorization_code"])
    response = await post(http, org, "token", {"grant_type": "refresh_token", "refresh_token": "x"}, client)
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"
