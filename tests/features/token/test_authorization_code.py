"""The authorization_code grant: success, PKCE, replay, binding to client/org/redirect, expiry."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import httpx
import pytest

from namoid.crypto.secrets import sha256_hex
from namoid.jose import jwt
from namoid.services import Services
from namoid.storage.models import Organization, User, utcnow
from namoid.storage.repos import authorization_codes
from namoid.tenancy import organizations
from tests.features.conftest import ADMIN, MakeClient, MakeUser, RegisteredClient
from tests.features.token.conftest import (
    NONCE,
    REDIRECT,
    exchange,
    issue_code,
    issuer,
    post,
    published,
    sign_in,
)


async def test_code_exchange_issues_verifiable_tokens(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    browser = await sign_in(services, org, user)
    code, verifier = await issue_code(
        services, org, web_app.client_id, user, scope="openid profile", sid=browser.sid
    )
    response = await exchange(http, org, web_app, code, verifier)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == org.access_token_ttl
    assert body["scope"] == "openid profile"
    assert "refresh_token" not in body  # no offline_access, client not configured for refresh

    iss, keys = issuer(services, org), await published(services, org)
    access = jwt.verify(body["access_token"], keys, issuer=iss, audience=iss, typ="at+jwt")
    assert jwt.unverified_header(body["access_token"])["typ"] == "at+jwt"
    assert access["sub"] == str(user.id)
    assert access["client_id"] == web_app.client_id
    assert access["scope"] == "openid profile"
    assert access["exp"] - access["iat"] == org.access_token_ttl
    assert access["amr"] == ["pwd"] and isinstance(access["auth_time"], int)
    assert len(access["jti"]) >= 22

    id_token = jwt.verify(body["id_token"], keys, issuer=iss, audience=web_app.client_id, typ="JWT")
    assert id_token["sub"] == str(user.id)
    assert id_token["azp"] == web_app.client_id
    assert id_token["nonce"] == NONCE
    assert id_token["sid"] == browser.sid
    assert id_token["amr"] == ["pwd"]
    assert "acr" not in id_token
    digest = hashlib.sha256(body["access_token"].encode()).digest()[:16]
    assert id_token["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert id_token["exp"] - id_token["iat"] == org.id_token_ttl


async def test_public_client_redeems_with_pkce_alone(
    http: httpx.AsyncClient, services: Services, org: Organization, spa: RegisteredClient, user: User
) -> None:
    code, verifier = await issue_code(services, org, spa.client_id, user, scope="openid offline_access")
    response = await exchange(http, org, spa, code, verifier)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["refresh_token"] and body["id_token"]


async def test_no_id_token_without_openid(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    code, verifier = await issue_code(services, org, web_app.client_id, user, scope="profile", nonce=None)
    body = (await exchange(http, org, web_app, code, verifier)).json()
    assert "id_token" not in body and body["scope"] == "profile"


async def test_id_token_uses_the_clients_algorithm(
    http: httpx.AsyncClient, services: Services, org: Organization, make_client: MakeClient, user: User
) -> None:
    await published(services, org)  # the key cache is warm before the client's ES256 key exists
    client = await make_client(id_token_alg="ES256")
    code, verifier = await issue_code(services, org, client.client_id, user)
    body = (await exchange(http, org, client, code, verifier)).json()
    assert jwt.unverified_header(body["id_token"])["alg"] == "ES256"
    assert jwt.unverified_header(body["access_token"])["alg"] == "RS256"
    keys = await published(services, org)
    jwt.verify(body["id_token"], keys, issuer=issuer(services, org), audience=client.client_id)


@pytest.mark.parametrize(
    ("verifier", "error"),
    [
        (None, "invalid_request"),
        ("x" * 43, "invalid_grant"),
        ("short", "invalid_request"),
        ("a" * 129, "invalid_request"),
        ("a" * 42 + "!", "invalid_request"),
        ("a" * 42 + "é", "invalid_request"),
    ],
)
async def test_pkce_verifier_is_required_well_formed_and_matching(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    web_app: RegisteredClient,
    user: User,
    verifier: str | None,
    error: str,
) -> None:
    code, good = await issue_code(services, org, web_app.client_id, user)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    if verifier is not None:
        data["code_verifier"] = verifier
    response = await post(http, org, "token", data, web_app)
    assert response.status_code == 400
    assert response.json()["error"] == error
    # A failed verifier does not burn the code: the real client still redeems it.
    assert (await exchange(http, org, web_app, code, good)).status_code == 200


async def test_replayed_code_is_refused_and_revokes_what_it_issued(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    code, verifier = await issue_code(services, org, web_app.client_id, user, scope="openid offline_access")
    first = (await exchange(http, org, web_app, code, verifier)).json()
    rotated = await post(
        http, org, "token", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, web_app
    )
    assert rotated.status_code == 200

    second = await exchange(http, org, web_app, code, verifier)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"

    for access in (first["access_token"], rotated.json()["access_token"]):
        info = await http.get(f"/o/{org.slug}/userinfo", headers={"Authorization": f"Bearer {access}"})
        assert info.status_code == 401
        introspected = await post(http, org, "introspect", {"token": access}, web_app)
        assert introspected.json() == {"active": False}
    refreshed = await post(
        http,
        org,
        "token",
        {"grant_type": "refresh_token", "refresh_token": rotated.json()["refresh_token"]},
        web_app,
    )
    assert refreshed.json()["error"] == "invalid_grant"


async def test_code_of_another_client_is_refused(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    web_app: RegisteredClient,
    make_client: MakeClient,
    user: User,
) -> None:
    other = await make_client()
    code, verifier = await issue_code(services, org, web_app.client_id, user)
    response = await exchange(http, org, other, code, verifier)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert (await exchange(http, org, web_app, code, verifier)).status_code == 200


async def test_code_of_org_a_is_refused_at_org_b(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    web_app: RegisteredClient,
    user: User,
) -> None:
    other_org = await organizations.create(services.db, services.keyring, f"b-{org.slug}", None, ADMIN)
    code, verifier = await issue_code(services, org, web_app.client_id, user)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    response = await post(http, other_org, "token", data, web_app)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


async def test_code_of_org_a_is_refused_for_the_same_client_id_at_org_b(
    http: httpx.AsyncClient, services: Services, org: Organization, make_client: MakeClient, user: User
) -> None:
    """Even a client of org B that presents a code of org A finds nothing: lookups are org-scoped."""
    other_org = await organizations.create(services.db, services.keyring, f"b-{org.slug}", None, ADMIN)
    client_b = await make_client(other_org)
    code, verifier = await issue_code(services, org, client_b.client_id, user)  # bound to B's client id
    response = await exchange(http, other_org, client_b, code, verifier)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_expired_code_is_refused(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    code, verifier = await issue_code(services, org, web_app.client_id, user)
    async with services.db.tenant(org.id) as session:
        row = await authorization_codes.find(session, org.id, sha256_hex(code))
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
    response = await exchange(http, org, web_app, code, verifier)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://rp.example/callback/",
        "https://rp.example/callback?x=1",
        "https://RP.example/callback",
        "http://rp.example/callback",
        "https://rp.example:443/callback",
    ],
)
async def test_redirect_uri_must_match_exactly(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    web_app: RegisteredClient,
    user: User,
    redirect_uri: str,
) -> None:
    code, verifier = await issue_code(services, org, web_app.client_id, user)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    response = await post(http, org, "token", data, web_app)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_missing_code_or_redirect_uri_is_invalid_request(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    code, verifier = await issue_code(services, org, web_app.client_id, user)
    for missing in ("code", "redirect_uri"):
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        }
        del data[missing]
        response = await post(http, org, "token", data, web_app)
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"


async def test_unknown_code_is_invalid_grant(
    http: httpx.AsyncClient, org: Organization, web_app: RegisteredClient
) -> None:
    data = {
        "grant_type": "authorization_code",
        "code": "nope",
        "redirect_uri": REDIRECT,
        "code_verifier": "a" * 43,
    }
    response = await post(http, org, "token", data, web_app)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_disabled_user_gets_no_tokens(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    code, verifier = await issue_code(services, org, web_app.client_id, user)
    async with services.db.tenant(org.id) as session:
        row = await session.get(User, user.id)
        assert row is not None
        row.status = "disabled"
    response = await exchange(http, org, web_app, code, verifier)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_client_without_the_grant_is_unauthorized(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    make_client: MakeClient,
    make_user: MakeUser,
) -> None:
    client = await make_client(grant_types=["client_credentials"], redirect_uris=[])
    code, verifier = await issue_code(services, org, client.client_id, await make_user())
    response = await exchange(http, org, client, code, verifier)
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"


@pytest.mark.parametrize(
    ("fields", "scope", "expect_refresh"),
    [
        ({"grant_types": ["authorization_code", "refresh_token"]}, "openid offline_access", True),
        ({"grant_types": ["authorization_code", "refresh_token"]}, "openid", False),
        ({"grant_types": ["authorization_code"]}, "openid offline_access", False),
        ({"grant_types": ["authorization_code"], "refresh_tokens": True}, "openid", True),
    ],
)
async def test_refresh_token_issuance_rules(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    make_client: MakeClient,
    user: User,
    fields: dict[str, object],
    scope: str,
    expect_refresh: bool,
) -> None:
    client = await make_client(scopes=["openid", "offline_access"], **fields)
    code, verifier = await issue_code(services, org, client.client_id, user, scope=scope)
    body = (await exchange(http, org, client, code, verifier)).json()
    assert ("refresh_token" in body) is expect_refresh
