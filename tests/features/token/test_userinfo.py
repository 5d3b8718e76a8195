"""UserInfo (OIDC Core §5.3) with bearer tokens (RFC 6750)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import httpx
import pytest

from namoid.jose import jwt
from namoid.oauth import tokens
from namoid.services import Services
from namoid.storage.models import Organization, User, utcnow
from namoid.tenancy import organizations
from tests.features.conftest import ADMIN, MakeClient, RegisteredClient
from tests.features.token.conftest import exchange, issue_code, issuer, post


async def _access_token(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    client: RegisteredClient,
    user: User,
    scope: str = "openid profile email phone",
) -> str:
    code, verifier = await issue_code(services, org, client.client_id, user, scope=scope)
    response = await exchange(http, org, client, code, verifier)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _challenge(response: httpx.Response) -> str:
    return response.headers["www-authenticate"]


async def test_claims_follow_the_scopes(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    token = await _access_token(http, services, org, web_app, user)
    response = await http.get(f"/o/{org.slug}/userinfo", headers=_bearer(token))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["sub"] == str(user.id)
    assert body["name"] == "Test User" and isinstance(body["updated_at"], int)
    assert body["email"] == user.email and body["email_verified"] is False
    assert body["phone_number"] == "+919812345678" and body["phone_number_verified"] is False

    only_openid = await _access_token(http, services, org, web_app, user, scope="openid")
    assert (await http.get(f"/o/{org.slug}/userinfo", headers=_bearer(only_openid))).json() == {
        "sub": str(user.id)
    }


async def test_post_with_header_or_form_body(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    token = await _access_token(http, services, org, web_app, user)
    by_header = await http.post(f"/o/{org.slug}/userinfo", headers=_bearer(token))
    assert by_header.status_code == 200
    by_form = await http.post(f"/o/{org.slug}/userinfo", data={"access_token": token})
    assert by_form.status_code == 200 and by_form.json()["sub"] == str(user.id)
    both = await http.post(f"/o/{org.slug}/userinfo", data={"access_token": token}, headers=_bearer(token))
    assert both.status_code == 400 and 'error="invalid_request"' in _challenge(both)


async def test_token_in_the_query_string_is_refused(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    token = await _access_token(http, services, org, web_app, user)
    response = await http.get(f"/o/{org.slug}/userinfo", params={"access_token": token})
    assert response.status_code == 400 and 'error="invalid_request"' in _challenge(response)


async def test_missing_token_is_a_bare_challenge(
    http: httpx.AsyncClient, services: Services, org: Organization
) -> None:
    for headers in ({}, {"Authorization": "Basic Zm9vOmJhcg=="}):
        response = await http.get(f"/o/{org.slug}/userinfo", headers=headers)
        assert response.status_code == 401
        assert _challenge(response) == f'Bearer realm="{issuer(services, org)}"'


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("attack", ["tampered", "alg_none", "garbage", "revoked", "expired", "wrong_typ"])
async def test_bad_tokens_are_invalid_token(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    web_app: RegisteredClient,
    user: User,
    attack: str,
) -> None:
    token = await _access_token(http, services, org, web_app, user)
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    if attack == "tampered":
        claims["sub"] = "someone-else"
        token = f"{head}.{_b64(json.dumps(claims).encode())}.{sig}"
    elif attack == "alg_none":
        none_header = _b64(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
        token = f"{none_header}.{payload}."
    elif attack == "garbage":
        token = "not.a.token"
    elif attack == "revoked":
        assert (await post(http, org, "revoke", {"token": token}, web_app)).status_code == 200
    elif attack == "expired":
        key = (await services.signing.for_org(org)).signer("RS256")
        async with services.db.tenant(org.id) as session:
            token = await tokens.mint_access_token(
                session,
                org,
                issuer(services, org),
                key,
                tokens.Grant(
                    client_id=web_app.client_id, scope="openid", user_id=user.id, auth_time=utcnow()
                ),
                utcnow() - timedelta(hours=1),
            )
    elif attack == "wrong_typ":
        key = (await services.signing.for_org(org)).signer("RS256")
        token = jwt.sign(claims, key, typ="JWT")  # e.g. an ID token presented as an access token
    response = await http.get(f"/o/{org.slug}/userinfo", headers=_bearer(token))
    assert response.status_code == 401, attack
    challenge = _challenge(response)
    assert challenge.startswith(f'Bearer realm="{issuer(services, org)}", error="invalid_token"')
    assert "error_description=" in challenge


async def test_id_token_is_not_an_access_token(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    code, verifier = await issue_code(services, org, web_app.client_id, user)
    id_token = (await exchange(http, org, web_app, code, verifier)).json()["id_token"]
    response = await http.get(f"/o/{org.slug}/userinfo", headers=_bearer(id_token))
    assert response.status_code == 401


async def test_token_of_another_org_is_invalid(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    web_app: RegisteredClient,
    user: User,
) -> None:
    other = await organizations.create(services.db, services.keyring, f"u-{org.slug}", None, ADMIN)
    token = await _access_token(http, services, org, web_app, user)
    response = await http.get(f"/o/{other.slug}/userinfo", headers=_bearer(token))
    assert response.status_code == 401 and 'error="invalid_token"' in _challenge(response)


async def test_without_openid_is_insufficient_scope(
    http: httpx.AsyncClient, services: Services, org: Organization, make_client: MakeClient
) -> None:
    machine = await make_client(grant_types=["client_credentials"], redirect_uris=[], scopes=["api"])
    token = (await post(http, org, "token", {"grant_type": "client_credentials"}, machine)).json()[
        "access_token"
    ]
    response = await http.get(f"/o/{org.slug}/userinfo", headers=_bearer(token))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in _challenge(response)
    assert response.json()["error"] == "insufficient_scope"


@pytest.mark.parametrize("change", ["disabled", "deleted"])
async def test_disabled_or_deleted_user_is_invalid_token(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    web_app: RegisteredClient,
    user: User,
    change: str,
) -> None:
    token = await _access_token(http, services, org, web_app, user)
    async with services.db.tenant(org.id) as session:
        row = await session.get(User, user.id)
        assert row is not None
        if change == "disabled":
            row.status = "disabled"
        else:
            row.deleted_at = utcnow()
    response = await http.get(f"/o/{org.slug}/userinfo", headers=_bearer(token))
    assert response.status_code == 401 and 'error="invalid_token"' in _challenge(response)
