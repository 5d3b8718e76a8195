"""Discovery (OIDC Discovery 1.0, RFC 8414) and the JWKS (RFC 7517) of each org issuer."""

from __future__ import annotations

import re

import httpx
import pytest

from namoid.jose.keys import Algorithm, generate_signing_key, import_public_jwk, load_private_key
from namoid.oauth.discovery import JWKS_MAX_AGE, public_jwk
from namoid.services import Services
from namoid.storage.models import Organization
from namoid.tenancy.resolve import issuer_for
from tests.features.conftest import MakeClient

PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


def _max_age(response: httpx.Response) -> int:
    cache_control = response.headers["cache-control"]
    assert cache_control.startswith("public")
    match = re.search(r"max-age=(\d+)", cache_control)
    assert match, cache_control
    return int(match.group(1))


async def test_openid_configuration_is_truthful(
    http: httpx.AsyncClient, org: Organization, services: Services
) -> None:
    issuer = issuer_for(services.settings.base_url, org.slug)
    response = await http.get(f"/o/{org.slug}/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert 0 < _max_age(response) <= 3600
    meta = response.json()
    assert meta["issuer"] == issuer == f"https://localhost:8443/o/{org.slug}"
    for name, path in {
        "authorization_endpoint": "authorize",
        "token_endpoint": "token",
        "userinfo_endpoint": "userinfo",
        "jwks_uri": "jwks.json",
        "revocation_endpoint": "revoke",
        "introspection_endpoint": "introspect",
        "end_session_endpoint": "logout",
    }.items():
        assert meta[name] == f"{issuer}/{path}"
    assert meta["response_types_supported"] == ["code"]
    assert meta["response_modes_supported"] == ["query", "form_post"]
    assert meta["grant_types_supported"] == ["authorization_code", "refresh_token", "client_credentials"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["subject_types_supported"] == ["public"]
    assert meta["id_token_signing_alg_values_supported"] == ["RS256", "PS256", "ES256"]
    assert meta["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    ]
    assert meta["token_endpoint_auth_signing_alg_values_supported"] == ["RS256", "PS256", "ES256"]
    assert "none" not in meta["introspection_endpoint_auth_methods_supported"]
    assert meta["scopes_supported"] == ["openid", "profile", "email", "phone", "offline_access"]
    assert {"sub", "iss", "aud", "nonce", "at_hash", "sid", "email_verified"} <= set(meta["claims_supported"])
    assert meta["prompt_values_supported"] == ["none", "login", "consent"]
    assert meta["claims_parameter_supported"] is True  # for verified_claims (issue 14)
    for flag in (
        "request_parameter_supported",
        "request_uri_parameter_supported",
        "frontchannel_logout_supported",
        "backchannel_logout_supported",
    ):
        assert meta[flag] is False


async def test_nothing_insecure_is_advertised(http: httpx.AsyncClient, org: Organization) -> None:
    meta = (await http.get(f"/o/{org.slug}/.well-known/openid-configuration")).json()
    assert not {"implicit", "password"} & set(meta["grant_types_supported"])
    assert "plain" not in meta["code_challenge_methods_supported"]
    for key, value in meta.items():
        if key.endswith("alg_values_supported"):
            assert "none" not in value and not any(alg.startswith("HS") for alg in value), key
    assert all(url.startswith("https://") for key, url in meta.items() if key.endswith(("_endpoint", "_uri")))


async def test_rfc8414_metadata_is_the_same_document(
    http: httpx.AsyncClient, org: Organization, services: Services
) -> None:
    oidc = await http.get(f"/o/{org.slug}/.well-known/openid-configuration")
    rfc8414 = await http.get(f"/.well-known/oauth-authorization-server/o/{org.slug}")
    assert rfc8414.status_code == 200
    # RFC 8414 §3.3: the issuer must be identical to the one the metadata was requested for.
    assert rfc8414.json()["issuer"] == issuer_for(services.settings.base_url, org.slug)
    assert rfc8414.json() == oidc.json()
    assert rfc8414.headers["cache-control"] == oidc.headers["cache-control"]


@pytest.mark.parametrize(
    "path",
    [
        "/o/{missing}/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server/o/{missing}",
        "/o/{missing}/jwks.json",
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server/o/",
    ],
)
async def test_unknown_org_is_404(http: httpx.AsyncClient, path: str) -> None:
    response = await http.get(path.format(missing="no-such-org-" + "x" * 8))
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_issuers_of_two_orgs_differ(
    http: httpx.AsyncClient, org: Organization, services: Services
) -> None:
    from namoid.tenancy import organizations
    from tests.features.conftest import ADMIN

    other = await organizations.create(services.db, services.keyring, f"{org.slug}-b", None, ADMIN)
    first = (await http.get(f"/o/{org.slug}/.well-known/openid-configuration")).json()
    second = (await http.get(f"/o/{other.slug}/.well-known/openid-configuration")).json()
    assert first["issuer"] != second["issuer"] and first["jwks_uri"] != second["jwks_uri"]
    first_kids = {k["kid"] for k in (await http.get(f"/o/{org.slug}/jwks.json")).json()["keys"]}
    second_kids = {k["kid"] for k in (await http.get(f"/o/{other.slug}/jwks.json")).json()["keys"]}
    assert first_kids and second_kids and not first_kids & second_kids


async def test_jwks_publishes_public_keys_only_for_every_algorithm(
    http: httpx.AsyncClient, org: Organization, make_client: MakeClient
) -> None:
    await make_client(id_token_alg="PS256")
    await make_client(id_token_alg="ES256")
    response = await http.get(f"/o/{org.slug}/jwks.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert _max_age(response) == JWKS_MAX_AGE
    keys = response.json()["keys"]
    assert sorted(k["alg"] for k in keys) == ["ES256", "PS256", "RS256"]
    for jwk in keys:
        assert not [m for m in PRIVATE_MEMBERS if m in jwk], jwk
        assert jwk["use"] == "sig"
        key = import_public_jwk(jwk)  # refuses private members
        assert key.thumbprint() == jwk["kid"]  # RFC 7638
        assert not key.is_private
    for private in PRIVATE_MEMBERS:
        assert f'"{private}"' not in response.text


@pytest.mark.parametrize(
    ("alg", "members"),
    [("RS256", {"kty", "n", "e"}), ("PS256", {"kty", "n", "e"}), ("ES256", {"kty", "crv", "x", "y"})],
)
def test_public_jwk_is_an_allow_list(alg: Algorithm, members: set[str]) -> None:
    new = generate_signing_key(alg)
    private = load_private_key(new.kid, alg, new.private_pem).key.as_dict(private=True)
    assert set(private) & set(PRIVATE_MEMBERS)
    extra = {"kid": new.kid, "alg": alg, "use": "sig", "x5c": ["..."]}
    assert set(public_jwk(private | extra)) == members | {"kid", "alg", "use"}
