"""Client authentication at the token endpoint: basic, post, private_key_jwt, none (RFC 6749 §2.3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from namoid.app import create_public_app
from namoid.crypto.keyring import Keyring
from namoid.crypto.secrets import new_token
from namoid.jose import jwt
from namoid.jose.keys import PrivateSigningKey, generate_signing_key, import_public_jwk, load_private_key
from namoid.oauth.client_auth import JWT_BEARER
from namoid.services import Services
from namoid.storage.db import Database
from namoid.storage.models import Client, Organization
from tests.features.conftest import MakeClient, RegisteredClient
from tests.features.token.conftest import audit_rows, basic, issuer, post

CC = {"grant_type": "client_credentials"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())


@dataclass
class KeyClient:
    registered: RegisteredClient
    key: PrivateSigningKey
    public_jwk: dict[str, Any]

    @property
    def client_id(self) -> str:
        return self.registered.client_id


def _key(alg: str = "RS256") -> tuple[PrivateSigningKey, dict[str, Any]]:
    new = generate_signing_key(alg)  # type: ignore[arg-type]
    return load_private_key(new.kid, new.alg, new.private_pem), new.public_jwk


@pytest.fixture
async def key_client(make_client: MakeClient) -> KeyClient:
    key, public = _key()
    registered = await make_client(
        auth_method="private_key_jwt",
        jwks={"keys": [public]},
        grant_types=["client_credentials"],
        redirect_uris=[],
    )
    return KeyClient(registered, key, public)


def _claims(services: Services, org: Organization, client_id: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": issuer(services, org),
        "iat": now,
        "exp": now + 60,
        "jti": new_token(16),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _assertion_form(assertion: str) -> dict[str, str]:
    return {**CC, "client_assertion_type": JWT_BEARER, "client_assertion": assertion}


async def test_client_secret_basic(
    http: httpx.AsyncClient, org: Organization, service_client: RegisteredClient
) -> None:
    response = await post(http, org, "token", CC, service_client)
    assert response.status_code == 200, response.text


async def test_client_secret_post(
    http: httpx.AsyncClient, org: Organization, make_client: MakeClient
) -> None:
    client = await make_client(
        auth_method="client_secret_post", grant_types=["client_credentials"], redirect_uris=[]
    )
    response = await post(http, org, "token", CC, client)
    assert response.status_code == 200, response.text


async def test_wrong_secret_is_401_with_a_basic_challenge(
    http: httpx.AsyncClient, services: Services, org: Organization, service_client: RegisteredClient
) -> None:
    response = await http.post(
        f"/o/{org.slug}/token", data=CC, headers=basic(service_client.client_id, "wrong-secret")
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"] == f'Basic realm="{issuer(services, org)}"'
    assert response.headers["cache-control"] == "no-store"
    rows = await audit_rows(services, org, "client.authentication_failed")
    assert rows and rows[0].outcome == "denied" and rows[0].actor_id == service_client.client_id
    assert "wrong-secret" not in json.dumps(rows[0].detail)


async def test_basic_for_a_post_client_and_post_for_a_basic_client_fail(
    http: httpx.AsyncClient, org: Organization, make_client: MakeClient, service_client: RegisteredClient
) -> None:
    post_client = await make_client(
        auth_method="client_secret_post", grant_types=["client_credentials"], redirect_uris=[]
    )
    as_basic = await http.post(
        f"/o/{org.slug}/token", data=CC, headers=basic(post_client.client_id, post_client.secret)
    )
    assert as_basic.status_code == 401 and as_basic.json()["error"] == "invalid_client"
    as_post = await http.post(
        f"/o/{org.slug}/token",
        data={**CC, "client_id": service_client.client_id, "client_secret": service_client.secret or ""},
    )
    assert as_post.status_code == 401 and as_post.json()["error"] == "invalid_client"


async def test_two_methods_at_once_is_invalid_request(
    http: httpx.AsyncClient, org: Organization, service_client: RegisteredClient
) -> None:
    data = {**CC, "client_id": service_client.client_id, "client_secret": service_client.secret or ""}
    response = await http.post(
        f"/o/{org.slug}/token", data=data, headers=basic(service_client.client_id, service_client.secret)
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


async def test_unknown_and_disabled_clients_fail(
    http: httpx.AsyncClient, services: Services, org: Organization, service_client: RegisteredClient
) -> None:
    unknown = await http.post(f"/o/{org.slug}/token", data=CC, headers=basic("nobody", "secret"))
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"
    async with services.db.tenant(org.id) as session:
        row = await session.get(Client, service_client.client.id)
        assert row is not None
        row.status = "disabled"
    disabled = await post(http, org, "token", CC, service_client)
    assert disabled.status_code == 401 and disabled.json()["error"] == "invalid_client"


async def test_no_authentication_at_all_is_invalid_client(http: httpx.AsyncClient, org: Organization) -> None:
    response = await http.post(f"/o/{org.slug}/token", data=CC)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


async def test_a_public_client_cannot_pretend_to_be_confidential(
    http: httpx.AsyncClient, org: Organization, service_client: RegisteredClient
) -> None:
    """Sending only the client_id of a confidential client (method none) fails."""
    response = await http.post(f"/o/{org.slug}/token", data={**CC, "client_id": service_client.client_id})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


async def test_private_key_jwt(
    http: httpx.AsyncClient, services: Services, org: Organization, key_client: KeyClient
) -> None:
    """draft-ietf-oauth-rfc7523bis: the issuer identifier, as a string or a one-element array."""
    for audience in (issuer(services, org), [issuer(services, org)]):
        claims = _claims(services, org, key_client.client_id, aud=audience)
        response = await http.post(
            f"/o/{org.slug}/token", data=_assertion_form(jwt.sign(claims, key_client.key))
        )
        assert response.status_code == 200, response.text
        assert response.json()["access_token"]


def _audiences_refused(iss: str) -> list[object]:
    """Anything but the issuer as the sole audience: an assertion another server could use too,
    or one collected by a server that published our endpoints as its own."""
    return [
        iss + "/token",
        iss + "/revoke",
        ["https://evil.example", iss],
        [iss, "https://evil.example"],
        [iss, iss],
        [iss + "/token"],
        [{"iss": iss}],
        [],
        iss + "/",
    ]


async def test_private_key_jwt_refuses_any_other_audience(
    services: Services, org: Organization, key_client: KeyClient
) -> None:
    app = create_public_app(services)
    for n, audience in enumerate(_audiences_refused(issuer(services, org))):
        claims = _claims(services, org, key_client.client_id, aud=audience)
        # One address per attempt: failed authentications from one address are refused after
        # five (client_auth.failures_client_ip), and this test is about each refusal's reason.
        transport = httpx.ASGITransport(app=app, client=(f"203.0.113.{100 + n}", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=services.settings.base_url) as http:
            response = await http.post(
                f"/o/{org.slug}/token", data=_assertion_form(jwt.sign(claims, key_client.key))
            )
        assert response.status_code == 401, (audience, response.text)
        assert response.json()["error"] == "invalid_client"


async def test_private_key_jwt_with_a_client_id_parameter(
    http: httpx.AsyncClient, services: Services, org: Organization, key_client: KeyClient
) -> None:
    assertion = jwt.sign(_claims(services, org, key_client.client_id), key_client.key)
    data = {**_assertion_form(assertion), "client_id": key_client.client_id}
    assert (await http.post(f"/o/{org.slug}/token", data=data)).status_code == 200


async def test_replayed_client_assertion_is_refused(
    http: httpx.AsyncClient, services: Services, org: Organization, key_client: KeyClient
) -> None:
    assertion = jwt.sign(_claims(services, org, key_client.client_id), key_client.key)
    first = await http.post(f"/o/{org.slug}/token", data=_assertion_form(assertion))
    assert first.status_code == 200
    again = await http.post(f"/o/{org.slug}/token", data=_assertion_form(assertion))
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"


def _hs256_with_public_key(public_jwk: dict[str, Any], claims: dict[str, Any]) -> str:
    """The classic key-confusion attack: HMAC keyed with the RSA public key's PEM."""
    pem = import_public_jwk(public_jwk).as_pem(private=False)
    signing_input = _unsigned({"alg": "HS256", "typ": "JWT"}, claims)
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


@pytest.mark.parametrize(
    "attack",
    [
        "wrong_audience",
        "expired",
        "too_long_lived",
        "not_yet_valid",
        "no_jti",
        "no_exp",
        "issuer_differs",
        "alg_none",
        "hs256_public_key",
        "other_key",
        "tampered",
    ],
)
async def test_bad_client_assertions_are_invalid_client(
    http: httpx.AsyncClient, services: Services, org: Organization, key_client: KeyClient, attack: str
) -> None:
    now = int(time.time())
    cid = key_client.client_id
    claims = _claims(services, org, cid)
    key = key_client.key
    if attack == "wrong_audience":
        claims["aud"] = "https://other.example/token"
    elif attack == "expired":
        claims.update(iat=now - 400, exp=now - 120)
    elif attack == "too_long_lived":
        claims["exp"] = now + 3600
    elif attack == "not_yet_valid":
        claims.update(nbf=now + 600, exp=now + 660)
    elif attack == "no_jti":
        del claims["jti"]
    elif attack == "no_exp":
        del claims["exp"]
    elif attack == "issuer_differs":
        claims["iss"] = "someone-else"
    elif attack == "other_key":
        key = _key()[0]
    if attack == "alg_none":
        assertion = _unsigned({"alg": "none"}, claims) + "."
    elif attack == "hs256_public_key":
        assertion = _hs256_with_public_key(key_client.public_jwk, claims)
    else:
        assertion = jwt.sign(claims, key)
    if attack == "tampered":
        head, payload, sig = assertion.split(".")
        forged = json.loads(base64.urlsafe_b64decode(payload + "=="))
        forged["exp"] += 1
        assertion = f"{head}.{_b64(json.dumps(forged).encode())}.{sig}"
    response = await http.post(f"/o/{org.slug}/token", data=_assertion_form(assertion))
    assert response.status_code == 401, attack
    assert response.json()["error"] == "invalid_client"
    rows = await audit_rows(services, org, "client.authentication_failed")
    assert rows and assertion not in json.dumps(rows[0].detail)


async def test_a_secret_client_cannot_use_an_assertion(
    http: httpx.AsyncClient, services: Services, org: Organization, service_client: RegisteredClient
) -> None:
    key, _ = _key()
    assertion = jwt.sign(_claims(services, org, service_client.client_id), key)
    response = await http.post(f"/o/{org.slug}/token", data=_assertion_form(assertion))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def _revoke_form(services: Services, org: Organization, key_client: KeyClient, aud: object) -> dict[str, str]:
    claims = _claims(services, org, key_client.client_id, aud=aud)
    return {
        "token": "whatever",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": jwt.sign(claims, key_client.key),
    }


async def test_assertion_at_the_revocation_and_introspection_endpoints(
    http: httpx.AsyncClient, services: Services, org: Organization, key_client: KeyClient
) -> None:
    """The issuer is the audience at every endpoint, not the endpoint's own URL."""
    iss = issuer(services, org)
    assert (
        await http.post(f"/o/{org.slug}/revoke", data=_revoke_form(services, org, key_client, iss))
    ).status_code == 200
    for endpoint in ("revoke", "introspect"):
        data = _revoke_form(services, org, key_client, f"{iss}/{endpoint}")
        assert (await http.post(f"/o/{org.slug}/{endpoint}", data=data)).status_code == 401, endpoint


@pytest.fixture
async def legacy_http(services: Services, keyring_file: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app with NAMOID_CLIENT_ASSERTION_LEGACY_AUDIENCE=1, on the same database."""
    settings = services.settings.model_copy(update={"client_assertion_legacy_audience": True})
    legacy = Services(
        settings=settings, db=Database(settings.resolved_database_url), keyring=Keyring.load(keyring_file)
    )
    transport = httpx.ASGITransport(app=create_public_app(legacy), client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as client:
        yield client
    await legacy.close()


async def test_legacy_audience_setting(
    legacy_http: httpx.AsyncClient, services: Services, org: Organization, key_client: KeyClient
) -> None:
    """The compatibility setting accepts the token endpoint, or the endpoint used, as the sole
    audience; never a list naming anyone else."""
    iss = issuer(services, org)
    accepted = [
        (f"{iss}/token", "token"),
        (f"{iss}/revoke", "revoke"),
        ([f"{iss}/token"], "token"),
        (iss, "token"),
    ]
    for audience, endpoint in accepted:
        form = _revoke_form(services, org, key_client, audience) | CC
        response = await legacy_http.post(f"/o/{org.slug}/{endpoint}", data=form)
        assert response.status_code == 200, (audience, response.text)
    refused = [
        (f"{iss}/revoke", "introspect"),
        (["https://evil.example", f"{iss}/token"], "token"),
        ([iss, iss], "token"),
    ]
    for audience, endpoint in refused:
        form = _revoke_form(services, org, key_client, audience) | CC
        response = await legacy_http.post(f"/o/{org.slug}/{endpoint}", data=form)
        assert response.status_code == 401, (audience, endpoint, response.text)
